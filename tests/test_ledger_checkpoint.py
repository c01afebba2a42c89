"""Publishing the ledger's head: the daily job `ledger_checkpoint` (HR's chat and a file) and
`python -m bot ledger checkpoint`; `ledger verify` reads the checkpoints back."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from bot.cli import cli
from bot.jobs import run_job
from bot.models import LedgerCheckpoint, Role
from bot.notices.ledger import CHECKPOINT_ALERT, CHECKPOINT_NOTICE
from bot.services.chain import parse_checkpoints
from bot.services.ledger import append_entry
from cards import Text
from tests.conftest import SECRET, TZ
from tests.factories import make_employee, make_team
from tests.localchat import inbox

MORNING = datetime(2026, 11, 27, 8, 47, tzinfo=TZ)
NOTICE_START = CHECKPOINT_NOTICE.split("{")[0]
ALERT_START = CHECKPOINT_ALERT.split("{")[0]


@pytest.fixture
def hr(session):
    people = [make_employee(session, name=n, role=Role.HR) for n in ("李人事", "周人事")]
    make_employee(session, name="离职人事", role=Role.HR, active=False)
    return people


@pytest.fixture
def credited(session, clock):
    _, (a, b) = make_team(session)
    for i, who in enumerate((a, b, a)):
        append_entry(session, who, 5 + i, kind="claim", memo="B01", category="质量",
                     now=clock.now() + timedelta(minutes=i))  # fmt: skip
    session.commit()
    return a, b


@pytest.fixture
def directory(tmp_path):
    return tmp_path / "checkpoints"


@pytest.fixture
def run(state, directory, clock):
    def _run(now: datetime, where=None):
        clock.set(now)
        return run_job(
            state.session_factory, "ledger_checkpoint", now, tz=state.config.tz,
            signer=state.signer, media_dir=state.config.media_dir,
            platforms=frozenset(state.adapters), checkpoint_dir=where or directory,
        )  # fmt: skip

    return _run


@pytest.fixture
def ledger_cli(state, tmp_path, directory):
    env = {"DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
           "BOT_SECRET_KEY": SECRET, "BOT_VAR_DIR": str(tmp_path / "var"), "BOT_ENV": "test",
           "BOT_LEDGER_CHECKPOINT_DIR": str(directory)}  # fmt: skip

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["ledger", *args], env=env)

    return invoke


def _texts(session, person) -> list[str]:
    return [m.text for m in inbox(session, person) if isinstance(m, Text)]


def test_daily_checkpoint_reaches_each_active_hr_employee_and_the_directory(
    session, hr, credited, run, drain, directory
):
    outcome = run(MORNING)
    drain()
    path = directory / "ledger-checkpoint-2026-11-27.txt"
    assert outcome.ran and outcome.result == f"seq=3 file={path} hr=2"
    (checkpoint,), problems = parse_checkpoints(path.read_text(encoding="utf-8"))
    assert problems == [] and checkpoint.seq == 3 and checkpoint.at == "2026-11-27T08:47:00+08:00"
    for person in hr:
        (message,) = _texts(session, person)
        assert message.startswith(NOTICE_START) and checkpoint.line in message
        assert "请保留这条消息" in message
    row = session.scalars(select(LedgerCheckpoint)).one()
    assert (row.seq, row.source, row.recipients, row.line) == (3, "job", 2, checkpoint.line)


def test_checkpoint_job_runs_once_a_day_and_stays_quiet_when_nothing_changed(
    session, hr, credited, run, drain, directory
):
    assert run(MORNING).ran
    assert not run(MORNING + timedelta(hours=3)).ran
    next_day = run(MORNING + timedelta(days=1))
    drain()
    assert next_day.ran and next_day.result.endswith("hr=0")
    assert (directory / "ledger-checkpoint-2026-11-28.txt").exists()
    assert len(_texts(session, hr[0])) == 1


def test_checkpoint_job_sends_again_once_the_head_moved(session, hr, credited, run, drain):
    run(MORNING)
    append_entry(session, credited[0], 5, kind="claim", memo="B01", now=MORNING)
    session.commit()
    assert run(MORNING + timedelta(days=1)).result.startswith("seq=4 ")
    drain()
    assert len(_texts(session, hr[0])) == 2


def test_checkpoint_job_on_an_empty_ledger_publishes_nothing(session, hr, run, drain, directory):
    outcome = run(MORNING)
    drain()
    assert outcome.result == "ledger empty; nothing to checkpoint"
    assert _texts(session, hr[0]) == [] and not directory.exists()


def test_checkpoint_job_refuses_and_alerts_hr_when_the_chain_lost_what_it_saw(
    session, hr, credited, run, drain, directory
):
    run(MORNING)
    session.execute(text("DELETE FROM ledger_entries WHERE seq = 3"))
    session.execute(text("DELETE FROM ledger_checkpoints"))
    session.execute(text(
        "UPDATE ledger_head SET seq = 2, hash = (SELECT hash FROM ledger_entries WHERE seq = 2)"
    ))  # fmt: skip
    session.commit()
    outcome = run(MORNING + timedelta(days=1))
    drain()
    assert outcome.result.startswith("refused: 1 problem(s)")
    assert _texts(session, hr[1])[-1].startswith(ALERT_START)
    assert not (directory / "ledger-checkpoint-2026-11-28.txt").exists()


def test_checkpoint_still_reaches_hr_when_the_directory_cannot_be_written(
    session, hr, credited, run, drain, tmp_path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    outcome = run(MORNING, where=blocker)
    drain()
    assert outcome.result == "seq=3 file=- hr=2"
    assert _texts(session, hr[0])[0].startswith(NOTICE_START)


def test_checkpoint_command_prints_one_signed_line(session, credited, ledger_cli):
    result = ledger_cli("checkpoint")
    assert result.exit_code == 0, result.output
    (checkpoint,), _ = parse_checkpoints(result.output)
    assert result.output == checkpoint.line + "\n" and checkpoint.seq == 3
    assert session.scalars(select(LedgerCheckpoint.source)).all() == ["cli"]


def test_checkpoint_command_adds_to_a_file_without_overwriting_it(
    session, credited, ledger_cli, tmp_path
):
    path = tmp_path / "kept" / "ledger.txt"
    assert ledger_cli("checkpoint", "-o", str(path)).exit_code == 0
    append_entry(session, credited[1], 5, kind="claim", memo="B01", now=MORNING)
    session.commit()
    second = ledger_cli("checkpoint", "-o", str(path))
    assert second.output == f"checkpoint of seq 4 added to {path}\n"
    found, _ = parse_checkpoints(path.read_text(encoding="utf-8"))
    assert [cp.seq for cp in found] == [3, 4]
    verified = ledger_cli("verify", "--checkpoint", str(path))
    assert verified.exit_code == 0 and "holds what 2 checkpoint(s) saw" in verified.output


def test_checkpoint_command_on_an_empty_ledger_says_so(ledger_cli):
    result = ledger_cli("checkpoint")
    assert result.exit_code == 1 and "the ledger has no entries yet" in result.output


def test_checkpoint_command_refuses_to_sign_a_forged_newest_entry(session, credited, ledger_cli):
    session.execute(text("UPDATE ledger_entries SET points = 500 WHERE seq = 3"))
    session.commit()
    result = ledger_cli("checkpoint")
    assert result.exit_code == 1
    assert "MISMATCH seq 3: content does not match its hash" in result.output
    assert session.scalars(select(LedgerCheckpoint)).all() == []


def test_verify_checks_the_checkpoint_directory_without_being_told(
    session, hr, credited, run, ledger_cli
):
    run(MORNING)
    session.execute(text("DELETE FROM ledger_entries WHERE seq = 3"))
    session.execute(text("DELETE FROM ledger_checkpoints"))
    session.execute(text(
        "UPDATE ledger_head SET seq = 2, hash = (SELECT hash FROM ledger_entries WHERE seq = 2)"
    ))  # fmt: skip
    session.commit()
    result = ledger_cli("verify")
    assert result.exit_code == 1
    assert "saw entry seq 3, but the chain ends at seq 2" in result.output


def test_hr_chat_message_saved_as_a_file_is_a_checkpoint(
    session, hr, credited, run, drain, ledger_cli, tmp_path
):
    run(MORNING)
    drain()
    pasted = tmp_path / "from-chat.txt"
    pasted.write_text(_texts(session, hr[0])[0], encoding="utf-8")
    result = ledger_cli("verify", "--checkpoint", str(pasted))
    assert result.exit_code == 0, result.output
    assert "3 entries, chain intact; holds what 1 checkpoint(s) saw" in result.output


def test_verify_names_a_file_that_holds_no_checkpoint(credited, ledger_cli, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("ledger-checkpoint v1 seq=3 hash=abc\n", encoding="utf-8")
    result = ledger_cli("verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert f"MISMATCH {path} line 1: not a valid ledger checkpoint" in result.output
