"""People and teams: departments, employees, their platform identities (组织架构)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base


class Role(StrEnum):
    """What an employee may do."""

    WORKER = "worker"
    SUPERVISOR = "supervisor"
    HR = "hr"
    ADMIN = "admin"


class Department(Base):
    """A department or team (部门); `path` like 冲压车间/一班."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    employees: Mapped[list[Employee]] = relationship(back_populates="department")
    chats: Mapped[list[DepartmentChat]] = relationship(
        back_populates="department", cascade="all, delete-orphan", order_by="DepartmentChat.id"
    )

    def chat_for(self, platform: str) -> str | None:
        """The department's group chat id on `platform`, if it has one."""
        return next((c.chat_id for c in self.chats if c.platform == platform), None)


class DepartmentChat(Base):
    """A department's group chat on one platform (部门群), keyed by platform (bot/platforms.py)."""

    __tablename__ = "department_chats"
    __table_args__ = (UniqueConstraint("department_id", "platform"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    platform: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(200))
    department: Mapped[Department] = relationship(back_populates="chats")


class Employee(Base):
    """A person in the factory (员工), with a role and a supervisor (主管)."""

    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=Role.WORKER)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_platform: Mapped[str | None] = mapped_column(String(20))
    last_platform: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    department: Mapped[Department | None] = relationship(back_populates="employees")
    supervisor: Mapped[Employee | None] = relationship(
        remote_side="Employee.id", foreign_keys=[supervisor_id]
    )
    delegate: Mapped[Employee | None] = relationship(
        remote_side="Employee.id", foreign_keys=[delegate_id]
    )
    identities: Mapped[list[Identity]] = relationship(back_populates="employee")

    @property
    def is_supervisor(self) -> bool:
        """True for anyone who may have reports to approve."""
        return self.role in (Role.SUPERVISOR, Role.HR, Role.ADMIN)


class Identity(Base):
    """An employee's user id on one platform (wecom userid, dingtalk staffId, feishu open_id)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    employee: Mapped[Employee] = relationship(back_populates="identities")
