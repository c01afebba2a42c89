"""Two engine features changes needed, tested on a kind of their own: choices offered only
after a first step (提交报告 → 通过 / 不通过), and many asks opened in bulk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import asks
from bot.db import session_scope
from bot.errors import InvalidInput
from bot.models import Ask, AskState, Outbox
from bot.notices import asks as texts
from cards import Card, Text
from tests.conftest import TZ
from tests.factories import make_employee, make_team, photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo

ANSWERS: list[asks.Answer] = []


def _record(answer: asks.Answer) -> list[Text]:
    ANSWERS.append(answer)
    return [Text(f"收到 {answer.choice.key}")]


asks.register(asks.AskKind("test_steps", _record))

STEPS = (
    asks.Choice("report", "提交报告", "primary", outcome="已提交报告", final=False,
                needs=asks.Needs.TEXT_OR_PHOTO),
    asks.Choice("pass", "通过", "primary", outcome="通过", after="report"),
    asks.Choice("fail", "不通过", "danger", outcome="不通过", after="report"),
)  # fmt: skip


@pytest.fixture(autouse=True)
def _clear():
    ANSWERS.clear()


def _open(state, owner, choices=STEPS, **kw):
    with session_scope(state.session_factory) as s:
        ask = asks.open_ask(
            s, kind="test_steps", owner=s.get(type(owner), owner.id), title="首件重测",
            card=Card(title="首件重测", lines=("请提交报告",)), choices=choices,
            now=state.clock.now(), signer=state.signer, **kw,
        )  # fmt: skip
        return ask.id


def test_choices_after_a_step_are_not_offered_before_it(client, state, session, drain):
    _, (worker,) = make_team(session, workers=1)
    _open(state, worker)
    drain()
    assert [b.label for b in last_card(session, worker, "首件重测").buttons] == ["提交报告"]


def test_pressing_a_choice_before_its_step_is_refused(state, session, clock):
    _, (worker,) = make_team(session, workers=1)
    ask_id = _open(state, worker)
    with session_scope(state.session_factory) as s, pytest.raises(InvalidInput) as refused:
        asks.press(s, ask_id, s.get(type(worker), worker.id), "pass", now=clock.now(), tz=TZ,
                   signer=state.signer)  # fmt: skip
    assert refused.value.user_message == texts.UNKNOWN_CHOICE


def test_the_step_unlocks_its_choices_on_every_copy_and_in_a_reply(client, state, session, drain):
    _, (worker,) = make_team(session, workers=1)
    ask_id = _open(state, worker)
    drain()
    press(client, worker, button(last_card(session, worker, "首件重测"), "提交报告"))
    drain()
    send_photo(client, worker, photo_bytes(61))
    drain()
    [step] = ANSWERS
    assert step.choice.key == "report" and step.evidence_id is not None
    ask = session.get(Ask, ask_id)
    assert ask.state == AskState.ACKNOWLEDGED and ask.answer_data["step"] == "report"
    messages = inbox(session, worker)
    assert messages[-2] == Text("收到 report")
    fresh = messages[-1]
    assert [b.label for b in fresh.buttons] == ["通过", "不通过"]
    assert fresh.note.startswith(f"已提交报告 · {worker.name}")
    # The first copy follows too, and the input card is closed.
    assert [b.label for b in messages[0].buttons] == ["通过", "不通过"]
    prompt = last_card(session, worker, "提交报告")
    assert prompt.buttons == () and prompt.status.startswith("已提交报告")


def test_the_final_choice_after_the_step_answers_the_ask(client, state, session, drain):
    _, (worker,) = make_team(session, workers=1)
    ask_id = _open(state, worker)
    drain()
    press(client, worker, button(last_card(session, worker, "首件重测"), "提交报告"))
    say(client, worker, "尺寸合格")
    drain()
    press(client, worker, button(last(session, worker), "不通过"))
    drain()
    assert [a.choice.key for a in ANSWERS] == ["report", "fail"]
    assert ANSWERS[0].reason == "尺寸合格"
    ask = session.get(Ask, ask_id)
    assert ask.state == AskState.ANSWERED and ask.answer == "fail"
    assert all(m.status.startswith("不通过 · ") for m in inbox(session, worker)
               if isinstance(m, Card) and m.title == "首件重测")  # fmt: skip


def test_an_escalation_acknowledgement_does_not_unlock_later_choices(state, session, clock):
    boss, (worker,) = make_team(session, workers=1)
    ask_id = _open(state, worker, policy="overdue", anchor_at=clock.now() - timedelta(hours=4))
    with session_scope(state.session_factory) as s:
        assert asks.tick(s, clock.now(), signer=state.signer, tz=TZ).notified == 2
    with session_scope(state.session_factory) as s:
        asks.acknowledge(s, ask_id, s.get(type(boss), boss.id), now=clock.now(), tz=TZ,
                         signer=state.signer)  # fmt: skip
        ask = s.get(Ask, ask_id)
        assert ask.state == AskState.ACKNOWLEDGED
        assert [c.key for c in asks.choices_of(ask) if asks.is_offered(ask, c)] == []


# -- bulk --------------------------------------------------------------------------------------


def test_open_asks_announces_each_owner_with_keyed_signed_cards(client, state, session, drain):
    people = [make_employee(session) for _ in range(3)]
    with session_scope(state.session_factory) as s:
        opened = asks.open_asks(
            s, kind="test_steps", now=state.clock.now(), signer=state.signer, policy="unclaimed",
            asks=[asks.NewAsk(owner=s.get(type(p), p.id), title=f"确认 {p.name}",
                              card=Card(title=f"确认 {p.name}"), choices=(asks.Choice("ok", "确认"),),
                              subject="bulk:1") for p in people],
        )  # fmt: skip
        ids = [a.id for a in opened]
    assert session.scalar(select(func.count(Outbox.id))) == 3
    assert session.get(Ask, ids[0]).next_step_at is not None  # the chain runs as for open_ask
    drain()
    press(client, people[1], button(last_card(session, people[1], "确认"), "确认"))
    drain()
    assert ANSWERS[0].ask.id == ids[1] and ANSWERS[0].actor.id == people[1].id
    assert last_card(session, people[1], "确认").status.startswith("确认 · ")
    assert [b.label for b in last_card(session, people[0], "确认").buttons] == ["确认"]


def test_open_asks_with_an_unknown_policy_writes_nothing(state, session):
    person = make_employee(session)
    with session_scope(state.session_factory) as s, pytest.raises(InvalidInput):
        asks.open_asks(
            s, kind="test_steps", now=state.clock.now(), signer=state.signer, policy="nope",
            asks=[asks.NewAsk(owner=s.get(type(person), person.id), title="x",
                              card=Card(title="x"), choices=(asks.Choice("ok", "确认"),))],
        )  # fmt: skip
    assert session.scalar(select(func.count(Ask.id))) == 0
