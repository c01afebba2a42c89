"""Reading the HR data files (CSV, UTF-8 with or without BOM) and reporting an import by line."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.notices import imports as texts


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

    def summary(self) -> str:
        """One line per rejected row, then a totals line."""
        lines = [f"line {line}: {reason}" for line, reason in sorted(self.rejected)]
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
    """The columns of the header row and the data rows under it."""

    columns: tuple[str, ...]
    rows: list[CsvRow]


def read_csv(text: str, required: Sequence[str]) -> CsvTable:
    """Parse CSV text (optional BOM, header row, extra columns ignored, blank rows skipped).

    Header names are matched case-insensitively; cells are stripped; short rows read as empty cells.
    Raises: CsvFormatError when the file is empty or the header lacks a required column.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFormatError(1, texts.EMPTY_FILE) from None
    except csv.Error as exc:
        raise CsvFormatError(1, texts.UNREADABLE.format(error=exc)) from None
    columns = tuple(h.strip().lower() for h in header)
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
        values = {c: "" for c in columns}
        for column, cell in zip(columns, cells, strict=False):
            # The first of two same-named columns wins; later ones are treated as extras.
            if column and not values[column]:
                values[column] = cell.strip()
        if any(values.values()):
            rows.append(CsvRow(line, values))
    return CsvTable(columns, rows)
