"""`python -m bot evidence export` (design §15): one employee's photos, an xlsx index of claims,
decisions, appeals and ledger entries, and the hash-chain proof of those entries, which
`ledger verify --checkpoint` accepts as exported and rejects once altered."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.models import Appeal, Claim, LedgerEntry, Role
from bot.notices import export as texts
from bot.services.evidence import photo_path
from bot.services.evidence_export import export_evidence, window_start
from bot.services.ledger import append_entry
from handlers.claim import PICK_TITLE
from tests.conftest import TZ
from tests.factories import make_employee, make_team, photo_bytes
from tests.localchat import button, last_card, press, say, send_photo

FORMULA = '=HYPERLINK("http://evil.example","点我")'


def _claim(client, session, drain, worker, seed, code):
    send_photo(client, worker, photo_bytes(seed))
    drain()
    press(client, worker, button(last_card(session, worker, PICK_TITLE), code))
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


def _decide(client, session, drain, who, claim, label, reason=None):
    press(client, who, button(last_card(session, who, f"待审核申领 #{claim.id}"), label))
    drain()
    if reason:
        say(client, who, reason)
        drain()


@pytest.fixture
def history(client, session, drain, clock):
    """A worker with an approved claim, a rejected one appealed and overturned, and a
    colleague whose entries sit in between."""
    boss, (worker, colleague) = make_team(session)
    manager = make_employee(session, name="陈经理", role=Role.SUPERVISOR)
    boss.supervisor = manager
    session.commit()
    approved = _claim(client, session, drain, worker, 1, "A01")
    _decide(client, session, drain, boss, approved, "通过")
    other = _claim(client, session, drain, colleague, 2, "A04")
    _decide(client, session, drain, boss, other, "通过")
    appealed = _claim(client, session, drain, worker, 3, "A03")
    _decide(client, session, drain, boss, appealed, "驳回", "看不出是什么问题")
    clock.advance(hours=1)
    say(client, worker, f"申诉 {appealed.id} {FORMULA}")
    drain()
    press(client, manager, button(last_card(session, manager, "申诉复核"), "改判通过"))
    drain()
    return worker, colleague, approved, appealed


def _export(session, state, worker, clock, months=3):
    return export_evidence(
        session, worker, now=clock.now(), tz=TZ, media_dir=state.config.media_dir, months=months
    )


def _book(export):
    """The export's index.xlsx, opened."""
    with zipfile.ZipFile(io.BytesIO(export.data)) as archive:
        return load_workbook(io.BytesIO(archive.read("index.xlsx")))


def _rows(book, sheet):
    return [list(r) for r in book[sheet].iter_rows(min_row=2, values_only=True)]


def test_export_holds_the_photos_the_index_the_proof_and_a_readme(session, state, clock, history):
    worker, _, approved, appealed = history
    export = _export(session, state, worker, clock)
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    names = set(archive.namelist())
    photos = {f"photos/evidence-{c.evidence_id}.jpg": c for c in (approved, appealed)}
    assert names == {"README.txt", "index.xlsx", "chain-proof.json", *photos}
    for name, claim in photos.items():
        assert archive.read(name) == photo_path(state.config.media_dir, claim.evidence).read_bytes()
    assert "python -m bot ledger verify --checkpoint chain-proof.json" in archive.read(
        "README.txt"
    ).decode("utf-8")
    assert export.filename == f"evidence-{worker.employee_no}-20261126-1100.zip"
    assert (export.claims, export.photos, export.appeals, export.entries) == (2, 2, 1, 2)


def test_index_lists_claims_decisions_appeals_and_ledger_entries(session, state, clock, history):
    worker, _, approved, appealed = history
    book = _book(_export(session, state, worker, clock))
    assert book.sheetnames == ["说明", "申领", "决定记录", "申诉", "积分流水"]
    claims = _rows(book, "申领")
    assert [(r[0], r[2], r[6], r[10]) for r in claims] == [
        (approved.id, "A01", "已通过", 20),
        (appealed.id, "A03", "已通过", 10),
    ]
    assert claims[0][11] == f"photos/evidence-{approved.evidence_id}.jpg"
    appeal_id = session.scalar(select(Appeal.id))
    decisions = [(r[1], r[2]) for r in _rows(book, "决定记录")]
    assert decisions == [
        ("提交申领", f"申领 #{approved.id}"),
        ("通过", f"申领 #{approved.id}"),
        ("提交申领", f"申领 #{appealed.id}"),
        ("驳回", f"申领 #{appealed.id}"),
        ("提交申诉", f"申诉 #{appeal_id}"),
        ("改判通过", f"申诉 #{appeal_id}"),
    ]
    (appeal,) = _rows(book, "申诉")
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.employee_id == worker.id).order_by(LedgerEntry.seq)
    ).all()
    assert appeal[:2] == [appeal_id, appealed.id] and appeal[6] == "看不出是什么问题"
    assert appeal[9] == "改判通过" and appeal[13] == 10 and appeal[14] == entries[1].seq
    ledger = _rows(book, "积分流水")
    assert [(r[0], r[2], r[3], r[6], r[7], r[12]) for r in ledger] == [
        (entries[0].seq, 20, "申领", approved.id, None, entries[0].hash),
        (entries[1].seq, 10, "申诉改判", appealed.id, appeal_id, entries[1].hash),
    ]


def test_a_reason_typed_as_a_formula_stays_text_in_the_index(session, state, clock, history):
    worker = history[0]
    book = _book(_export(session, state, worker, clock))
    cell = book["申诉"]["D2"]
    assert cell.value == FORMULA and cell.data_type == "s"


def test_window_leaves_out_what_is_older(session, state, clock, history):
    worker = history[0]
    old = clock.now() - timedelta(days=100)
    append_entry(session, worker, 5, kind="claim", memo="B01 交接记录", now=old)
    session.commit()
    assert _export(session, state, worker, clock, months=3).entries == 2
    six = _export(session, state, worker, clock, months=6)
    # By seq: the old entry was appended last, with its own (earlier) time.
    assert six.entries == 3 and [e["points"] for e in six.proof.entries] == [20, 10, 5]


def test_a_missing_photo_file_is_marked_in_the_index_not_fatal(session, state, clock, history):
    worker, _, approved, _ = history
    photo_path(state.config.media_dir, approved.evidence).unlink()
    export = _export(session, state, worker, clock)
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    assert f"photos/evidence-{approved.evidence_id}.jpg" not in archive.namelist()
    book = load_workbook(io.BytesIO(archive.read("index.xlsx")))
    assert _rows(book, "申领")[0][11].endswith(texts.PHOTO_MISSING) and export.photos == 1


def test_window_start_is_calendar_months_back_at_local_midnight(clock):
    start = window_start(clock.now().replace(month=5, day=31), TZ, 3)
    assert start.astimezone(TZ).isoformat() == "2026-02-28T00:00:00+08:00"


# -- the command and `ledger verify` ---------------------------------------------------------------


def _exported_proof(run_cli, tmp_path, worker) -> dict:
    out = tmp_path / "export.zip"
    # The command reads the real clock; 120 months reach the fixed test dates whenever it runs.
    code, output = run_cli(
        "evidence", "export", worker.employee_no, "--months", "120", "-o", str(out)
    )
    assert code == 0, output
    assert output.startswith(f"wrote {out}: 2 claims, 2 photos, 1 appeals, 2 ledger entries")
    with zipfile.ZipFile(out) as archive:
        archive.extract("chain-proof.json", tmp_path / "unzipped")
    return json.loads((tmp_path / "unzipped" / "chain-proof.json").read_text(encoding="utf-8"))


def test_exported_proof_is_accepted_by_ledger_verify(run_cli, tmp_path, session, history):
    worker = history[0]
    proof = _exported_proof(run_cli, tmp_path, worker)
    assert [e["points"] for e in proof["entries"]] == [20, 10]
    assert proof["entries"][1]["memo"].startswith(f"申诉 #{session.scalar(select(Appeal.id))} 改判")
    code, output = run_cli(
        "ledger", "verify", "--checkpoint", str(tmp_path / "unzipped" / "chain-proof.json")
    )
    assert code == 0, output
    assert "chain intact" in output and "1 proof(s) sound" in output


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["entries"][1].update(points=100),
        lambda d: d["entries"][1].update(memo="A01 发现模具磨损隐患并报修"),
        lambda d: d["entries"].pop(0),
    ],
    ids=["points", "memo", "dropped-entry"],
)
def test_altered_copy_of_the_exported_proof_is_rejected(run_cli, tmp_path, history, change):
    worker = history[0]
    proof = _exported_proof(run_cli, tmp_path, worker)
    change(proof)
    altered = tmp_path / "altered-chain-proof.json"
    altered.write_text(json.dumps(proof, ensure_ascii=False), encoding="utf-8")
    code, output = run_cli("ledger", "verify", "--checkpoint", str(altered))
    assert code == 1 and "MISMATCH proof of " in output


def test_export_of_an_unknown_employee_is_one_clear_line(run_cli, tmp_path):
    code, output = run_cli("evidence", "export", "E404", "-o", str(tmp_path / "x.zip"))
    assert code == 1 and "error: no employee with number E404" in output
    assert not (tmp_path / "x.zip").exists()
