"""What the HR console sends through the messenger, and what it says when a sign-in is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.models import Employee
from bot.outbox import enqueue
from cards import Text

SIGN_IN_CODE = (
    "🔐 HR 控制台登录验证码：{code}\n5 分钟内有效，只能用一次。\n"
    "不是你本人在登录？请不要告诉任何人，并联系管理员。"
)
CODE_SENT = "验证码已发到 {name} 的{platform}，5 分钟内有效。"
UNKNOWN_EMPLOYEE = "没有找到这个工号，或该账号已停用。请核对后重试。"
NOT_FOR_YOU = "控制台只对 HR 和管理员开放。如需查看积分，请在聊天中发送「积分」。"
TOO_SOON = "验证码刚刚发过，请 {seconds} 秒后再获取。"
TOO_MANY_CODES = "这个工号一小时内获取验证码的次数太多，请稍后再试。"
NO_CODE = "验证码已过期或已失效，请重新获取。"
WRONG_CODE = "验证码不正确，还可以再试 {left} 次。"
NO_TRIES_LEFT = "验证码输错 5 次，已失效，请重新获取。"
BAD_FORMAT = "请输入 6 位数字验证码。"
MESSENGER = "消息"


def send_sign_in_code(session: Session, employee: Employee, code: str, *, now: datetime) -> None:
    """Queue the code to the person's messenger (their preferred or last-used platform)."""
    enqueue(session, Text(SIGN_IN_CODE.format(code=code)), now=now, recipient=employee)
