"""The `python -m bot` group and its core commands: run, web, worker, db, outbox."""

from __future__ import annotations

import contextlib

import click
from sqlalchemy import select

from bot.cli.support import cli_config, cli_session, cli_upgrade


def _setup_logging() -> None:
    from bot.logs import setup_logging

    setup_logging(json_lines=cli_config().is_production)


@click.group()
def cli() -> None:
    """绩效积分机器人 command line."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-demo", is_flag=True, help="Do not seed the demo factory.")
def run(host: str, port: int, no_demo: bool) -> None:
    """All in one: migrate, seed the demo, web + worker in one process."""
    from waitress import serve

    from bot.app import bot_state, create_app
    from bot.db import session_scope
    from bot.demo import seed_demo, seed_demo_change

    _setup_logging()
    config = cli_config()
    cli_upgrade(config)
    app = create_app({"CONFIG": config})
    state = bot_state(app)
    if not no_demo:
        with session_scope(state.session_factory) as session:
            if seed_demo(session, state.clock.now()):
                click.echo("Seeded the demo factory (4 departments, 20 people, 4 rewards).")
                seed_demo_change(
                    session, state.clock.now(), signer=state.signer, tz=state.config.tz
                )
                click.echo("Demo change ECO-DEMO-118: 张伟, 刘洋, 徐丽 have cards to confirm.")
    state.worker.start()
    from bot.jobs.scheduler import SchedulerService

    scheduler = SchedulerService(state)
    scheduler.start()
    if "local" in state.adapters:
        click.echo(f"Local web chat: http://{host}:{port}/local/")
    click.echo(f"Listening on http://{host}:{port}  (Ctrl+C to stop)")
    try:
        serve(app, host=host, port=port, threads=8, ident="points-bot")
    finally:
        scheduler.stop()
        state.worker.stop()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def web(host: str, port: int) -> None:
    """The web role only (production: prefer `gunicorn wsgi:app`)."""
    from waitress import serve

    from bot.app import create_app

    _setup_logging()
    serve(create_app({"CONFIG": cli_config()}), host=host, port=port, threads=8)


@cli.command()
def worker() -> None:
    """The job worker role: process inbound events and deliver the outbox."""
    from bot.app import bot_state, create_app

    _setup_logging()
    state = bot_state(create_app({"CONFIG": cli_config()}))
    click.echo("worker running (Ctrl+C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        state.worker.run()


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option(
    "--rekey-broken-ledger",
    is_flag=True,
    help="Key the previous release's ledger even if its chain is broken (the problems are "
    "recorded in ledger_keyings and shown by `ledger verify`).",
)
def db_upgrade(rekey_broken_ledger: bool) -> None:
    """Apply migrations (Alembic) up to head."""
    cli_upgrade(cli_config(), rekey_broken=rekey_broken_ledger)
    click.echo("database is at the newest revision")


@cli.group()
def outbox() -> None:
    """Outgoing messages."""


@outbox.command("list")
@click.option("--failed", is_flag=True, help="Only dead-lettered rows.")
@click.option("--limit", default=50, show_default=True)
def outbox_list(failed: bool, limit: int) -> None:
    """Show outbox rows (newest first)."""
    from bot.models import Outbox

    with cli_session() as (session, _clock):
        query = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
        if failed:
            query = query.where(Outbox.state == "dead")
        for row in session.scalars(query):
            click.echo(
                f"{row.id}\t{row.state}\t{row.kind}\t{row.platform or '-'}\t"
                f"to={row.recipient_id or '-'}\tattempts={row.attempts}\t{row.last_error or ''}"
            )


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every dead-lettered row.")
def outbox_retry(ids: tuple[int, ...], all_failed: bool) -> None:
    """Put dead rows back in the queue."""
    from bot.outbox import requeue_dead

    if not ids and not all_failed:
        raise click.UsageError("give row ids or --all-failed")
    with cli_session() as (session, clock):
        count = requeue_dead(session, None if all_failed else ids, clock.now())
    click.echo(f"requeued {count} row(s)")
