"""申领: claim by photo then rule card, or by `申领 <code> [note]` before or after the photo."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select

from bot.context import HandlerContext
from bot.errors import InvalidInput, NotFound
from bot.models import Evidence, Rule
from bot.notices import campaigns as campaign_notices
from bot.notices import claims as notices
from bot.outbox import close_card
from bot.services.campaigns import rule_codes, running_campaigns
from bot.services.claims import check_evidence, claim_award, find_rule, likely_rules, submit_claim
from bot.services.conversation import forget, recall, remember
from bot.services.evidence import store_photo
from bot.signing import Action
from cards import Button, Card, Message, Text

PHOTO_WINDOW = timedelta(minutes=10)
PENDING_PHOTO = "pending_photo"
PENDING_CLAIM = "pending_claim"
PICK_TITLE = "选择申领规则"
PICK_HINT = "没有合适的？回复「申领 编号 备注」，发送「申领」查看全部规则。"
PICKED = "已提交：{code} {title}"
PHOTO_EXPIRED = "照片已超过 10 分钟，请重新发送照片。"
RULES_TITLE = "积分规则（编号 · 分值）"
RULES_HINT = "申领示例：申领 A01 3号模具刃口磨损"


def pick_card_key(evidence_id: int) -> str:
    """Key of the rule-picking card shown after a photo."""
    return f"pick:{evidence_id}"


def rule_pick_card(ctx: HandlerContext, evidence: Evidence) -> Card:
    """Buttons for the likeliest rules for this photo."""
    rules = likely_rules(ctx.session, ctx.sender)
    buttons = tuple(
        Button(f"{r.code} {r.title} +{r.points}", ctx.sign("claim", evidence.id, str(r.id)))
        for r in rules
    )
    return Card(
        title=PICK_TITLE,
        lines=("照片已收到，请选择对应的行为：", *campaign_lines(ctx)),
        buttons=buttons,
        note=PICK_HINT,
        key=pick_card_key(evidence.id),
    )


def rules_card(ctx: HandlerContext) -> Card:
    """All active rules grouped by category, short enough for a phone."""
    by_category: dict[str, list[Rule]] = defaultdict(list)
    for rule in ctx.session.scalars(select(Rule).where(Rule.active.is_(True)).order_by(Rule.code)):
        by_category[rule.category].append(rule)
    lines = []
    for category, rules in sorted(by_category.items()):
        lines.append(
            f"【{category}】" + "；".join(f"{r.code} {r.title} +{r.points}" for r in rules)
        )
    return Card(title=RULES_TITLE, lines=(*campaign_lines(ctx), *lines), note=RULES_HINT)


def campaign_lines(ctx: HandlerContext) -> list[str]:
    """One line per running campaign, so the bonus on the next screen is no surprise."""
    return [
        campaign_notices.running_line(c, rule_codes(ctx.session, c), ctx.tz)
        for c in running_campaigns(ctx.session, ctx.now)
    ]


def _submit(
    ctx: HandlerContext, rule: Rule, evidence: Evidence | None, note: str | None
) -> Message:
    claim = submit_claim(
        ctx.session,
        ctx.sender,
        rule,
        ctx.claims,
        evidence=evidence,
        note=note,
        platform=ctx.event.platform,
    )
    forget(ctx.session, ctx.sender.id, PENDING_PHOTO)
    forget(ctx.session, ctx.sender.id, PENDING_CLAIM)
    if evidence is not None:
        _close_pick_card(ctx, evidence.id, PICKED.format(code=rule.code, title=rule.title))
    return Text(
        notices.CLAIM_SUBMITTED.format(
            rule=f"{rule.code} {rule.title}",
            award=claim_award(ctx.session, claim).text(),
            approver=claim.approver.name,
        )
    )


def _close_pick_card(ctx: HandlerContext, evidence_id: int, status: str) -> None:
    close_card(ctx.session, pick_card_key(evidence_id), status, now=ctx.now)


def handle_photo(ctx: HandlerContext) -> list[Message]:
    """An image: store it as evidence, then submit a waiting claim or offer the rule card."""
    data = ctx.fetch_media(ctx.event.media_ref or "")
    evidence = store_photo(
        ctx.session, ctx.media_dir, ctx.sender, data, source=ctx.event.platform, now=ctx.now
    )
    check_evidence(ctx.session, ctx.sender, evidence, ctx.tz)
    waiting = recall(ctx.session, ctx.sender.id, PENDING_CLAIM, now=ctx.now)
    if waiting is not None:
        rule = ctx.session.get(Rule, waiting["rule_id"])
        if rule is not None:
            return [_submit(ctx, rule, evidence, waiting.get("note"))]
    remember(
        ctx.session,
        ctx.sender.id,
        PENDING_PHOTO,
        {"evidence_id": evidence.id},
        now=ctx.now,
        ttl=PHOTO_WINDOW,
    )
    return [rule_pick_card(ctx, evidence)]


def handle_claim_command(ctx: HandlerContext, args: str) -> list[Message]:
    """申领 [code] [note]."""
    if not args.strip():
        return [rules_card(ctx)]
    code, _, note = args.strip().partition(" ")
    rule = find_rule(ctx.session, code)
    photo = recall(ctx.session, ctx.sender.id, PENDING_PHOTO, now=ctx.now)
    evidence = ctx.session.get(Evidence, photo["evidence_id"]) if photo else None
    if rule.evidence_required and evidence is None:
        remember(
            ctx.session,
            ctx.sender.id,
            PENDING_CLAIM,
            {"rule_id": rule.id, "note": note.strip()},
            now=ctx.now,
            ttl=PHOTO_WINDOW,
        )
        return [Text(notices.EVIDENCE_REQUIRED.format(rule=f"{rule.code} {rule.title}"))]
    return [_submit(ctx, rule, evidence, note)]


def handle_claim_button(ctx: HandlerContext, action: Action) -> list[Message]:
    """A tap on a rule of the rule-picking card."""
    evidence = ctx.session.get(Evidence, action.object_id)
    if evidence is None:
        raise NotFound(PHOTO_EXPIRED)
    if evidence.created_at + PHOTO_WINDOW * 6 < ctx.now:
        raise InvalidInput(PHOTO_EXPIRED)
    try:
        rule = ctx.session.get(Rule, int(action.arg))
    except ValueError:
        rule = None
    if rule is None:
        raise NotFound("规则不存在，请发送「申领」查看规则列表。")
    return [_submit(ctx, rule, evidence, None)]
