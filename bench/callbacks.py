"""Callback acknowledgement, outbox delivery rate and web-worker memory (issue 4).

Per platform, valid text callbacks (encrypted and signed exactly like the platform, built by the
test suite's own builders) are sent to the real bot through waitress on 127.0.0.1, sequentially
and from 4 concurrent clients. The baseline is a bare Flask app on the same WSGI server in the
same run that only verifies and decrypts the same payloads. Printed: p50/p99 acknowledgement
time, throughput, the throughput ratio bot/baseline (goal ≥ 0.5) and p99 (goal < 50 ms on SQLite).
Then the outbox delivery rate to each platform's zero-latency fake (goal ≥ 1,000 msg/s; one
text to each of 2,000 members, so per-member pacing never holds a message back) and the RSS of
the bot's web process (goal < 150 MB).

    python -m bench callbacks [--requests 300] [--rounds 5] [--clients 4] [--outbox 2000]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import dingtalk as dt  # noqa: E402  (after the path tweak for `python bench/…`)
from tests.fakes import feishu as fs  # noqa: E402
from tests.fakes import wecom as wc  # noqa: E402

FEISHU_APP_ID = "cli_bench"
FEISHU_TOKEN = "bench-verification-token"
FEISHU_KEY = "bench-encrypt-key"


@dataclass
class Request:
    """One recorded HTTP request to replay."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]


class Recorder:
    """Stands in for Flask's test client: the fixtures' builders "post" into a list."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def post(
        self,
        path: str,
        data: Any = None,
        json: Any = None,
        headers: Any = None,
        content_type: str | None = None,
        query_string: Any = None,
    ) -> None:
        body = data if data is not None else _json_bytes(json)
        if isinstance(body, str):
            body = body.encode()
        hdrs = dict(headers or {})
        hdrs["Content-Type"] = content_type or (
            "application/json" if json is not None else "text/plain"
        )
        if query_string:
            path = f"{path}?{urlencode(query_string)}"
        self.requests.append(Request("POST", path, body or b"", hdrs))


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode() if value is not None else b""


def _now_clock() -> Any:
    class Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    return Clock()


def build_requests(platform: str, n: int, run: str) -> list[Request]:
    """`n` valid, distinct text callbacks for `platform`, stamped now."""
    rec = Recorder()
    if platform == "wecom":
        cb = wc.WecomCallbacks(rec, now=lambda: int(time.time()))
        for i in range(n):
            cb.text(f"user{i % 50}", "积分", msg_id=int(run, 16) * 100_000 + i)
    elif platform == "dingtalk":
        now = datetime.now(UTC)
        for i in range(n):
            body = dt.robot_message(f"staff{i % 50}", text="积分", msg_id=f"{run}-{i}", now=now)
            # Signed a millisecond apart: the bot refuses a timestamp/sign pair that comes back
            # with another body seconds later (a replay), and a round takes longer than that.
            dt.post_robot(rec, now, body, skew_ms=i)
    else:
        events = fs.FeishuEvents(
            rec, _now_clock(), token=FEISHU_TOKEN, encrypt_key=FEISHU_KEY, app_id=FEISHU_APP_ID
        )
        for i in range(n):
            events.text(f"ou_{i % 50}", "积分", event_id=f"ev_{run}_{i}")
    return rec.requests


def bot_env(db_url: str, media: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": db_url,
        "BOT_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "BOT_LEDGER_KEY": "bench-ledger-key-0123456789abcdefghij",  # required in production (design §10)
        "BOT_MEDIA_DIR": media,
        "BOT_VAR_DIR": media,
        "BOT_ENV": "production",
        "WECOM_CORP_ID": wc.CORP_ID,
        "WECOM_AGENT_ID": wc.AGENT_ID,
        "WECOM_SECRET": wc.SECRET,
        "WECOM_TOKEN": wc.TOKEN,
        "WECOM_AES_KEY": wc.AES_KEY,
        "WECOM_API_BASE": "http://127.0.0.1:9/cgi-bin/",
        "DINGTALK_APP_KEY": dt.APP_KEY,
        "DINGTALK_APP_SECRET": dt.APP_SECRET,
        "DINGTALK_ROBOT_CODE": dt.ROBOT_CODE,
        "DINGTALK_API_BASE": "http://127.0.0.1:9",
        "DINGTALK_OAPI_BASE": "http://127.0.0.1:9",
        "FEISHU_APP_ID": FEISHU_APP_ID,
        "FEISHU_APP_SECRET": "bench",
        "FEISHU_VERIFICATION_TOKEN": FEISHU_TOKEN,
        "FEISHU_ENCRYPT_KEY": FEISHU_KEY,
        "FEISHU_DOMAIN": "http://127.0.0.1:9",
    }
    return env


# -- the baseline: verify and decrypt only -------------------------------------------------------


def baseline_app() -> Any:
    """A bare Flask app doing just the platform crypto on the same payloads."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from flask import Flask, request
    from wechatpy.enterprise.crypto import WeChatCrypto

    app = Flask("baseline")
    wecom = WeChatCrypto(wc.TOKEN, wc.AES_KEY, wc.CORP_ID)
    feishu_key = hashlib.sha256(FEISHU_KEY.encode()).digest()

    @app.post("/wecom/callback")
    def wecom_cb() -> Any:
        args = request.args
        wecom.decrypt_message(
            request.get_data(), args["msg_signature"], args["timestamp"], args["nonce"]
        )
        return ""

    @app.post("/dingtalk/robot")
    def dingtalk_cb() -> Any:
        ts, sign = request.headers["timestamp"], request.headers["sign"]
        mac = hmac.new(dt.APP_SECRET.encode(), f"{ts}\n{dt.APP_SECRET}".encode(), hashlib.sha256)
        if not hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign):
            return "", 403
        json.loads(request.get_data())
        return "{}"

    @app.post("/feishu/events")
    def feishu_cb() -> Any:
        raw = request.get_data()
        h = request.headers
        expected = hashlib.sha256(
            (h["X-Lark-Request-Timestamp"] + h["X-Lark-Request-Nonce"] + FEISHU_KEY).encode() + raw
        ).hexdigest()
        if not hmac.compare_digest(expected, h["X-Lark-Signature"]):
            return "", 401
        blob = base64.b64decode(json.loads(raw)["encrypt"])
        dec = Cipher(algorithms.AES(feishu_key), modes.CBC(blob[:16])).decryptor()
        plain = dec.update(blob[16:]) + dec.finalize()
        json.loads(plain[: -plain[-1]])
        return "{}"

    return app


# -- serving and load ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start waitress in a child process: `bot` (wsgi app) or `baseline`."""
    app = "bot.app:create_app()" if kind == "bot" else "bench.callbacks:baseline_app()"
    module, factory = app.split(":")
    code = "\n".join(
        [
            f"import sys; sys.path.insert(0, {str(ROOT)!r})",
            "from waitress import serve",
            f"from {module} import {factory.removesuffix('()')} as factory",
            f"serve(factory(), host='127.0.0.1', port={port}, threads=8, _quiet=True)",
        ]
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def fire(port: int, requests: list[Request], clients: int) -> tuple[list[float], float, int]:
    """Send requests over keep-alive connections from `clients` threads; latencies (ms), seconds, errors."""
    chunks = [requests[i::clients] for i in range(clients)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(chunk: list[Request]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        for req in chunk:
            t0 = time.perf_counter()
            conn.request(req.method, req.path, body=req.body, headers=req.headers)
            resp = conn.getresponse()
            resp.read()
            mine.append((time.perf_counter() - t0) * 1000)
            if resp.status != 200:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0, errors[0]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


FAKES = {
    "wecom": ("tests.fakes.wecom", "FakeWecom", "base_url"),
    "dingtalk": ("tests.fakes.dingtalk", "FakeDingtalk", "url"),
    "feishu": ("tests.fakes.feishu", "FakeFeishu", "url"),
}


def serve_fake(platform: str) -> tuple[subprocess.Popen[str], str]:
    """The test suite's fake Open API in its own process (so it does not share our GIL)."""
    module, cls, attr = FAKES[platform]
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        f"from {module} import {cls}\n"
        f"fake = {cls}().start(); print(fake.{attr}, flush=True); sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def fake_env(platform: str, url: str) -> dict[str, str]:
    """Point one platform's API base at its fake."""
    if platform == "wecom":
        return {"WECOM_API_BASE": url}
    if platform == "dingtalk":
        return {"DINGTALK_API_BASE": url, "DINGTALK_OAPI_BASE": url}
    return {"FEISHU_DOMAIN": url}


def outbox_rate(platform: str, messages: int, tmp: str, name: str) -> tuple[float, int]:
    """Deliver `messages` texts to distinct members through a zero-latency fake of `platform`."""
    from sqlalchemy import func, select

    from bot.app import bot_state, create_app
    from bot.config import load_config
    from bot.db import session_scope, upgrade
    from bot.models import Employee, Identity, Outbox
    from bot.outbox import enqueue
    from cards import Text

    fake, base_url = serve_fake(platform)
    url = f"sqlite:///{tmp}/{name}.db"
    upgrade(url)
    env = {**bot_env(url, tmp), **fake_env(platform, base_url), "BOT_ENV": "test"}
    state = bot_state(create_app({"CONFIG": load_config(env)}))
    now = state.clock.now()
    with session_scope(state.session_factory) as session:
        people = [
            Employee(employee_no=f"B{i:05d}", name=f"员工{i}", created_at=now)
            for i in range(messages)
        ]
        session.add_all(people)
        session.flush()
        session.add_all(
            Identity(employee=p, platform=platform, external_id=f"{platform[:2]}u{i}")
            for i, p in enumerate(people)
        )
        for p in people:
            enqueue(session, Text("今日可得分任务：完成首检 +5"), now=now, recipient=p)
    t0 = time.perf_counter()
    state.worker.drain(rounds=messages)
    elapsed = time.perf_counter() - t0
    with session_scope(state.session_factory) as session:
        sent = session.scalar(select(func.count(Outbox.id)).where(Outbox.state == "sent")) or 0
    state.worker.delivery.close()
    fake.terminate()
    fake.wait(10)
    state.engine.dispose()
    return sent / elapsed, sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench callbacks")
    parser.add_argument("--requests", type=int, default=300, help="callbacks per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bot/baseline rounds")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--outbox", type=int, default=2000, help="messages for the delivery rate")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="bench-callbacks-")
    from bot.db import upgrade

    db_url = f"sqlite:///{tmp}/bot.db"
    upgrade(db_url)
    env = bot_env(db_url, tmp)
    bot_port, base_port = free_port(), free_port()
    bot = serve("bot", bot_port, env)
    base = serve("baseline", base_port, {})
    print(
        f"waitress (8 threads) on 127.0.0.1, SQLite; per row {args.rounds} rounds of {args.requests}"
        " callbacks, bot and baseline alternating; rps = median of the rounds; 2-core noisy machine"
    )
    print(
        f"{'platform':9} {'mode':10} {'bot p50':>8} {'bot p99':>8} {'bot rps':>8} {'base p50':>8} {'base p99':>8} {'base rps':>8} {'ratio':>6}"
    )
    verdicts = []
    outbox_ok: list[bool] = []
    try:
        for platform in ("wecom", "dingtalk", "feishu"):
            warm = build_requests(platform, 20, f"{int(time.time()) % 10**6:x}0")
            fire(bot_port, warm, 1)
            fire(base_port, warm, 1)
            for mode, clients in (("sequential", 1), (f"{args.clients} clients", args.clients)):
                # Bot and baseline alternate round by round, so both see the same noise.
                lat: list[float] = []
                blat: list[float] = []
                rates: list[float] = []
                brates: list[float] = []
                errs = berrs = 0
                for _ in range(args.rounds):
                    reqs = build_requests(platform, args.requests, f"{time.time_ns() % 10**12:x}")
                    one, secs, e = fire(bot_port, reqs, clients)
                    two, bsecs, be = fire(base_port, reqs, clients)
                    lat += one
                    blat += two
                    rates.append(len(one) / secs)
                    brates.append(len(two) / bsecs)
                    errs, berrs = errs + e, berrs + be
                rps, brps = statistics.median(rates), statistics.median(brates)
                ratio = rps / brps
                verdicts.append((ratio >= 0.5, pct(lat, 0.99) < 50))
                flag = "" if errs == berrs == 0 else f"  errors bot={errs} base={berrs}"
                print(
                    f"{platform:9} {mode:10} {statistics.median(lat):7.1f}ms {pct(lat, 0.99):7.1f}ms {rps:8.0f}"
                    f" {statistics.median(blat):7.1f}ms {pct(blat, 0.99):7.1f}ms {brps:8.0f} {ratio:6.2f}{flag}"
                )
        rss = rss_mb(bot.pid)
    finally:
        bot.terminate()
        base.terminate()
        bot.wait(10)
        base.wait(10)
    for platform in ("wecom", "dingtalk", "feishu"):
        runs = [outbox_rate(platform, args.outbox, tmp, f"{platform}{i}") for i in range(3)]
        rates = sorted(rate for rate, _ in runs)
        rate = statistics.median(rates)
        outbox_ok.append(rate >= 1000)
        print(
            f"outbox → fake {platform:8}: 3 runs of {args.outbox} texts to distinct members,"
            f" {min(sent for _, sent in runs)}+ sent per run; median {rate:.0f} msg/s"
            f" (runs {', '.join(f'{r:.0f}' for r in rates)}; goal ≥ 1000)"
        )
    print(f"bot web process RSS after the run: {rss:.0f} MB (goal < 150)")
    ok_ratio = all(v[0] for v in verdicts)
    ok_outbox = all(outbox_ok)
    ok_p99 = all(v[1] for v in verdicts)
    print(
        f"goals: throughput ratio ≥ 0.5 {'met' if ok_ratio else 'MISSED'};"
        f" p99 < 50 ms {'met' if ok_p99 else 'MISSED'};"
        f" outbox ≥ 1000 msg/s {'met' if ok_outbox else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
