"""The database away and back (issue 15): every route answers 503 with Retry-After while it is
away, in one shape (JSON, or a short Chinese page for the console), and logs one line without a
traceback; what was refused and is delivered again afterwards is handled exactly once.

`test_every_route_answers_503_while_the_database_is_away` needs no server: a SQLite file that
cannot be opened, a PostgreSQL port where nothing listens. The restart test runs a private
PostgreSQL cluster (initdb in a temporary directory, as the `postgres` OS user when the suite
runs as root) under the app served over real HTTP, stops it with `pg_ctl stop -m fast` while
WeCom, DingTalk, Feishu and the API send continuously, starts it again and counts every reply.
"""

from __future__ import annotations

import itertools
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, insert, select
from werkzeug.serving import make_server

from bot.app import RETRY_AFTER_SECONDS, UNAVAILABLE_TEXT, bot_state, create_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.db import make_engine, make_session_factory, session_scope, upgrade
from bot.models import Claim, Employee, Identity, InboundEvent, Role, Task
from tests.conftest import SECRET, START
from tests.drivers.feishu import APP_ID, ENCRYPT_KEY, TOKEN
from tests.drivers.feishu import env as feishu_env
from tests.fakes.dingtalk import APP_SECRET as DINGTALK_SECRET
from tests.fakes.dingtalk import FakeDingtalk, card_click, post_card, post_robot, robot_message
from tests.fakes.feishu import FakeFeishu, FeishuEvents
from tests.fakes.wecom import AES_KEY as WECOM_AES_KEY
from tests.fakes.wecom import FakeWecom, WecomCallbacks
from tests.fakes.wecom import env as wecom_env

API_TOKEN = "api-token-0123456789abcdef"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
UNAVAILABLE_LOG = "database unavailable, answered 503"
PEOPLE = 3000  # workers per platform: each claim comes from someone who has not claimed yet
WARM, RECOVERED = 5, 5  # successes per sender before the stop, and after the start


# -- the app and the platforms, over real HTTP ---------------------------------------------------


@dataclass
class Fakes:
    wecom: FakeWecom = field(default_factory=FakeWecom)
    dingtalk: FakeDingtalk = field(default_factory=FakeDingtalk)
    feishu: FakeFeishu = field(default_factory=FakeFeishu)

    def env(self) -> dict[str, str]:
        return {**wecom_env(self.wecom), **self.dingtalk.env(), **feishu_env(self.feishu)}


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    found = Fakes()
    for fake in (found.wecom, found.dingtalk, found.feishu):
        fake.start()
    yield found
    for fake in (found.wecom, found.dingtalk, found.feishu):
        fake.stop()


def build_app(url: str, fakes: Fakes, tmp_path: Path, clock: FixedClock) -> Flask:
    """The real app on `url` with all three platforms, the API and the local chat."""
    env = {
        "DATABASE_URL": url, "BOT_SECRET_KEY": SECRET, "BOT_API_TOKEN": API_TOKEN,
        "BOT_MEDIA_DIR": str(tmp_path / "media"), "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_ENV": "test", **fakes.env(),
    }  # fmt: skip
    # Not app.testing: an unhandled error must come back as the 500 a platform would see.
    return create_app({"CONFIG": load_config(env), "CLOCK": clock, "ENGINE": make_engine(url)})


class Http:
    """What the inbound helpers of tests/fakes need of a client, over real HTTP."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def post(self, path: str, *, data: Any = None, json: Any = None, headers: Any = None,
             content_type: str | None = None) -> requests.Response:  # fmt: skip
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        return self.session.post(self.base + path, data=data, json=json, headers=headers,
                                 timeout=30)  # fmt: skip

    def get(self, path: str, *, headers: Any = None) -> requests.Response:
        return self.session.get(self.base + path, headers=headers or {}, timeout=30,
                                allow_redirects=False)  # fmt: skip


class Served:
    """The app on 127.0.0.1 in a werkzeug server thread (threaded, as gunicorn's gthread is)."""

    def __init__(self, app: Flask):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


# -- every route family, each a request a platform, a system or a browser makes ------------------


def route_probes(http: Http, clock: FixedClock) -> dict[str, Callable[[], requests.Response]]:
    """One request per route family that needs the database, by name."""
    wecom = WecomCallbacks(http, lambda: int(clock.now().timestamp()))
    feishu = FeishuEvents(http, clock, token=TOKEN, encrypt_key=ENCRYPT_KEY, app_id=APP_ID)
    bearer = {"Authorization": f"Bearer {API_TOKEN}"}
    # A signed-in HR person's browser: the console looks the session cookie up.
    browser = {
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Cookie": "bot_console=a-session-token",
    }
    task = {"source": "mes", "external_id": "WO-probe", "title": "点检", "owner": "P-0"}
    return {
        "wecom": lambda: wecom.text("wx-probe", "积分"),
        "dingtalk robot": lambda: post_robot(
            http, clock.now(), robot_message("dt-probe", text="积分")
        ),
        "dingtalk card": lambda: post_card(
            http, clock.now(), card_click("track-1", "dt-probe", "signed-value")
        ),
        "feishu": lambda: feishu.text("ou_probe", "积分"),
        "api write": lambda: http.post("/api/v1/tasks", json=task, headers=bearer),
        "api read": lambda: http.get("/api/v1/broadcasts/1", headers=bearer),
        "local chat": lambda: http.get("/local/api/employees"),
        "console": lambda: http.get("/console/", headers=browser),
    }


def assert_monitoring_sees_the_outage(http: Http) -> None:
    """/readyz says why it is not ready; /metrics still answers the scrape, with the database
    gauge at 0 (a failed scrape would hide every other measure)."""
    ready = http.get("/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "database unreachable"})
    scrape = http.get("/metrics")
    assert scrape.status_code == 200 and "bot_metrics_database_up 0.0" in scrape.text


def assert_unavailable(name: str, response: requests.Response) -> None:
    """503 with Retry-After; the console's short Chinese page, JSON everywhere else."""
    assert response.status_code == 503, (name, response.status_code, response.text[:300])
    assert response.headers.get("Retry-After") == str(RETRY_AFTER_SECONDS), name
    assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower()
    if name == "console":
        assert response.headers["Content-Type"].startswith("text/html"), name
        assert "服务暂时不可用" in response.text
    else:
        assert response.json() == {"error": "unavailable", "message": UNAVAILABLE_TEXT}, name


def unavailable_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(UNAVAILABLE_LOG)]


def assert_one_line_each(caplog: pytest.LogCaptureFixture, refused: int) -> None:
    """One log line per refused request; no traceback anywhere; no secret in any line."""
    lines = unavailable_lines(caplog)
    assert len(lines) == refused, [r.getMessage() for r in lines[:5]]
    assert [r for r in caplog.records if r.exc_info] == []
    # The werkzeug server's access log is the test's stand-in for gunicorn's, not the app's.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    for secret in (API_TOKEN, SECRET, ENCRYPT_KEY, WECOM_AES_KEY, DINGTALK_SECRET):
        assert secret not in text


@pytest.fixture
def outage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that is away: a SQLite path that cannot be opened (a directory), or a
    PostgreSQL port where nothing listens."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}"
    return f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/bot"


@pytest.mark.parametrize("outage_url", ["sqlite", "postgresql"], indirect=True)
def test_every_route_answers_503_while_the_database_is_away(outage_url, fakes, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    clock = FixedClock(START)
    served = Served(build_app(outage_url, fakes, tmp_path, clock))
    try:
        probes = route_probes(Http(served.base), clock)
        for name, probe in probes.items():
            assert_unavailable(name, probe())
        assert_monitoring_sees_the_outage(Http(served.base))
    finally:
        served.stop()
    assert_one_line_each(caplog, refused=len(probes))


# -- a private PostgreSQL cluster ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_reason() -> str | None:
    """Why no private cluster can run here, or None."""
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL server binaries at {PG_BIN}: restart test skipped"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres OS user (initdb refuses root): skipped"
        if shutil.which("runuser") is None:
            return "running as root without runuser (initdb refuses root): skipped"
    return None


class Cluster:
    """A PostgreSQL cluster of our own in a temporary directory, on a free port."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.root / "data", _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_owner, str(PG_BIN / tool), *args], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, f"{tool}: {done.stdout}{done.stderr}{self.log()}"

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                 "--no-sync", "--no-instructions")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data),
                 "-l", str(self.root / "server.log"), "-o", options)  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "stop", "-w", "-t", "30", "-D", str(self.data), "-m", mode)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    reason = _cluster_reason()
    if reason:
        pytest.skip(reason)
    pg = Cluster()
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.remove()


# -- traffic -------------------------------------------------------------------------------------


def _people(url: str) -> None:
    """Per platform a supervisor and PEOPLE workers reporting to them, each with an identity."""
    engine = make_engine(url)
    created = datetime.fromisoformat("2026-01-01T00:00:00+08:00")
    with session_scope(make_session_factory(engine)) as session:
        for platform, prefix in (("wecom", "wx"), ("dingtalk", "dt"), ("feishu", "ou_")):
            boss = Employee(employee_no=f"S-{platform}", name=f"{platform}主管",
                            role=Role.SUPERVISOR, created_at=created)  # fmt: skip
            session.add(boss)
            session.flush()
            session.add(Identity(employee=boss, platform=platform, external_id=f"{prefix}boss"))
            session.execute(insert(Employee), [
                {"employee_no": f"{prefix}{i}", "name": f"工人{i}", "role": Role.WORKER,
                 "supervisor_id": boss.id, "active": True, "created_at": created}
                for i in range(PEOPLE)
            ])  # fmt: skip
            ids = session.execute(
                select(Employee.id, Employee.employee_no).where(Employee.supervisor_id == boss.id)
            ).all()
            session.execute(insert(Identity), [
                {"employee_id": eid, "platform": platform, "external_id": no} for eid, no in ids
            ])  # fmt: skip
        session.add(Employee(employee_no="P-0", name="任务负责人", created_at=created))
    engine.dispose()


class Sender:
    """One kind of traffic in a thread: a new message each time (one person's first claim of
    the day, or a new API task), every reply counted, each one refused kept for re-delivery."""

    def __init__(self, name: str, send: Callable[[int], requests.Response], done: threading.Event):
        self.name, self.send, self.done = name, send, done
        self.statuses: Counter[int] = Counter()
        self.refused: list[int] = []  # message numbers answered 503
        self.bad: list[tuple[int, int, str]] = []  # anything but success or a proper 503
        self.sent = 0
        self.after = 0  # successes once the database is back
        self.restarted = False
        self.warm, self.saw_outage, self.recovered = (threading.Event() for _ in range(3))
        self.thread = threading.Thread(target=self._run, name=f"send-{name}", daemon=True)

    def _run(self) -> None:
        successes = 0
        for n in itertools.count():
            if self.done.is_set():
                return
            if n >= PEOPLE:
                self.bad.append((n, 0, "ran out of people before the restart was over"))
                return
            restarted = self.restarted
            response = self.send(n)
            self.sent += 1
            self.statuses[response.status_code] += 1
            if response.status_code in (200, 201):
                successes += 1
                if successes >= WARM:
                    self.warm.set()
                if restarted:
                    self.after += 1
                    if self.after >= RECOVERED:
                        self.recovered.set()
            elif response.status_code == 503:
                self.refused.append(n)
                self.saw_outage.set()
                try:
                    assert_unavailable(self.name, response)
                except AssertionError as exc:
                    self.bad.append((n, 503, str(exc)))
            else:
                self.bad.append((n, response.status_code, response.text[:200]))
                self.saw_outage.set()  # answered wrongly, but it saw the outage


def _senders(http: Http, clock: FixedClock, done: threading.Event) -> dict[str, Sender]:
    wecom = WecomCallbacks(http, lambda: int(clock.now().timestamp()))
    feishu = FeishuEvents(http, clock, token=TOKEN, encrypt_key=ENCRYPT_KEY, app_id=APP_ID)
    bearer = {"Authorization": f"Bearer {API_TOKEN}"}
    claim = "申领 A02 帮3号线调试"

    def api(n: int) -> requests.Response:
        task = {"source": "mes", "external_id": f"WO-{n}", "title": "冲压线点检", "owner": "P-0"}
        return http.post("/api/v1/tasks", json=task, headers=bearer)

    sends: dict[str, Callable[[int], requests.Response]] = {
        # The same message number is the same platform message (MsgId, msgId, event_id).
        "wecom": lambda n: wecom.text(f"wx{n}", claim, msg_id=9_000_000 + n),
        "dingtalk": lambda n: post_robot(
            http, clock.now(), robot_message(f"dt{n}", text=claim, msg_id=f"dtmsg{n}")
        ),
        "feishu": lambda n: feishu.text(
            f"ou_{n}", claim, event_id=f"ev{n:030d}", message_id=f"om_{n}"
        ),  # fmt: skip
        "api": api,
    }
    return {name: Sender(name, send, done) for name, send in sends.items()}


def _wait(events: list[threading.Event], what: str, timeout: float = 30) -> None:
    for event in events:
        assert event.wait(timeout), f"timed out waiting for {what}"


def test_postgres_restart_under_traffic_answers_200_or_503_and_loses_nothing(
    cluster, fakes, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    upgrade(cluster.url)
    _people(cluster.url)
    clock = FixedClock(START)
    app = build_app(cluster.url, fakes, tmp_path, clock)
    served = Served(app)
    http = Http(served.base)
    done = threading.Event()
    senders = _senders(http, clock, done)
    try:
        for sender in senders.values():
            sender.thread.start()
        _wait([s.warm for s in senders.values()], "traffic to flow")
        cluster.stop("fast")  # under traffic: live connections are cut mid-statement
        _wait([s.saw_outage for s in senders.values()], "every sender to meet the outage")
        probes = route_probes(http, clock)
        for name, probe in probes.items():
            assert_unavailable(name, probe())
        assert_monitoring_sees_the_outage(http)
        for sender in senders.values():
            sender.restarted = True
        cluster.start()
        _wait([s.recovered for s in senders.values()], "every sender to get through again")
    finally:
        done.set()
        for sender in senders.values():
            sender.thread.join(30)
    print({name: dict(sender.statuses) for name, sender in senders.items()})
    try:
        for sender in senders.values():
            assert sender.bad == [], (sender.name, sender.bad[:5])
            assert set(sender.statuses) <= {200, 201, 503}, (sender.name, sender.statuses)
            assert sender.statuses[503] > 0, sender.name
        # The platforms deliver each refused message again (the API client retries): now
        # every one is taken.
        for sender in senders.values():
            for n in sender.refused:
                response = sender.send(n)
                assert response.status_code in (200, 201), (sender.name, n, response.text[:200])
        refused = sum(len(s.refused) for s in senders.values()) + len(probes)
        assert_one_line_each(caplog, refused)
    finally:
        served.stop()
    _handled_once(app, senders)


def _handled_once(app: Flask, senders: dict[str, Sender]) -> None:
    """Every message sent was recorded once and made exactly one claim; every task exists once."""
    state = bot_state(app)
    while state.worker.process_inbound(limit=200):
        pass
    with session_scope(state.session_factory) as session:
        for platform, prefix in (("wecom", "wx"), ("dingtalk", "dt"), ("feishu", "ou_")):
            sent = senders[platform].sent
            events = Counter(
                session.scalars(select(InboundEvent.state).where(InboundEvent.platform == platform))
            )
            assert events == {"done": sent}, (platform, events, sent)
            claimants = Counter(
                session.scalars(
                    select(Employee.employee_no)
                    .join(Claim, Claim.employee_id == Employee.id)
                    .where(Employee.employee_no.startswith(prefix, autoescape=True))
                )
            )
            assert len(claimants) == sent and set(claimants.values()) == {1}, platform
        tasks = session.scalar(select(func.count(Task.id)).where(Task.source == "mes"))
        assert tasks == senders["api"].sent
    state.engine.dispose()
