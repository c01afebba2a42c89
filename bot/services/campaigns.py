"""Campaigns (活动): a bonus per approved claim made within a window, optionally for listed
rules only; and the award a claim earns, so every screen names the same total and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotFound
from bot.models import Campaign, CampaignRule, Rule
from bot.notices import campaigns as texts

MAX_NAME = 100
MAX_BONUS = 100


@dataclass(frozen=True, slots=True)
class Award:
    """What a claim earns: the rule's points plus each campaign's bonus as (name, points)."""

    base: int
    bonuses: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        """Base plus every bonus."""
        return self.base + sum(b for _, b in self.bonuses)

    def text(self) -> str:
        """`+22 分（含上线推广 +2）`."""
        return texts.award_text(self.total, self.bonuses)

    def short(self) -> str:
        """`+22（含上线推广 +2）`."""
        return texts.award_short(self.total, self.bonuses)


def _applies_to(rule: Rule) -> object:
    """Campaign condition: no rule list, or `rule` on it; no category, or `rule`'s."""
    listed = exists().where(CampaignRule.campaign_id == Campaign.id)
    on_list = exists().where(
        CampaignRule.campaign_id == Campaign.id, CampaignRule.rule_id == rule.id
    )
    return (~listed | on_list) & (
        Campaign.category.is_(None) | (Campaign.category == rule.category)
    )


def campaigns_for(session: Session, rule: Rule, when: datetime) -> list[Campaign]:
    """Campaigns whose bonus applies to a claim made at `when` under `rule`."""
    return list(
        session.scalars(
            select(Campaign)
            .where(
                Campaign.active.is_(True),
                Campaign.starts_at <= when,
                Campaign.ends_at > when,
                _applies_to(rule),
            )
            .order_by(Campaign.id)
        )
    )


def award_for(session: Session, rule: Rule, when: datetime) -> Award:
    """The points a claim under `rule` made at `when` earns, bonuses named."""
    bonuses = tuple((c.name, c.bonus_points) for c in campaigns_for(session, rule, when))
    return Award(rule.points, bonuses)


def running_campaigns(session: Session, now: datetime) -> list[Campaign]:
    """Campaigns whose window contains `now`."""
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.active.is_(True), Campaign.starts_at <= now, Campaign.ends_at > now)
            .order_by(Campaign.id)
        )
    )


def rule_codes(session: Session, campaign: Campaign) -> list[str]:
    """The codes a campaign is limited to (empty: every rule)."""
    return list(
        session.scalars(
            select(Rule.code)
            .join(CampaignRule, CampaignRule.rule_id == Rule.id)
            .where(CampaignRule.campaign_id == campaign.id)
            .order_by(Rule.code)
        )
    )


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz)


def _live_named(session: Session, name: str, now: datetime) -> list[Campaign]:
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.name == name, Campaign.active.is_(True), Campaign.ends_at > now)
            .order_by(Campaign.id)
        )
    )


def create_campaign(
    session: Session,
    name: str,
    *,
    bonus: int,
    first_day: date,
    last_day: date,
    codes: list[str],
    tz: ZoneInfo,
    now: datetime,
) -> Campaign:
    """A campaign from `first_day` 00:00 to the end of `last_day` (local), limited to `codes`
    when given.

    Raises:
        InvalidInput: bad name, bonus or window, unknown codes, or a same-named campaign that
        has not ended.
    """
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(texts.BAD_NAME.format(limit=MAX_NAME))
    if not 1 <= bonus <= MAX_BONUS:
        raise InvalidInput(texts.BAD_BONUS.format(limit=MAX_BONUS))
    if last_day < first_day:
        raise InvalidInput(texts.BAD_WINDOW.format(to=last_day, start=first_day))
    wanted = sorted({c.strip().upper() for c in codes if c.strip()})
    rules = list(session.scalars(select(Rule).where(func.upper(Rule.code).in_(wanted))))
    unknown = sorted(set(wanted) - {r.code.upper() for r in rules})
    if unknown:
        raise InvalidInput(texts.UNKNOWN_RULES.format(codes=", ".join(unknown)))
    clash = _live_named(session, name, now)
    if clash:
        until = clash[-1].ends_at.astimezone(tz).date().isoformat()
        raise InvalidInput(texts.NAME_TAKEN.format(name=name, until=until))
    campaign = Campaign(
        name=name,
        bonus_points=bonus,
        starts_at=_local_midnight(first_day, tz),
        ends_at=_local_midnight(last_day + timedelta(days=1), tz),
        active=True,
    )
    session.add(campaign)
    session.flush()
    for rule in rules:
        session.add(CampaignRule(campaign_id=campaign.id, rule_id=rule.id))
    session.flush()
    return campaign


def end_campaign(session: Session, name: str, now: datetime) -> list[Campaign]:
    """End the running or scheduled campaigns named `name` now. Claims already made in the
    window keep their bonus (it belongs to when the claim was made).

    Raises:
        NotFound: nothing of that name is running or scheduled.
    """
    live = _live_named(session, name.strip(), now)
    if not live:
        raise NotFound(texts.NOT_RUNNING.format(name=name.strip()))
    for campaign in live:
        campaign.ends_at = max(campaign.starts_at, now)
        if campaign.starts_at >= now:
            campaign.active = False  # called off before it began
    session.flush()
    return live


def state_of(campaign: Campaign, now: datetime) -> str:
    """running, scheduled or ended."""
    if not campaign.active or campaign.ends_at <= now:
        return "ended"
    return "running" if campaign.starts_at <= now else "scheduled"


def all_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, newest first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.starts_at.desc(), Campaign.id)))
