"""ledger_checkpoint (daily, 08:47): publish a signed checkpoint of the ledger's head.

The checkpoint goes to each active HR employee's chat (1:1) and into a file in
BOT_LEDGER_CHECKPOINT_DIR (`ledger-checkpoint-DAY.txt`), and is recorded in the database.
Before signing, the newest entry is checked against its keyed hash and the chain against the
newest checkpoints in that directory and the database: if anything disagrees, nothing is
signed and HR is told to have the ledger verified. When the head has not moved since the last
checkpoint HR received (a quiet weekend), the file is still written but no message is sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.jobs.common import queue_to
from bot.models import Employee, Role
from bot.notices import ledger as notices
from bot.services.chain import session_key
from bot.services.checkpoints import (
    EmptyLedger,
    directory_files,
    head_checkpoint,
    last_sent,
    read_checkpoint_files,
    record_checkpoint,
    recorded_checkpoints,
    spot_check,
    write_checkpoint_file,
)
from cards import Text

if TYPE_CHECKING:
    from bot.jobs.base import JobContext

log = logging.getLogger(__name__)
EARLIER_FILES = 7  # the spot check reads the newest week of files; `ledger verify` reads all


def run_ledger_checkpoint(ctx: JobContext) -> str:
    """Check, sign, file and send today's checkpoint; returns what was done."""
    session = ctx.session
    key = session_key(session)
    hr = list(
        session.scalars(
            select(Employee)
            .where(Employee.role == Role.HR, Employee.active.is_(True))
            .order_by(Employee.id)
        )
    )
    date = ctx.local_now.strftime("%Y-%m-%d")
    earlier = recorded_checkpoints(session)[0][-EARLIER_FILES:]
    if ctx.checkpoint_dir is not None:
        files = directory_files(ctx.checkpoint_dir)[-EARLIER_FILES:]
        earlier += read_checkpoint_files(files)[0]
    problems = spot_check(session, key, earlier)
    if problems:
        for problem in problems:
            log.error("ledger checkpoint refused: %s", problem)
        alert = Text(notices.CHECKPOINT_ALERT.format(date=date, count=len(problems)))
        sent = queue_to(session, alert, hr, ctx.now)
        return f"refused: {len(problems)} problem(s), see the log; hr alerted={sent}"
    try:
        checkpoint = head_checkpoint(session, ctx.local_now)
    except EmptyLedger:
        return "ledger empty; nothing to checkpoint"
    path = None
    if ctx.checkpoint_dir is not None:
        try:
            path = write_checkpoint_file(ctx.checkpoint_dir, checkpoint, date)
        except OSError as exc:
            log.error("ledger checkpoint: cannot write into %s: %s", ctx.checkpoint_dir, exc)
    previous = last_sent(session)
    sent = 0
    if previous is None or previous.seq != checkpoint.seq:
        text = notices.CHECKPOINT_NOTICE.format(
            date=date, time=ctx.local_now.strftime("%H:%M"), seq=checkpoint.seq,
            line=checkpoint.line,
        )  # fmt: skip
        sent = queue_to(session, Text(text), hr, ctx.now)
    if not hr:
        log.warning("ledger checkpoint: no active HR employee to send it to")
    record_checkpoint(session, checkpoint, source="job", now=ctx.now, path=path, recipients=sent)
    return f"seq={checkpoint.seq} file={path or '-'} hr={sent}"
