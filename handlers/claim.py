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
RULES_TITLE = "积分规则 · 选择类别"
RULES_LINES = (
    "📷 最快：直接发一张现场照片，再点选规则。",
    "也可以点下面的类别，看清规则后点一下就能申领。",
)
CATEGORY_BUTTON = "{category}（{count} 条）"
CATEGORY_TITLE = "{category}类规则"
RULE_LINE = "{code} {title} +{points}{photo}"
NEEDS_PHOTO = " 📷"
RULE_BUTTON = "{code} {title} +{points}"
MORE_BUTTON = "更多 ›"
RULES_HINT = "📷 = 需要照片。也可以直接回复「申领 A01 备注」。"
RULE_GONE = "规则不存在，请发送「申领」查看规则列表。"
# WeCom shows at most six buttons on a card (platforms.md §3): longer lists page.
BUTTONS_PER_CARD = 6


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


def _active_by_category(ctx: HandlerContext) -> dict[str, list[Rule]]:
    by_category: dict[str, list[Rule]] = defaultdict(list)
    # Sorted here, not in SQL: PostgreSQL's collation may order codes differently from SQLite's.
    for rule in sorted(
        ctx.session.scalars(select(Rule).where(Rule.active.is_(True))), key=lambda r: r.code
    ):
        by_category[rule.category].append(rule)
    return dict(sorted(by_category.items()))


def _page(items: list, page: int) -> tuple[list, bool]:
    """The items on `page` (0-based) and whether a 更多 button follows them."""
    size = BUTTONS_PER_CARD - 1
    start = page * size
    rest = items[start:]
    if len(rest) <= BUTTONS_PER_CARD:
        return rest, False
    return rest[:size], True


def rules_card(ctx: HandlerContext, page: int = 0) -> Card:
    """The rule categories as buttons (申领 with nothing after it): tap one to see its rules."""
    categories = list(_active_by_category(ctx).items())
    shown, more = _page(categories, page)
    buttons = [
        Button(
            CATEGORY_BUTTON.format(category=category, count=len(rules)),
            ctx.sign("rule_category", rules[0].id, "0"),
        )
        for category, rules in shown
    ]
    if more:
        buttons.append(Button(MORE_BUTTON, ctx.sign("rules", page + 1)))
    lines = (*campaign_lines(ctx), *RULES_LINES)
    return Card(title=RULES_TITLE, lines=lines, buttons=tuple(buttons), note=RULES_HINT)


def category_card(ctx: HandlerContext, category: str, page: int = 0) -> Card:
    """One category's rules, one per line, each a button that claims it."""
    rules = _active_by_category(ctx).get(category, [])
    lines = tuple(
        RULE_LINE.format(
            code=r.code, title=r.title, points=r.points,
            photo=NEEDS_PHOTO if r.evidence_required else "",
        )
        for r in rules
    )  # fmt: skip
    shown, more = _page(rules, page)
    buttons = [
        Button(RULE_BUTTON.format(code=r.code, title=r.title, points=r.points),
               ctx.sign("claim_rule", r.id), "primary")
        for r in shown
    ]  # fmt: skip
    if more:
        buttons.append(Button(MORE_BUTTON, ctx.sign("rule_category", rules[0].id, str(page + 1))))
    return Card(
        title=CATEGORY_TITLE.format(category=category),
        lines=lines,
        buttons=tuple(buttons),
        note=RULES_HINT,
    )


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
    return [_claim_rule(ctx, find_rule(ctx.session, code), note.strip())]


def _claim_rule(ctx: HandlerContext, rule: Rule, note: str | None) -> Message:
    """Submit a claim under `rule` with the photo of the last 10 minutes, or wait for one."""
    photo = recall(ctx.session, ctx.sender.id, PENDING_PHOTO, now=ctx.now)
    evidence = ctx.session.get(Evidence, photo["evidence_id"]) if photo else None
    if rule.evidence_required and evidence is None:
        remember(
            ctx.session,
            ctx.sender.id,
            PENDING_CLAIM,
            {"rule_id": rule.id, "note": note or ""},
            now=ctx.now,
            ttl=PHOTO_WINDOW,
        )
        return Text(notices.EVIDENCE_REQUIRED.format(rule=f"{rule.code} {rule.title}"))
    return _submit(ctx, rule, evidence, note or None)


def _rule_of(ctx: HandlerContext, rule_id: int) -> Rule:
    rule = ctx.session.get(Rule, rule_id)
    if rule is None:
        raise NotFound(RULE_GONE)
    return rule


def handle_rules_button(ctx: HandlerContext, action: Action) -> list[Message]:
    """更多 › on the category card."""
    return [rules_card(ctx, page=max(action.object_id, 0))]


def handle_category_button(ctx: HandlerContext, action: Action) -> list[Message]:
    """A category on the category card (or 更多 › on a category's rules)."""
    page = int(action.arg) if action.arg.isdigit() else 0
    return [category_card(ctx, _rule_of(ctx, action.object_id).category, page)]


def handle_rule_button(ctx: HandlerContext, action: Action) -> list[Message]:
    """A rule on a category card: the same as typing 申领 and its code."""
    rule = _rule_of(ctx, action.object_id)
    if not rule.active:
        raise InvalidInput(notices.RULE_INACTIVE.format(code=rule.code))
    return [_claim_rule(ctx, rule, None)]


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
        raise NotFound(RULE_GONE)
    return [_submit(ctx, rule, evidence, None)]
