"""The org chart (组织架构) imported from CSV (design §10); department chats are in departments.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from bot.models import Department, Employee, Identity, Role
from bot.notices import imports as texts
from bot.platforms import PLATFORMS, identity_columns
from bot.services.csvfile import (
    CsvFormatError,
    CsvRow,
    ImportReport,
    Outcome,
    RowOutcome,
    read_csv,
)

BASE_ORG_COLUMNS = ("employee_no", "name", "department", "role", "supervisor_no")


def org_columns() -> tuple[str, ...]:
    """The org CSV's columns: the base ones, then each platform's user id (design §10)."""
    return BASE_ORG_COLUMNS + tuple(identity_columns().values())


def org_header(platforms: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]:
    """(required, optional, aliases) of the org CSV when `platforms` are in use: only their id
    columns are required; headers may be Chinese (工号, 姓名, …, 企业微信账号)."""
    ids = identity_columns()
    used = [ids[p] for p in platforms if p in ids]
    required = BASE_ORG_COLUMNS + tuple(used)
    optional = (*(c for c in ids.values() if c not in used), "preferred_platform")
    aliases = dict(texts.ORG_COLUMN_ALIASES)
    for name, column in ids.items():
        aliases.update(dict.fromkeys((h.format(label=PLATFORMS[name].label)
                                      for h in texts.PLATFORM_ID_HEADERS), column))  # fmt: skip
    return required, optional, aliases


ROLES = tuple(r.value for r in Role)

# Column widths from bot/models.py: checked here so PostgreSQL never sees an over-long value.
MAX_EMPLOYEE_NO = 50
MAX_NAME = 100
MAX_PATH = 200
MAX_SEGMENT = 100
MAX_EXTERNAL_ID = 100


def normalize_path(raw: str) -> str:
    """`冲压车间 / 一班` → `冲压车间/一班`; empty segments are dropped."""
    return "/".join(s.strip() for s in raw.split("/") if s.strip())


def path_problem(path: str) -> str | None:
    """Why a normalized department path cannot be stored, or None."""
    if len(path) > MAX_PATH:
        return texts.PATH_TOO_LONG.format(limit=MAX_PATH)
    if any(len(s) > MAX_SEGMENT for s in path.split("/")):
        return texts.SEGMENT_TOO_LONG.format(limit=MAX_SEGMENT)
    return None


class DepartmentTree:
    """Departments by path, creating missing ones together with all their ancestors."""

    def __init__(self, session: Session):
        self.session = session
        self.by_path = {d.path: d for d in session.scalars(select(Department))}

    def ensure(self, path: str) -> tuple[Department, bool]:
        """The department at `path` and whether it had to be created."""
        found = self.by_path.get(path)
        if found is not None:
            return found, False
        parent = None
        segments = path.split("/")
        for depth, name in enumerate(segments, start=1):
            prefix = "/".join(segments[:depth])
            dept = self.by_path.get(prefix)
            if dept is None:
                parent_id = parent.id if parent is not None else None
                dept = Department(path=prefix, name=name, parent_id=parent_id)
                self.session.add(dept)
                self.session.flush()  # the child row needs this id
                self.by_path[prefix] = dept
            parent = dept
        assert parent is not None
        return parent, True


_KEEP = object()  # preferred_platform column absent: leave the field as it is


@dataclass
class _OrgRow:
    line: int
    employee_no: str
    name: str
    department: str | None
    role: str
    supervisor_no: str | None
    ids: dict[str, str]
    preferred_platform: object


def _parse_org_row(row: CsvRow, has_preferred: bool) -> tuple[_OrgRow, list[str]]:
    """The row's values and its field errors (empty list when valid)."""
    v = row.values
    errors = []
    employee_no, name = v["employee_no"], v["name"]
    if not employee_no:
        errors.append(texts.NO_EMPLOYEE_NO)
    elif len(employee_no) > MAX_EMPLOYEE_NO:
        errors.append(texts.EMPLOYEE_NO_TOO_LONG.format(limit=MAX_EMPLOYEE_NO))
    if not name:
        errors.append(texts.NO_NAME)
    elif len(name) > MAX_NAME:
        errors.append(texts.NAME_TOO_LONG.format(limit=MAX_NAME))
    department = normalize_path(v["department"]) or None
    if department and (problem := path_problem(department)):
        errors.append(problem)
    role = texts.ROLE_WORDS.get(v["role"], v["role"].lower()) or Role.WORKER.value
    if role not in ROLES:
        errors.append(texts.BAD_ROLE.format(roles=", ".join(ROLES), value=v["role"]))
    id_columns = identity_columns()
    ids = {p: v[c] for p, c in id_columns.items() if v[c]}
    for platform, external_id in ids.items():
        if len(external_id) > MAX_EXTERNAL_ID:
            errors.append(
                texts.ID_TOO_LONG.format(column=id_columns[platform], limit=MAX_EXTERNAL_ID)
            )
    preferred: object = _KEEP
    if has_preferred:
        labels = {spec.label: name for name, spec in PLATFORMS.items()}
        preferred = labels.get(v["preferred_platform"], v["preferred_platform"].lower()) or None
        if preferred is not None and preferred not in PLATFORMS:
            errors.append(
                texts.BAD_PLATFORM.format(
                    platforms=", ".join(PLATFORMS), value=v["preferred_platform"]
                )
            )
    parsed = _OrgRow(
        line=row.line,
        employee_no=employee_no,
        name=name,
        department=department,
        role=role,
        supervisor_no=v["supervisor_no"] or None,
        ids=ids,
        preferred_platform=preferred,
    )
    return parsed, errors


def _find_cycles(graph: dict[str, str | None], starts: Iterable[str]) -> list[list[str]]:
    """Each supervisor cycle reachable from `starts`, once, as the list of its members in order."""
    cycles = []
    done: set[str] = set()
    for start in starts:
        path: list[str] = []
        index: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node not in index:
            index[node] = len(path)
            path.append(node)
            node = graph.get(node)
        if node is not None and node in index:
            cycles.append(path[index[node] :])
        done.update(path)
    return cycles


def _validate_org(
    session: Session, rows: list[_OrgRow], errors: dict[int, list[str]]
) -> dict[str, _OrgRow]:
    """Cross-row checks (duplicates, identities, supervisors, cycles); returns accepted rows by no."""
    by_no: dict[str, list[_OrgRow]] = {}
    for r in rows:
        if r.employee_no:
            by_no.setdefault(r.employee_no, []).append(r)
    for no, same in by_no.items():
        if len(same) > 1:
            lines = ", ".join(str(r.line) for r in same)
            for r in same:
                errors[r.line].append(texts.DUPLICATE_EMPLOYEE.format(no=no, lines=lines))

    # Platform ids: held by another employee in the database, or given to two people in the file.
    owner_rows = session.execute(
        select(Identity.platform, Identity.external_id, Employee.employee_no).join(
            Employee, Identity.employee_id == Employee.id
        )
    )
    db_owner = {(p, x): no for p, x, no in owner_rows}
    in_file: dict[tuple[str, str], list[_OrgRow]] = {}
    for r in rows:
        for platform, external_id in r.ids.items():
            in_file.setdefault((platform, external_id), []).append(r)
    for (platform, external_id), holders in in_file.items():
        column = identity_columns()[platform]
        if len({r.employee_no for r in holders}) > 1:
            lines = ", ".join(str(r.line) for r in holders)
            for r in holders:
                errors[r.line].append(
                    texts.DUPLICATE_ID.format(column=column, external_id=external_id, lines=lines)
                )
        owner = db_owner.get((platform, external_id))
        for r in holders:
            if owner is not None and owner != r.employee_no:
                errors[r.line].append(
                    texts.ID_TAKEN.format(column=column, external_id=external_id, owner=owner)
                )

    # Supervisors: resolved against the file and the database together, so row order is free.
    # Rejecting a row reverts that person to their database state, which may create new
    # problems elsewhere, so repeat until nothing changes.
    boss = aliased(Employee)
    db_supervisor: dict[str, str | None] = dict(
        session.execute(
            select(Employee.employee_no, boss.employee_no).outerjoin(
                boss, Employee.supervisor_id == boss.id
            )
        ).all()
    )
    line_of = {no: same[0].line for no, same in by_no.items()}
    while True:
        accepted = {r.employee_no: r for r in rows if not errors[r.line]}
        changed = False
        for r in accepted.values():
            s = r.supervisor_no
            if s is None or s in accepted or s in db_supervisor:
                continue
            if s in line_of:
                errors[r.line].append(texts.SUPERVISOR_REJECTED.format(no=s, line=line_of[s]))
            else:
                errors[r.line].append(texts.UNKNOWN_SUPERVISOR.format(no=s))
            changed = True
        if changed:
            continue
        graph = dict(db_supervisor)
        graph.update({no: r.supervisor_no for no, r in accepted.items()})
        for cycle in _find_cycles(graph, accepted):
            loop = " → ".join([*cycle, cycle[0]])
            for no in cycle:
                if no in accepted:
                    errors[accepted[no].line].append(texts.SUPERVISOR_CYCLE.format(loop=loop))
                    changed = True
        if not changed:
            return accepted


def set_if_changed(obj: object, attr: str, value: object) -> bool:
    """Set an attribute if it differs; True when it changed."""
    if getattr(obj, attr) == value:
        return False
    setattr(obj, attr, value)
    return True


def import_org(
    session: Session, text: str, *, now: datetime, platforms: Iterable[str] = ()
) -> ImportReport:
    """Create or update departments, employees and their platform identities from an org CSV;
    all or nothing, like the rule import.

    Idempotent. If any row is rejected nothing is changed (`applied` False), and `rows` still
    says what every other row would have done, so HR fixes the file once. Only the id columns
    of `platforms` (the messengers in use) are required; Chinese headers are accepted; unknown
    columns are reported in `ignored_columns`. An empty id cell leaves an existing identity
    alone; a new id for a platform replaces the employee's old one. An id held by someone else
    in the database is refused even if the file moves it away from them (import the release
    first). Employees missing from the file are left as they are.
    """
    required, optional, aliases = org_header(platforms)
    try:
        table = read_csv(text, required, optional, aliases)
    except CsvFormatError as exc:
        return ImportReport(rejected=[(exc.line, str(exc))], applied=False)
    has_preferred = "preferred_platform" in table.columns
    rows: list[_OrgRow] = []
    errors: dict[int, list[str]] = {}
    for csv_row in table.rows:
        parsed, row_errors = _parse_org_row(csv_row, has_preferred)
        rows.append(parsed)
        errors[parsed.line] = row_errors
    accepted = _validate_org(session, rows, errors)
    report = ImportReport(
        rejected=[(line, "; ".join(errs)) for line, errs in errors.items() if errs],
        ignored_columns=table.extra,
    )
    # Applied inside a savepoint, so a file with errors still reports what each good row would
    # do (the console's preview) and then leaves no trace.
    savepoint = session.begin_nested()
    outcomes = _apply_org(session, accepted, report, now)
    for r in rows:
        if errors[r.line]:
            report.rows.append(
                RowOutcome(r.line, r.employee_no, Outcome.REJECTED, "; ".join(errors[r.line]))
            )
        else:
            report.rows.append(outcomes[r.employee_no])
    if report.rejected:
        savepoint.rollback()
        report.applied = False
        report.created = report.updated = report.unchanged = 0  # counts are of what was done
    else:
        savepoint.commit()
    return report


def _apply_org(
    session: Session, accepted: dict[str, _OrgRow], report: ImportReport, now: datetime
) -> dict[str, RowOutcome]:
    """Write the accepted rows; count them in `report` and return each one's outcome."""
    outcomes: dict[str, RowOutcome] = {}
    tree = DepartmentTree(session)
    departments = {
        r.department: tree.ensure(r.department)[0] for r in accepted.values() if r.department
    }
    existing = {
        e.employee_no: e
        for e in session.scalars(
            select(Employee)
            .where(Employee.employee_no.in_(list(accepted)))
            .options(selectinload(Employee.identities))
        )
    }
    people: dict[str, Employee] = dict(existing)
    for no, r in accepted.items():
        if no not in existing:
            people[no] = Employee(
                employee_no=no,
                name=r.name,
                role=r.role,
                department_id=departments[r.department].id if r.department else None,
                active=True,
                preferred_platform=None if r.preferred_platform is _KEEP else r.preferred_platform,
                created_at=now,
            )
            session.add(people[no])
    session.flush()

    supervisors: dict[str, Employee] = {}
    wanted = {r.supervisor_no for r in accepted.values() if r.supervisor_no} - set(people)
    if wanted:
        supervisors = {
            e.employee_no: e
            for e in session.scalars(select(Employee).where(Employee.employee_no.in_(wanted)))
        }
    supervisors.update(people)

    for no, r in accepted.items():
        employee = people[no]
        changed = [a for a in ("name", "role") if set_if_changed(employee, a, getattr(r, a))]
        dept_id = departments[r.department].id if r.department else None
        changed += ["department"] if set_if_changed(employee, "department_id", dept_id) else []
        sup_id = supervisors[r.supervisor_no].id if r.supervisor_no else None
        changed += ["supervisor_no"] if set_if_changed(employee, "supervisor_id", sup_id) else []
        if r.preferred_platform is not _KEEP and set_if_changed(
            employee, "preferred_platform", r.preferred_platform
        ):
            changed.append("preferred_platform")
        changed += _sync_identities(session, employee, r.ids)
        if no not in existing:
            report.created += 1
            outcomes[no] = RowOutcome(r.line, no, Outcome.CREATED)
        elif changed:
            report.updated += 1
            outcomes[no] = RowOutcome(r.line, no, Outcome.UPDATED, ", ".join(changed))
        else:
            report.unchanged += 1
            outcomes[no] = RowOutcome(r.line, no, Outcome.UNCHANGED)
    session.flush()
    return outcomes


def _sync_identities(session: Session, employee: Employee, ids: dict[str, str]) -> list[str]:
    """Give the employee exactly these ids on the platforms named; the columns that changed."""
    changed = []
    for platform, external_id in ids.items():
        mine = [i for i in employee.identities if i.platform == platform]
        if any(i.external_id == external_id for i in mine):
            continue
        if mine:
            mine[0].external_id = external_id
        else:
            session.add(Identity(employee=employee, platform=platform, external_id=external_id))
        changed.append(identity_columns()[platform])
    return changed


def export_org(session: Session) -> tuple[tuple[str, ...], list[list[str]]]:
    """Active employees as org CSV (header, rows), in the import's own columns, so a file
    exported, edited and imported back changes only what was edited."""
    header = (*org_columns(), "preferred_platform")
    boss = aliased(Employee)
    query = (
        select(Employee, Department.path, boss.employee_no)
        .outerjoin(Department, Department.id == Employee.department_id)
        .outerjoin(boss, boss.id == Employee.supervisor_id)
        .where(Employee.active.is_(True))
        .options(selectinload(Employee.identities))
    )
    id_columns = identity_columns()
    rows = []
    for employee, path, boss_no in session.execute(query):
        ids = {
            id_columns[i.platform]: i.external_id
            for i in employee.identities
            if i.platform in id_columns
        }
        base = [employee.employee_no, employee.name, path or "", employee.role, boss_no or ""]
        rows.append(
            [
                *base,
                *(ids.get(c, "") for c in id_columns.values()),
                employee.preferred_platform or "",
            ]
        )
    return header, sorted(rows, key=lambda r: r[0])
