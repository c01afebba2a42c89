"""The demo factory seeded into an empty database by `python -m bot run`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Campaign, Department, Employee, Reward, RewardKind, Role

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
