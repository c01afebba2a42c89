"""面谈 <姓名或工号>: the 1:1 fact pack — a 12-week task heatmap image and a card with the key
approved claims (their photos follow), likes received and anonymized peer comments (design §14).
Leads see the people below them; HR anyone; everyone else is refused."""

from __future__ import annotations

from datetime import timedelta

from bot.context import HandlerContext
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.models import Employee
from bot.notices import factpack as notices
from bot.notices.images import FactPackImage, HeatDay, render_factpack
from bot.services.factpack import WEEKS, FactPack, build_factpack, leads_anyone, may_view
from bot.services.images import media_ref
from bot.services.likes import find_people
from cards import Message


def handle_factpack(ctx: HandlerContext, args: str) -> list[Message]:
    """面谈 / 1on1."""
    viewer = ctx.sender
    if not leads_anyone(ctx.session, viewer):
        raise NotAllowed(notices.ONLY_LEADS)
    who = args.strip()
    if not who:
        raise InvalidInput(notices.USAGE)
    person = _one(ctx, who)
    if not may_view(viewer, person):
        raise NotAllowed(notices.NOT_YOUR_TEAM.format(name=person.name))
    pack = build_factpack(
        ctx.session, person, now=ctx.now, tz=ctx.tz, neutral=notices.neutral_comment
    )
    path = ctx.media_dir / "factpack" / str(person.id) / f"{pack.today.isoformat()}.png"
    render_factpack(path, _image(pack))
    likes = [(like_giver(ctx, like.giver_id), like.reason) for like in pack.likes]
    card = notices.factpack_card(
        name=person.name, totals=dict(pack.totals), rate=pack.on_time_rate, points=pack.points,
        claims=[(c.decided_at, c.rule.code, c.rule.title, c.points_credited or c.rule.points,
                 c.evidence_id is not None) for c in pack.key_claims],
        likes=likes, comments=pack.comments, image=media_ref(ctx.media_dir, path), tz=ctx.tz,
    )  # fmt: skip
    photos = [
        notices.claim_card(
            code=c.rule.code,
            title=c.rule.title,
            when=c.decided_at,
            points=c.points_credited or c.rule.points,
            note=c.note,
            image=f"evidence:{c.evidence_id}",
            tz=ctx.tz,
        )  # fmt: skip
        for c in pack.key_claims
        if c.evidence_id is not None and c.decided_at is not None
    ]
    return [card, *photos]


def _one(ctx: HandlerContext, who: str) -> Employee:
    """The one active employee `who` names. Raises NotFound or InvalidInput (ambiguous)."""
    people = find_people(ctx.session, who)
    if not people:
        raise NotFound(notices.UNKNOWN.format(who=who[:20]))
    if len(people) > 1:
        options = "、".join(f"{p.name}（{p.employee_no}）" for p in people[:5])
        raise InvalidInput(notices.AMBIGUOUS.format(count=len(people), who=who, options=options))
    return people[0]


def like_giver(ctx: HandlerContext, giver_id: int) -> str:
    """A like's giver by name (likes are not anonymous: the colleague was told who)."""
    giver = ctx.session.get(Employee, giver_id)
    return giver.name if giver is not None else "-"


def _image(pack: FactPack) -> FactPackImage:
    """The heatmap's data: 12 week columns of Monday–Sunday, days after today left blank."""
    weeks, labels = [], []
    for week in range(WEEKS):
        monday = pack.first_monday + timedelta(weeks=week)
        labels.append(f"{monday:%m/%d}")
        column: list[HeatDay | None] = []
        for offset in range(7):
            day = monday + timedelta(days=offset)
            counts = pack.days.get(day, {})
            column.append(
                None
                if day > pack.today
                else HeatDay(
                    counts.get("on_time", 0), counts.get("late", 0), counts.get("missed", 0)
                )  # fmt: skip
            )
        weeks.append(column)
    rate = pack.on_time_rate
    totals = pack.totals
    department = pack.person.department
    return FactPackImage(
        title=notices.IMAGE_TITLE.format(name=pack.person.name),
        subtitle=notices.IMAGE_SUBTITLE.format(
            department=f"{department.name} · " if department else "",
            start=pack.first_monday,
            end=pack.today,
        ),  # fmt: skip
        weekday_labels=notices.WEEKDAYS,
        week_labels=labels,
        weeks=weeks,
        legend=notices.LEGEND,
        totals=notices.IMAGE_TOTALS.format(
            on_time=totals["on_time"],
            late=totals["late"],
            missed=totals["missed"],
            rate=notices.IMAGE_RATE.format(rate=rate) if rate is not None else "",
        ),  # fmt: skip
        facts=notices.IMAGE_FACTS.format(
            points=pack.points, claims=len(pack.key_claims), likes=len(pack.likes)
        ),
        foot=notices.IMAGE_FOOT,
    )
