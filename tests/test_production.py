"""The production guide of the README, run as written (design §3, §16): two web processes
(gunicorn), two `python -m bot worker` and two `python -m bot scheduler` on PostgreSQL against
the fake Feishu. 1,000 signed, encrypted callbacks arrive, each event delivered to both web
processes (as a platform retries); the claims the burst signal holds get HR's second approval,
and one worker is killed with SIGKILL midway through those. Afterwards every
message was delivered once and every claim credited once.

Feishu is the platform here because it makes every send idempotent (`uuid`), so "delivered
once" is what the person sees even when a killed worker's send is made again. A worker killed
while holding rows stops renewing their 20-second leases (bot/runtime/leases.py): the live
worker takes them over and finishes them, and the test prints how long after the kill.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, make_url, select, text

from bot.clock import Clock
from bot.config import load_config
from bot.db import make_engine, make_session_factory, session_scope
from bot.models import (
    Claim,
    ClaimApproval,
    ClaimState,
    InboundEvent,
    LedgerEntry,
    Outbox,
    SchedulerLease,
)
from bot.runtime.delivery import idempotency_key
from bot.services.ledger import verify_ledger
from tests.conftest import PG_URL, ROOT, _pg_reason
from tests.drivers.feishu import APP_ID, ENCRYPT_KEY, TOKEN, env
from tests.fakes.feishu import FakeFeishu, FeishuEvents

SUPERVISORS, WORKERS_EACH = 5, 20
CLAIM_RULES = ("A02", "B06")  # no photo needed, once a day each
WAIT = 240.0

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(900),
    pytest.mark.skipif(_pg_reason() is not None, reason=str(_pg_reason())),
]


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll another process's progress (through the database or the fake) until `check`."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.25)):
        if check():
            return
        pause.wait(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """What FeishuEvents needs of a client, over real HTTP to one web process."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def post(self, path: str, *, data: bytes, headers: dict[str, str], content_type: str) -> Any:
        return self.session.post(self.base + path, data=data, timeout=30,
                                 headers={**headers, "Content-Type": content_type})  # fmt: skip


@pytest.fixture
def database() -> Iterator[str]:
    """A private PostgreSQL database, dropped afterwards."""
    name = f"bot_prod_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    server = FakeFeishu().start()
    yield server
    server.stop()


class Fleet:
    """The processes of the guide, with their logs."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, *args: str) -> str:
        """A one-off command (db upgrade, import-org); its output."""
        done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self, name: str, argv: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)  # fmt: skip

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.logs.glob("*.log"))
        )


def _org_csv() -> str:
    rows = ["employee_no,name,department,role,supervisor_no,feishu_open_id",
            "H1,周敏,人力资源部,hr,,ou_h1"]  # fmt: skip
    for s in range(1, SUPERVISORS + 1):
        rows.append(f"S{s},主管{s},车间{s},supervisor,H1,ou_s{s}")
        for w in range(1, WORKERS_EACH + 1):
            rows.append(f"W{s}{w:02d},员工{s}-{w},车间{s},worker,S{s},ou_w{s}{w:02d}")
    return "\n".join(rows) + "\n"


def test_two_webs_two_workers_two_schedulers_deliver_once_and_credit_once(database, fake, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "WECOM_", "DINGTALK_"))
    }
    process_env = {
        **base_env, **env(fake), "DATABASE_URL": database, "BOT_ENV": "production",
        "BOT_SECRET_KEY": "p" * 32, "BOT_LEDGER_KEY": "l" * 32,
        "BOT_VAR_DIR": str(tmp_path / "var"), "BOT_MEDIA_DIR": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    fleet = Fleet(process_env, logs)
    fleet.run("db", "upgrade")
    org = tmp_path / "org.csv"
    org.write_text(_org_csv(), encoding="utf-8")
    assert "created 106" in fleet.run("import-org", str(org))

    ports = [_free_port(), _free_port()]
    try:
        for i, port in enumerate(ports):
            fleet.start(f"web{i}", [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "4",
                                    "-b", f"127.0.0.1:{port}", "wsgi:app"])  # fmt: skip
        for i in range(2):
            fleet.start(f"worker{i}", [sys.executable, "-m", "bot", "worker"])
            fleet.start(f"scheduler{i}", [sys.executable, "-m", "bot", "scheduler"])
        webs = [f"http://127.0.0.1:{p}" for p in ports]
        wait_until(lambda: all(_ready(w) for w in webs), "both web processes to be ready", 60)
        _exercise(fleet, webs, fake, database, process_env)
    except BaseException:
        print(fleet.tail())
        raise
    finally:
        fleet.stop()


def _ready(base: str) -> bool:
    try:
        return requests.get(base + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _exercise(fleet: Fleet, webs: list[str], fake: FakeFeishu, database: str, env_: dict) -> None:
    clock = Clock()
    senders = [FeishuEvents(Http(w), clock, token=TOKEN, encrypt_key=ENCRYPT_KEY, app_id=APP_ID)
               for w in webs]  # fmt: skip
    engine = make_engine(database)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def twice(send: Callable[[FeishuEvents], Any]) -> None:
        """One event, delivered to both web processes (a platform's retry of it)."""
        for sender in senders:
            status = send(sender).status_code
            with lock:
                statuses[status] += 1

    def scalar(query: Any) -> Any:
        with engine.connect() as conn:
            return conn.execute(query).scalar()

    workers = [
        f"ou_w{s}{w:02d}" for s in range(1, SUPERVISORS + 1) for w in range(1, WORKERS_EACH + 1)
    ]
    claims_wanted = len(workers) * len(CLAIM_RULES)
    jobs: list[Callable[[], None]] = []
    for n, uid in enumerate(workers):
        for code in CLAIM_RULES:
            ids = {"event_id": secrets.token_hex(16), "message_id": f"om_in_{uid}_{code}"}
            line = f"申领 {code} 帮{n % 7 + 1}号线调试"
            jobs.append(lambda uid=uid, line=line, ids=ids: twice(
                lambda s: s.text(uid, line, **ids)))  # fmt: skip
        ids = {"event_id": secrets.token_hex(16), "message_id": f"om_in_{uid}_points"}
        jobs.append(lambda uid=uid, ids=ids: twice(lambda s: s.text(uid, "积分", **ids)))

    with ThreadPoolExecutor(8) as pool:
        for job in jobs:
            pool.submit(job)
    distinct_events = len(jobs)
    wait_until(lambda: scalar(select(func.count(Claim.id))) == claims_wanted, "every claim")

    def cards(title: str) -> list[Any]:
        return [m for m in list(fake.messages) if m.msg_type == "interactive"
                and m.title.startswith(title)]  # fmt: skip

    def press_all(found: list[Any]) -> list[Callable[[], None]]:
        clicks = []
        for card in found:
            ids = {"event_id": secrets.token_hex(16)}
            clicks.append(lambda card=card, ids=ids: twice(
                lambda s: s.press(card.receive_id, card, "通过", **ids)))  # fmt: skip
        return clicks

    wait_until(lambda: len(cards("待审核申领 #")) >= claims_wanted, "every approval card")
    # A supervisor approving 40 claims in a minute trips the burst signal (design §15): from
    # the 10th on, a claim waits for the second approval of the supervisor's supervisor (HR).
    first = press_all(cards("待审核申领 #"))
    with ThreadPoolExecutor(8) as pool:
        for click in first:
            pool.submit(click)
    distinct_events += len(first)
    decided = select(func.count(ClaimApproval.id)).where(ClaimApproval.stage == 1)
    wait_until(lambda: scalar(decided) == claims_wanted, "every first approval")
    approved = select(func.count(Claim.id)).where(Claim.state == ClaimState.APPROVED)
    held = claims_wanted - scalar(approved)
    assert held > claims_wanted // 2
    wait_until(lambda: len(cards("待复核申领 #")) >= held, "every second-approval card")
    second = press_all(cards("待复核申领 #"))
    halfway = claims_wanted - held // 2
    with ThreadPoolExecutor(8) as pool:
        for click in second:
            pool.submit(click)
        # SIGKILL one worker midway through HR's approvals: whatever it holds is abandoned.
        wait_until(lambda: (scalar(approved) or 0) >= halfway, "half the held claims approved")
        fleet.procs["worker0"].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        leased = _held(engine)  # the killed worker's rows among them, the live one's the rest
    assert fleet.procs["worker0"].wait(10) == -signal.SIGKILL
    distinct_events += len(second)
    assert sum(statuses.values()) == 2 * distinct_events >= 1000
    assert set(statuses) == {200}, statuses

    _settle(engine, scalar, distinct_events, killed, leased)
    _check(engine, scalar, fake, claims_wanted, workers, load_config(env_).ledger_key)
    metrics = requests.get(webs[1] + "/metrics", timeout=10).text
    assert 'bot_callbacks_total{platform="feishu",status="200"}' in metrics
    assert "bot_outbox_depth 0.0" in metrics
    engine.dispose()


def _held(engine: Any) -> set[tuple[str, int, int]]:
    """Rows some worker holds now, as (table, id, attempts): the attempts name the lease."""
    with engine.connect() as conn:
        return {
            (model.__tablename__, row_id, attempts)
            for model, state in ((InboundEvent, "processing"), (Outbox, "sending"))
            for row_id, attempts in conn.execute(
                select(model.id, model.attempts).where(model.state == state)
            )
        }


def _settle(
    engine: Any, scalar: Callable[[Any], Any], events: int, killed: float,
    held: set[tuple[str, int, int]],
) -> None:  # fmt: skip
    """Wait until no row held at the kill is still under the same lease (the live worker
    finished its own and took the killed worker's over once their leases, no longer renewed,
    ran out), then for everything to be done."""
    wait_until(lambda: not held & _held(engine), "the killed worker's rows taken over")
    print(f"{len(held)} rows held at the kill: every one finished or taken over "
          f"{time.monotonic() - killed:.1f} s after it")  # fmt: skip
    wait_until(
        lambda: scalar(select(func.count(InboundEvent.id))) == events, "every event recorded"
    )

    def left(*states: str) -> int:
        inbound = select(func.count(InboundEvent.id)).where(InboundEvent.state.in_(states))
        outbox = select(func.count(Outbox.id)).where(Outbox.state.in_(states))
        return (scalar(inbound) or 0) + (scalar(outbox) or 0)

    wait_until(lambda: left("pending", "sending", "processing") == 0, "the live worker")
    print(f"everything done {time.monotonic() - killed:.0f} s after the kill")


def _check(engine: Any, scalar: Callable[[Any], Any], fake: FakeFeishu, claims: int,
           workers: list[str], ledger_key: str) -> None:  # fmt: skip
    """Every event handled once, every claim credited once, every message delivered once."""
    assert scalar(select(func.count(InboundEvent.id)).where(InboundEvent.state != "done")) == 0
    assert scalar(select(func.count(Claim.id)).where(Claim.state == ClaimState.APPROVED)) == claims
    with engine.connect() as conn:
        per_claim = Counter(
            conn.execute(
                select(LedgerEntry.claim_id).where(LedgerEntry.claim_id.is_not(None))
            ).scalars()
        )
        sends = conn.execute(
            select(Outbox.id, Outbox.created_at, Outbox.state).where(Outbox.kind == "send")
        ).all()
        updates = conn.execute(
            select(func.count(Outbox.id)).where(Outbox.kind == "update", Outbox.state != "sent")
        ).scalar()
    assert len(per_claim) == claims and set(per_claim.values()) == {1}
    assert {state for _, _, state in sends} == {"sent"} and updates == 0
    delivered = Counter(m.uuid for m in fake.messages)
    keys = {idempotency_key(row_id, created_at) for row_id, created_at, _ in sends}
    assert set(delivered) == keys and set(delivered.values()) == {1}
    approved = Counter(
        m.receive_id for m in fake.messages if m.msg_type == "text" and "申领通过" in m.text
    )
    assert approved == dict.fromkeys(workers, len(CLAIM_RULES))
    with session_scope(make_session_factory(engine, ledger_key=ledger_key)) as session:
        assert verify_ledger(session).ok
        lease = session.get(SchedulerLease, 1)
        assert lease is not None and lease.holder  # one of the two schedulers is active
