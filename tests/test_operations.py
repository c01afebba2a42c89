"""Operations (design §16): /metrics, JSON logs with the event's dedupe key, one log line per
handled event, a quiet scheduler, and the API's OpenAPI 3.1 document."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.logs import EventKeyFilter, JsonFormatter, event_context, setup_logging
from bot.models import Outbox
from bot.services.tasks import create_task
from tests.conftest import TZ
from tests.factories import make_employee, make_team
from tests.fakes.wecom import FakeWecom, WecomCallbacks, env
from tests.localchat import say


def _metric(client: Any, name: str, labels: str = "") -> float | None:
    text = client.get("/metrics").get_data(as_text=True)
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", text, re.M)
    return float(found.group(1)) if found else None


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    server = FakeWecom().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake: FakeWecom) -> dict[str, str]:
    return env(fake)


def test_metrics_count_callbacks_by_platform_and_status_with_latency(client, clock):
    wecom = WecomCallbacks(client, lambda: int(clock.now().timestamp()))
    before = _metric(client, "bot_callbacks_total", 'platform="wecom",status="403"') or 0
    wecom.text("zhangsan", "积分", signature="0" * 40)
    wecom.text("zhangsan", "积分")

    assert _metric(client, "bot_callbacks_total", 'platform="wecom",status="403"') == before + 1
    assert _metric(client, "bot_callbacks_total", 'platform="wecom",status="200"') >= 1
    assert _metric(client, "bot_callback_seconds_count", 'platform="wecom"') >= 2


def test_metrics_read_queue_depths_dead_letters_and_overdue_asks(client, session, clock, state):
    boss, (worker, _) = make_team(session)
    say(client, worker, "积分")
    say(client, worker, "帮助")
    create_task(session, owner=worker, title="工序延误", now=clock.now(), tz=TZ,
                due_at=clock.now() + timedelta(hours=1))  # fmt: skip
    session.commit()
    assert _metric(client, "bot_inbound_queue_depth", 'state="pending"') == 2
    state.worker.process_inbound()
    clock.advance(hours=2)
    session.commit()
    first, *rest = session.scalars(select(Outbox).order_by(Outbox.id)).all()
    session.execute(update(Outbox).where(Outbox.id == first.id).values(state="dead"))
    session.commit()
    assert len(rest) == 1  # the two answers are queued; one is made a dead letter

    assert _metric(client, "bot_inbound_queue_depth", 'state="pending"') == 0
    assert _metric(client, "bot_dead_letters", 'kind="outbox"') == 1
    assert _metric(client, "bot_outbox_depth") >= 1
    assert _metric(client, "bot_outbox_oldest_age_seconds") == 2 * 3600
    assert _metric(client, "bot_asks_overdue") == 1
    assert _metric(client, "bot_scheduler_leader", 'holder=""') == 0


def test_json_log_lines_carry_the_events_dedupe_key():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(EventKeyFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.jsonlog")
    log.addHandler(handler)
    try:
        with event_context("wecom:msg:123"):
            log.warning("photo download failed: %s", "timeout")
        log.warning("outside")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "photo download failed: timeout" and first["level"] == "WARNING"
    assert first["dedupe_key"] == "wecom:msg:123" and "dedupe_key" not in second


def test_the_worker_logs_one_line_per_handled_event_with_its_key(client, session, state, caplog):
    worker = make_employee(session)
    say(client, worker, "积分", client_id="c-log-1")
    caplog.handler.addFilter(EventKeyFilter())  # as the production handler does
    with caplog.at_level(logging.INFO, logger="bot.runtime.worker"):
        state.worker.process_inbound()
    handled = [r for r in caplog.records if r.getMessage().startswith("handled local text event")]
    assert [r.dedupe_key for r in handled] == [f"msg:{worker.employee_no}:c-log-1"]


def test_production_logging_is_json_and_apscheduler_is_quiet():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging(json_lines=True)
        assert isinstance(root.handlers[-1].formatter, JsonFormatter)
        assert logging.getLogger("apscheduler.executors.default").level == logging.WARNING
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("apscheduler.executors.default").setLevel(logging.NOTSET)
        logging.getLogger("apscheduler.scheduler").setLevel(logging.NOTSET)
