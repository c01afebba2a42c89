"""Reading the HR data files (CSV, UTF-8 with or without BOM) and reporting an import by line."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.notices import imports as texts


class Outcome:
    """What an import did, or would do, to one row."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """One data row's outcome: its line, its key (code, employee_no), and for a rejected row
    the reasons, for an updated one the fields that change."""

    line: int
    key: str
    outcome: str
    detail: str = ""


@dataclass
class ImportReport:
    """What an import did: counts of data rows, and the rejected rows with line numbers (header = 1)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    removed: int = 0  # rows an import took away (module owners no longer listed)
    # False when nothing at all was changed: a bad header, or an all-or-nothing import with errors.
    applied: bool = True
    # Every data row's outcome in file order (what a preview shows before applying).
    rows: list[RowOutcome] = field(default_factory=list)
    # Header columns the import does not know and ignored, as written in the file.
    ignored_columns: tuple[str, ...] = ()

    def summary(self) -> str:
        """The ignored columns, one line per rejected row, then a totals line."""
        lines = []
        if self.ignored_columns:
            lines.append(texts.IGNORED_COLUMNS.format(columns=", ".join(self.ignored_columns)))
        lines += [f"line {line}: {reason}" for line, reason in sorted(self.rejected)]
        if not self.applied:
            n = len(self.rejected)
            lines.append(texts.NOTHING_CHANGED.format(n=n))
        else:
            c, u, s, r = self.created, self.updated, self.unchanged, len(self.rejected)
            lines.append(texts.TOTALS.format(c=c, u=u, s=s, r=r))
            if self.removed:
                lines[-1] += texts.REMOVED.format(n=self.removed)
        return "\n".join(lines)


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (no header, missing columns); `line` is where."""

    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: its first line number in the file and its stripped cells by column name."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class CsvTable:
    """The known columns of the header row (canonical names), the data rows under it, and the
    header cells that matched no column (as written)."""

    columns: tuple[str, ...]
    rows: list[CsvRow]
    extra: tuple[str, ...] = ()


def read_csv(
    text: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> CsvTable:
    """Parse CSV text (optional BOM, header row, blank rows skipped).

    Header names are matched case-insensitively, directly or through `aliases` (e.g. a Chinese
    header: 工号 → employee_no). With `optional` given, only required and optional columns are
    kept and any other header is listed in `extra`; without it, unknown columns are kept
    (ignored by the caller). Every required and optional column is in each row's values (empty
    when absent); cells are stripped; short rows read as empty cells.
    Raises: CsvFormatError when the file is empty or the header lacks a required column.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFormatError(1, texts.EMPTY_FILE) from None
    except csv.Error as exc:
        raise CsvFormatError(1, texts.UNREADABLE.format(error=exc)) from None
    known = {c.lower(): c for c in (*required, *optional)}
    names = {k.strip().lower(): v for k, v in (aliases or {}).items()}
    columns: list[str] = []
    extra: list[str] = []
    for cell in header:
        raw = cell.strip()
        name = names.get(raw.lower(), raw.lower())
        if optional and name not in known:
            columns.append("")
            if raw:
                extra.append(raw)
        else:
            columns.append(name)
    missing = [c for c in required if c not in columns]
    if missing:
        raise CsvFormatError(1, texts.MISSING_COLUMNS.format(columns=", ".join(missing)))
    rows: list[CsvRow] = []
    last_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvFormatError(last_line + 1, texts.UNREADABLE.format(error=exc)) from None
        line, last_line = last_line + 1, reader.line_num
        values = dict.fromkeys((*required, *optional), "") | {c: "" for c in columns if c}
        for column, cell in zip(columns, cells, strict=False):
            # The first of two same-named columns wins; later ones are treated as extras.
            if column and not values[column]:
                values[column] = cell.strip()
        if any(values.values()):
            rows.append(CsvRow(line, values))
    present = tuple(dict.fromkeys(c for c in columns if c))
    return CsvTable(present, rows, tuple(extra))
