"""Points-economy commands for `python -m bot`: campaigns, rewards, review flags, suggestions
(design §10, §15). `bot/cli/__init__.py` attaches the groups."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from bot.cli.data import CSV_FILE, _finish, _read_csv_text
from bot.cli.support import cli_config, cli_session
from bot.errors import BotError
from bot.notices import campaigns as campaign_texts
from bot.notices import rewards as reward_texts
from bot.services import campaigns as campaign_service
from bot.services.review import recent_flags
from bot.services.rewards_csv import export_rewards, import_rewards

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _fail(exc: BotError) -> click.ClickException:
    return click.ClickException(exc.user_message)


@click.group("campaigns")
def campaigns_group() -> None:
    """Bonus campaigns (活动): +N points per claim made within a window."""


@campaigns_group.command("create")
@click.argument("name")
@click.option("--bonus", type=int, required=True, help="Points added to each approved claim.")
@click.option("--from", "first_day", type=DAY, required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "last_day", type=DAY, required=True, help="Last day (inclusive).")
@click.option("--rules", default="", help="Only these rule codes, e.g. A01,A02 (default: all).")
def campaigns_create(
    name: str, bonus: int, first_day: datetime, last_day: datetime, rules: str
) -> None:
    """Create a campaign from the start of --from to the end of --to (factory time)."""
    tz = cli_config().tz
    codes = [c for c in rules.split(",") if c.strip()]
    try:
        with cli_session() as (session, clock):
            campaign = campaign_service.create_campaign(
                session, name, bonus=bonus, first_day=first_day.date(),
                last_day=last_day.date(), codes=codes, tz=tz, now=clock.now(),
            )  # fmt: skip
            listed = campaign_service.rule_codes(session, campaign)
    except BotError as exc:
        raise _fail(exc) from None
    scope = f" for {','.join(listed)}" if listed else ""
    click.echo(
        campaign_texts.CREATED.format(
            name=campaign.name, bonus=bonus, start=first_day.date(), end=last_day.date(),
            rules=scope,
        )
    )  # fmt: skip


@campaigns_group.command("end")
@click.argument("name")
def campaigns_end(name: str) -> None:
    """End the running or scheduled campaign NAME now (claims made before keep their bonus)."""
    tz = cli_config().tz
    try:
        with cli_session() as (session, clock):
            now = clock.now()
            campaign_service.end_campaign(session, name, now)
    except BotError as exc:
        raise _fail(exc) from None
    when = now.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    click.echo(campaign_texts.ENDED.format(name=name.strip(), when=when))


@campaigns_group.command("list")
def campaigns_list() -> None:
    """One line per campaign: NAME, BONUS, FROM, TO, RULES, STATE (newest first)."""
    tz = cli_config().tz
    with cli_session() as (session, clock):
        now = clock.now()
        rows = [
            (c, campaign_service.rule_codes(session, c))
            for c in campaign_service.all_campaigns(session)
        ]
        if not rows:
            click.echo(campaign_texts.NONE)
        for c, codes in rows:
            last = (c.ends_at - timedelta(microseconds=1)).astimezone(tz).date()
            click.echo(
                "\t".join(
                    (
                        c.name,
                        f"+{c.bonus_points}",
                        c.starts_at.astimezone(tz).date().isoformat(),
                        last.isoformat() if c.ends_at > c.starts_at else "-",
                        ",".join(codes) or campaign_texts.ALL_RULES,
                        campaign_service.state_of(c, now),
                    )
                )
            )


@click.group("review")
def review_group() -> None:
    """Review of approvals (审批复核)."""


@review_group.command("flags")
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True)
def review_flags(days: int) -> None:
    """Flagged approvals, newest first: TIME, CLAIM, CLAIMANT, APPROVER, SIGNAL, DETAIL."""
    import json

    tz = cli_config().tz
    with cli_session() as (session, clock):
        for flag in recent_flags(session, clock.now() - timedelta(days=days), limit=100_000):
            click.echo(
                "\t".join(
                    (
                        flag.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                        f"#{flag.claim_id}",
                        flag.claim.employee.employee_no,
                        flag.approver.employee_no if flag.approver else "-",
                        flag.signal,
                        json.dumps(flag.detail, ensure_ascii=False, sort_keys=True),
                    )
                )
            )


@click.group("rewards")
def rewards_group() -> None:
    """The reward catalogue as a CSV spreadsheet: code,name,kind,cost,stock,active."""


@rewards_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--bom", is_flag=True, help="Start with a UTF-8 BOM so Excel shows Chinese correctly."
)
def rewards_export(file: Path, bom: bool) -> None:
    """Write every reward to FILE."""
    with cli_session() as (session, _clock):
        text = export_rewards(session)
    with file.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
        out.write(text)
    count = max(len(text.splitlines()) - 1, 0)
    click.echo(reward_texts.EXPORTED.format(count=count, file=file))


@rewards_group.command("import")
@click.argument("file", type=CSV_FILE)
def rewards_import(file: Path) -> None:
    """Create or update rewards from FILE; all or nothing."""
    text = _read_csv_text(file)
    with cli_session() as (session, _clock):
        report = import_rewards(session, text)
    _finish(report)


@click.group("suggestions")
def suggestions_group() -> None:
    """Improvement suggestions (建议)."""


@suggestions_group.command("report")
@click.option("--month", default="", help="YYYY-MM (default: this month).")
def suggestions_report(month: str) -> None:
    """Per department: DEPARTMENT, SUBMITTED, ON_TIME (answered ≤ 72 h), LATE, ADOPTED,
    IMPLEMENTED."""
    from datetime import time

    from bot.services.suggestions import month_counts

    tz = cli_config().tz
    with cli_session() as (session, clock):
        now = clock.now()
        try:
            first = datetime.strptime(month, "%Y-%m").date() if month else now.astimezone(tz).date()
        except ValueError:
            raise click.BadParameter("expected YYYY-MM", param_hint="--month") from None
        first = first.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        start, end = datetime.combine(first, time(), tz), datetime.combine(after, time(), tz)
        for row in month_counts(session, start, end, now):
            keys = ("dept", "submitted", "on_time", "late", "adopted", "implemented")
            click.echo("\t".join(str(row[k]) for k in keys))
