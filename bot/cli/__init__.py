"""`python -m bot`: the one command-line entry point (design §10), assembled from its parts."""

from bot.cli.data import import_departments_command, import_org_command, rules_group
from bot.cli.evidence import evidence_group
from bot.cli.jobs import calendar_group, jobs_group, scheduler_command
from bot.cli.ledger import ledger_group
from bot.cli.main import cli

for command in (
    import_org_command,
    import_departments_command,
    rules_group,
    scheduler_command,
    jobs_group,
    calendar_group,
    ledger_group,
    evidence_group,
):
    cli.add_command(command)

__all__ = ["cli"]
