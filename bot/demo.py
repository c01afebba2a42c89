"""The demo factory seeded into an empty database by `python -m bot run`."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Campaign, Change, Department, Employee, ModuleOwner, Reward, RewardKind, Role
from bot.services.changes import ChangeContext, ChangeDraft, ImpactDraft, create_change
from bot.signing import Signer

DEPARTMENTS = ("冲压车间", "质检部", "设备部", "人力资源部")
# employee_no, name, department, role, supervisor_no
PEOPLE = (
    ("H001", "周敏", "人力资源部", Role.HR, None),
    ("S001", "王建国", "冲压车间", Role.SUPERVISOR, None),
    ("S002", "李红梅", "质检部", Role.SUPERVISOR, None),
    ("S003", "赵志强", "设备部", Role.SUPERVISOR, None),
    ("E001", "张伟", "冲压车间", Role.WORKER, "S001"),
    ("E002", "刘洋", "冲压车间", Role.WORKER, "S001"),
    ("E003", "陈磊", "冲压车间", Role.WORKER, "S001"),
    ("E004", "杨静", "冲压车间", Role.WORKER, "S001"),
    ("E005", "黄勇", "冲压车间", Role.WORKER, "S001"),
    ("E006", "吴杰", "冲压车间", Role.WORKER, "S001"),
    ("E007", "徐丽", "质检部", Role.WORKER, "S002"),
    ("E008", "孙涛", "质检部", Role.WORKER, "S002"),
    ("E009", "马超", "质检部", Role.WORKER, "S002"),
    ("E010", "朱芳", "质检部", Role.WORKER, "S002"),
    ("E011", "胡斌", "质检部", Role.WORKER, "S002"),
    ("E012", "郭峰", "设备部", Role.WORKER, "S003"),
    ("E013", "何琳", "设备部", Role.WORKER, "S003"),
    ("E014", "高翔", "设备部", Role.WORKER, "S003"),
    ("E015", "林波", "设备部", Role.WORKER, "S003"),
    ("E016", "罗鹏", "设备部", Role.WORKER, "S003"),
)
REWARDS = (
    ("R01", "定制保温杯", RewardKind.GOODS, 100, 50),
    ("R02", "调休半天", RewardKind.LEAVE, 300, None),
    ("R03", "超市购物卡 50 元", RewardKind.GOODS, 500, 20),
    ("R04", "晋升评审优先权", RewardKind.PRIORITY, 1000, None),
)


def seed_demo(session: Session, now: datetime) -> bool:
    """Create the demo factory if there are no employees yet; returns True if it seeded."""
    if session.scalar(select(func.count(Employee.id))):
        return False
    departments = {}
    for name in DEPARTMENTS:
        departments[name] = Department(path=name, name=name)
        session.add(departments[name])
    session.flush()
    people: dict[str, Employee] = {}
    for no, name, dept, role, _ in PEOPLE:
        people[no] = Employee(
            employee_no=no, name=name, department=departments[dept], role=role, created_at=now
        )
        session.add(people[no])
    session.flush()
    for no, *_, supervisor_no in PEOPLE:
        if supervisor_no:
            people[no].supervisor = people[supervisor_no]
    for supervisor_no in ("S001", "S002", "S003"):
        people[supervisor_no].supervisor = people["H001"]
    for code, title, kind, cost, stock in REWARDS:
        session.add(Reward(code=code, title=title, kind=kind, cost=cost, stock=stock))
    session.add(
        Campaign(
            name="上线推广",
            bonus_points=2,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=60),
        )
    )
    session.flush()
    return True


# Module owners and one engineering change (design §13): 张伟, 刘洋 and 徐丽 find their impact
# cards in the local chat, 王建国 the notice, 赵志强 (the author) the live summary.
DEMO_MODULES = (("冲压模具", "E001"), ("冲压模具", "E002"), ("首件检验", "E007"))
DEMO_CHANGE = ChangeDraft(
    source="plm",
    external_id="ECO-DEMO-118",
    version="B",
    title="3号模具冲头尺寸变更",
    description="冲头直径 12.00 → 12.05 mm，换模后首件需重测尺寸并更新检验卡。",
    effective_date=date(2026, 1, 1),  # three days after seeding, set then
    author="S003",
    notify=("S001",),
    impacts=(
        ImpactDraft("3号模具", "重测首件尺寸", hours=2, compensation_points=5, module="冲压模具"),
        ImpactDraft("首件检验卡", "更新检验标准", hours=1, compensation_points=3, owner="E007"),
    ),
)


def seed_demo_change(session: Session, now: datetime, *, signer: Signer, tz: ZoneInfo) -> Change:
    """Module owners and one open change, effective in three days, its cards queued."""
    people = {e.employee_no: e for e in session.scalars(select(Employee))}
    for module, number in DEMO_MODULES:
        session.add(ModuleOwner(module=module, employee_id=people[number].id, created_at=now))
    session.flush()
    draft = replace(DEMO_CHANGE, effective_date=now.astimezone(tz).date() + timedelta(days=3))
    return create_change(session, draft, ChangeContext(now=now, tz=tz, signer=signer))
