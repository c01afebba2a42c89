"""`python -m bot`: the one command-line entry point (design §10), assembled from its parts."""

from bot.cli.data import import_departments_command, import_org_command, rules_group
from bot.cli.economy import campaigns_group, review_group, rewards_group, suggestions_group
from bot.cli.evidence import evidence_group
from bot.cli.jobs import calendar_group, jobs_group, scheduler_command
from bot.cli.ledger import ledger_group
from bot.cli.main import cli
from bot.cli.modules import import_modules_command
from bot.cli.surveys import surveys_group

for command in (
    import_org_command,
    import_departments_command,
    rules_group,
    scheduler_command,
    jobs_group,
    calendar_group,
    ledger_group,
    campaigns_group,
    review_group,
    rewards_group,
    suggestions_group,
    surveys_group,
    import_modules_command,
    evidence_group,
):
    cli.add_command(command)

__all__ = ["cli"]
