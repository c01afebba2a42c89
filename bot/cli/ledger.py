"""`python -m bot ledger verify|checkpoint`: check the keyed hash chain, publish its head."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.support import cli_config, cli_session


@click.group("ledger")
def ledger_group() -> None:
    """The points ledger: its keyed hash chain and checkpoints."""


@ledger_group.command("verify")
@click.option(
    "--checkpoint",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint file (or a saved chat message holding one), or an evidence export's "
    "hash-chain proof; may be repeated.",
)
def ledger_verify(files: tuple[Path, ...]) -> None:
    """Recompute the keyed hash chain and check it against checkpoints; exit 1 on any problem.

    Besides the files given, every checkpoint recorded in the database and every file in
    BOT_LEDGER_CHECKPOINT_DIR is checked.
    """
    from bot.models import LedgerKeying
    from bot.services.checkpoints import directory_files
    from bot.services.ledger import verify_ledger
    from bot.services.ledgerproof import read_verification_file

    config = cli_config()
    checkpoints, proofs, problems = [], [], []
    for path in [*directory_files(config.ledger_checkpoint_dir), *files]:
        found, proven, bad = read_verification_file(path)
        checkpoints += found
        proofs += proven
        problems += bad
    with cli_session() as (session, _clock):
        report = verify_ledger(session, checkpoints=checkpoints, proofs=proofs)
        keyings = list(session.scalars(select(LedgerKeying).order_by(LedgerKeying.id)))
    for keying in keyings:
        when = keying.keyed_at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"note: {keying.entries} entries written before BOT_LEDGER_KEY were re-hashed "
            f"under key {keying.key_id} on {when}"
        )
        if keying.note:
            click.echo(f"note: their unkeyed chain was broken then: {keying.note}")
    problems += report.problems
    for problem in problems:
        click.echo(f"MISMATCH {problem}")
    if problems:
        click.echo(f"FAILED: {len(problems)} problem(s) in {report.entries} entries")
        sys.exit(1)
    summary = f"ok: {report.entries} entries, chain intact"
    if report.checkpoints:
        newest = max(report.checkpoints, key=lambda cp: cp.seq)
        summary += (
            f"; holds what {len(report.checkpoints)} checkpoint(s) saw "
            f"(newest: seq {newest.seq}, {newest.at})"
        )
    else:
        summary += "; no checkpoint to check against (python -m bot ledger checkpoint)"
    if report.proofs:
        summary += f"; {report.proofs} proof(s) sound"
    click.echo(summary)


@ledger_group.command("checkpoint")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Add it to this file (created if missing; nothing in it is overwritten) instead of "
    "printing it.",
)
def ledger_checkpoint(output: Path | None) -> None:
    """Sign a checkpoint of the chain's head and print it (or add it to FILE).

    Refuses (exit 1) when the newest entry does not match its hash or the chain no longer
    holds what an earlier checkpoint saw: run `ledger verify`.
    """
    from bot.services.chain import session_key
    from bot.services.checkpoints import (
        EmptyLedger,
        append_checkpoint,
        directory_files,
        head_checkpoint,
        read_checkpoint_files,
        record_checkpoint,
        recorded_checkpoints,
        spot_check,
    )

    config = cli_config()
    with cli_session() as (session, clock):
        now = clock.now()
        earlier, _ = read_checkpoint_files(directory_files(config.ledger_checkpoint_dir))
        earlier += recorded_checkpoints(session)[0]
        problems = spot_check(session, session_key(session), earlier)
        for problem in problems:
            click.echo(f"MISMATCH {problem}", err=True)
        if problems:
            click.echo("error: no checkpoint signed; run `python -m bot ledger verify`", err=True)
            sys.exit(1)
        try:
            checkpoint = head_checkpoint(session, now.astimezone(config.tz))
        except EmptyLedger:
            click.echo("error: the ledger has no entries yet; nothing to checkpoint", err=True)
            sys.exit(1)
        record_checkpoint(session, checkpoint, source="cli", now=now, path=output)
        if output is not None:
            try:
                append_checkpoint(output, checkpoint)
            except OSError as exc:
                click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
                sys.exit(1)
    if output is None:
        click.echo(checkpoint.line)
    else:
        click.echo(f"checkpoint of seq {checkpoint.seq} added to {output}")
