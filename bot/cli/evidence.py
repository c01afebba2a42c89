"""`python -m bot evidence export`: one employee's evidence chain for an appeal, as a zip."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.support import cli_config, cli_session


@click.group("evidence")
def evidence_group() -> None:
    """Evidence photos and the evidence chain of appeals."""


@evidence_group.command("export")
@click.argument("employee_no")
@click.option(
    "--months",
    type=click.IntRange(1, 120),
    default=3,
    show_default=True,
    help="How far back: claims, appeals and ledger entries of the last N months.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The zip file to write (photos/, index.xlsx, chain-proof.json, README.txt).",
)
def evidence_export(employee_no: str, months: int, output: Path) -> None:
    """Write EMPLOYEE_NO's evidence chain: photos, an xlsx index of claims, decisions,
    appeals and ledger entries, and the hash-chain proof of those entries, which
    `python -m bot ledger verify --checkpoint chain-proof.json` checks. The console offers
    the same download."""
    from bot.models import Employee
    from bot.services.evidence_export import export_evidence
    from bot.services.ledgerproof import ProofRefused

    config = cli_config()
    with cli_session() as (session, clock):
        employee = session.scalar(select(Employee).where(Employee.employee_no == employee_no))
        if employee is None:
            click.echo(f"error: no employee with number {employee_no}", err=True)
            sys.exit(1)
        try:
            export = export_evidence(
                session, employee, now=clock.now(), tz=config.tz, media_dir=config.media_dir,
                months=months,
            )  # fmt: skip
        except ProofRefused as exc:
            click.echo(f"error: no proof made: {exc}; run `python -m bot ledger verify`", err=True)
            sys.exit(1)
    try:
        output.write_bytes(export.data)
    except OSError as exc:
        click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    proof = f"proof up to seq {export.proof.checkpoint.seq}" if export.proof else "no proof"
    click.echo(
        f"wrote {output}: {export.claims} claims, {export.photos} photos, "
        f"{export.appeals} appeals, {export.entries} ledger entries; {proof}"
    )
