"""Chinese names the console shows for codes stored in English (roles, ask kinds, outcomes,
audit actions). A feature that adds an ask kind or an audit action adds its name here."""

from __future__ import annotations

ROLES = {"worker": "员工", "supervisor": "主管", "hr": "HR", "admin": "管理员"}
ASK_KINDS = {
    "claim_approval": "申领审批",
    "claim_second_approval": "申领复核",
    "task_alert": "任务预警",
    "claim_appeal": "申诉复核",
    "read_confirm": "通知已读确认",
    "survey_question": "360 问卷",
    "weekly_checkin": "每周签到",
    "suggestion_review": "建议处理",
    "suggestion_implementation": "建议实施",
    "redemption_approval": "兑换审批",
    "change_impact": "变更影响确认",
    "change_notice": "变更知会",
    "change_negotiation": "变更协商",
    "change_retest": "变更重测",
}
OUTCOMES = {"created": "新增", "updated": "更新", "unchanged": "不变", "rejected": "有错误"}
WOULD = {"created": "将新增", "updated": "将更新", "unchanged": "不变", "rejected": "有错误"}
ACTIONS = {
    "console.sign_in": "登录控制台",
    "console.sign_out": "退出控制台",
    "console.code_locked": "验证码输错 5 次",
    "rule.update": "修改规则",
    "rule.create": "新增规则",
    "rules.import": "导入规则",
    "org.import": "导入组织架构",
    "ask.answer": "处理待办",
    "claim.submit": "提交申领",
    "claim.approve": "通过申领",
    "claim.approve_first": "初审通过申领",
    "claim.reject": "驳回申领",
    "claim.reject_second": "复核驳回申领",
    "change.create": "发起变更",
    "change.close": "关闭变更",
    "change.accept": "接受变更影响",
    "change.negotiate": "变更需协商",
    "change.negotiation_reply": "答复变更协商",
    "change.reject": "拒绝变更影响",
    "change.retest": "提交重测报告",
    "suggestion.submit": "提交建议",
    "suggestion.adopt": "采纳建议",
    "suggestion.discuss": "建议需讨论",
    "suggestion.decline": "不采纳建议",
    "suggestion.implemented": "建议已实施",
    "suggestion.drop": "建议不实施",
    "redemption.request": "申请兑换",
    "redemption.approve": "批准兑换",
    "redemption.reject": "拒绝兑换",
    "appeal.submit": "提交申诉",
    "appeal.overturn": "申诉改判通过",
    "appeal.uphold": "申诉维持驳回",
    "evidence.export": "下载证据链",
    "broadcast.send": "发送通知",
    "survey.close": "关闭问卷",
}
REDEMPTION_STATES = {
    "pending": "待审批",
    "approved": "已批准",
    "rejected": "已拒绝",
    "cancelled": "已取消",
}
REWARD_KINDS = {"goods": "实物", "leave": "调休", "priority": "晋升优先"}
RULE_FIELDS = {
    "code": "编号",
    "grade": "等级",
    "points": "分值",
    "category": "类别",
    "title": "名称",
    "evidence_required": "需要照片",
    "daily_cap": "每日上限",
    "weekly_cap": "每周上限",
    "active": "启用",
}


def ask_kind(kind: str) -> str:
    """An ask kind's Chinese name, or the code itself for a kind not named here yet."""
    return ASK_KINDS.get(kind, kind)
