"""The reports HR downloads as xlsx (design §16): each is a name, a title, what it contains, and
a builder returning its sheets, with the column names in Chinese. The data come from
bot/services/reports.py; a feature adds its report (appeals, change metrics) with `register`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

import console.labels as labels
from bot.services import reports as data
from bot.services.spreadsheets import Sheet
from bot.timeutil import month_start


@dataclass(frozen=True)
class Report:
    """A downloadable report: `build(session, now, tz)` returns its sheets."""

    name: str
    title: str
    description: str
    build: Callable[[Session, datetime, ZoneInfo], list[Sheet]]


REPORTS: dict[str, Report] = {}


def register(report: Report) -> Report:
    """Offer a report on the reports page (in registration order)."""
    REPORTS[report.name] = report
    return report


def _points(session: Session, now: datetime, tz: ZoneInfo) -> list[Sheet]:
    this_month = month_start(now, tz)
    last_month = month_start(this_month - timedelta(days=1), tz)
    employees = [
        Sheet(
            title,
            ("工号", "姓名", "部门", "角色", "获得积分", "扣减/兑换", "当前余额"),
            [
                (
                    r.employee_no,
                    r.name,
                    r.department,
                    labels.ROLES.get(r.role, r.role),
                    r.earned,
                    r.spent,
                    r.balance,
                )
                for r in data.points_by_employee(session, start, end)
            ],
        )  # fmt: skip
        for title, start, end in (
            ("本月·员工", this_month, now + timedelta(seconds=1)),
            ("上月·员工", last_month, this_month),
        )
    ]
    departments = Sheet(
        "本月·部门",
        ("部门", "在职人数", "获得积分的人数", "获得积分"),
        [
            (d.department, d.members, d.earners, d.earned)
            for d in data.points_by_department(session, this_month, now + timedelta(seconds=1))
        ],
    )
    months = Sheet(
        "近12个月·部门",
        ("月份", "部门", "获得积分", "获得积分的人数"),
        data.points_by_month(session, now, tz, 12),
    )
    return [*employees, departments, months]


def _liability(session: Session, now: datetime, tz: ZoneInfo) -> list[Sheet]:
    rows = data.redemption_liability(session)
    people = Sheet(
        "可兑换积分",
        ("工号", "姓名", "部门", "积分余额", "兑换冻结", "可兑换"),
        [(r.employee_no, r.name, r.department, r.balance, r.held, r.available) for r in rows],
    )
    total = Sheet(
        "合计",
        ("项目", "积分"),
        [
            ("积分余额合计", sum(r.balance for r in rows)),
            ("待审批兑换冻结", sum(r.held for r in rows)),
            ("可兑换合计", sum(r.available for r in rows)),
        ],
    )
    pending = Sheet(
        "待审批兑换",
        ("申请时间", "工号", "姓名", "奖励", "积分"),
        [
            (r.redemption.created_at.astimezone(tz), r.employee_no, r.employee_name,
             f"{r.reward_code} {r.reward_title}", r.redemption.cost)
            for r in data.redemptions(session, state="pending", limit=10_000)
        ],
    )  # fmt: skip
    return [people, total, pending]


register(
    Report(
        "points",
        "积分汇总",
        "本月和上月每人获得、扣减的积分与当前余额；本月各部门；近 12 个月各部门按月汇总。",
        _points,
    )
)
register(
    Report(
        "liability",
        "兑换负债",
        "每人的积分余额、待审批兑换冻结的积分和可兑换积分，以及合计：员工还能兑换多少。",
        _liability,
    )
)
