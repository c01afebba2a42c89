"""面谈: the 1:1 fact pack for a lead's own team (HR: anyone) on the local chat — the heatmap
counts from asks, key claims with photos, likes, filtered peer comments, and refusals."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot import asks
from bot.models import AskState, ClaimState, Like, Role, Survey, SurveyRelease
from bot.notices import factpack as notices
from bot.services.evidence import store_photo
from bot.services.factpack import LATE, MISSED, ON_TIME, task_outcomes
from bot.services.images import media_path
from cards import Card
from tests.conftest import TZ
from tests.factories import make_claim, make_employee, make_team, photo_bytes
from tests.localchat import inbox, last, last_card, say

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)


def _task(session, owner, *, due, answered=None, state=AskState.OPEN, anonymous=False):
    """An ask with a due time, answered at `answered` (or left in `state`)."""
    ask = asks.open_ask(
        session, kind="task_alert", owner=owner, title="首件检验", card=Card(title="首件检验"),
        choices=(asks.Choice("done", "完成"),), now=due - timedelta(days=1), due_at=due,
        anonymous=anonymous, announce=False,
    )  # fmt: skip
    if answered is not None:
        ask.state, ask.answered_at = AskState.ANSWERED, answered
    elif state == AskState.CLOSED:
        asks.close_ask(session, ask, outcome="已撤回", now=due - timedelta(hours=2))
    session.commit()
    return ask


def test_tasks_count_on_time_late_and_missed_by_due_and_answer_time(session):
    _boss, (worker,) = make_team(session, workers=1)
    due = NOW - timedelta(days=2)
    _task(session, worker, due=due, answered=due - timedelta(hours=1))
    _task(session, worker, due=due, answered=due + timedelta(hours=3))
    _task(session, worker, due=due)  # still open after its due time
    _task(session, worker, due=NOW + timedelta(hours=5))  # not due yet: not counted
    _task(session, worker, due=due, state=AskState.CLOSED)  # withdrawn before due: not counted
    _task(session, worker, due=due, anonymous=True)  # a 360 question: never counted
    outcomes = task_outcomes(
        session, worker, NOW - timedelta(days=30), NOW + timedelta(days=1), NOW
    )
    assert sorted(o for _due, o in outcomes) == sorted([ON_TIME, LATE, MISSED])


def test_supervisor_gets_the_heatmap_image_and_the_card(client, session, drain, state):
    boss, (worker,) = make_team(session, workers=1)
    due = NOW - timedelta(days=3)
    _task(session, worker, due=due, answered=due - timedelta(hours=1))
    _task(session, worker, due=due - timedelta(days=7), answered=due - timedelta(days=6))
    _task(session, worker, due=due - timedelta(days=14))
    say(client, boss, f"面谈 {worker.name}")
    drain()
    card = last_card(session, boss, notices.TITLE.format(name=worker.name))
    assert card.lines[0] == notices.TASKS_LINE.format(on_time=1, late=1, missed=1, rate=" · 按时率 33%")  # fmt: skip
    path = media_path(state.config.media_dir, card.image)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 720


def test_key_claims_come_with_their_photos(client, session, drain, state):
    boss, (worker,) = make_team(session, workers=1)
    evidence = store_photo(session, state.config.media_dir, worker, photo_bytes(4),
                           source="local", now=NOW)  # fmt: skip
    claim = make_claim(session, employee=worker, code="A01", evidence=evidence,
                       state=ClaimState.APPROVED)  # fmt: skip
    claim.decided_at, claim.points_credited = NOW - timedelta(days=5), 20
    make_claim(session, employee=worker, code="B01", state=ClaimState.REJECTED)
    session.commit()
    say(client, boss, f"面谈 {worker.employee_no}")
    drain()
    card = last_card(session, boss, notices.TITLE.format(name=worker.name))
    assert any(line.startswith("· 11/21 A01") and line.endswith("+20 📷") for line in card.lines)
    photo = last_card(session, boss, "关键行动 · A01")
    assert photo.image == f"evidence:{evidence.id}"


def test_likes_received_are_counted_with_the_latest_named(client, session, drain):
    boss, (worker, colleague) = make_team(session, workers=2)
    session.add(Like(giver_id=colleague.id, receiver_id=worker.id, reason="帮我调好了模具",
                     week="2026-W48", created_at=NOW - timedelta(days=1)))  # fmt: skip
    session.commit()
    say(client, boss, f"面谈 {worker.name}")
    drain()
    card = last_card(session, boss, notices.TITLE.format(name=worker.name))
    expected = notices.LIKES_LINE.format(
        count=1, latest=f"，最近：{colleague.name}「帮我调好了模具」"
    )
    assert expected in card.lines


def test_peer_comments_come_only_from_released_results_and_lose_emotional_words(
    client, session, drain
):
    boss, (worker,) = make_team(session, workers=1)
    survey = Survey(title="互评", questions=[{"text": "例子", "kind": "text"}], state="closed",
                    created_at=NOW)  # fmt: skip
    session.add(survey)
    session.flush()
    answers = ["他太懒了，交接记录经常不写，真让人失望！", "主动帮新人调机，太棒了！", "讨厌！"]
    session.add(SurveyRelease(survey_id=survey.id, subject_id=worker.id, raters=3, created_at=NOW,
                              results=[{"question": 0, "text": "例子", "kind": "text", "count": 3,
                                        "answers": answers}]))  # fmt: skip
    session.commit()
    say(client, boss, f"面谈 {worker.name}")
    drain()
    lines = last_card(session, boss, notices.TITLE.format(name=worker.name)).lines
    at = lines.index(notices.COMMENTS_HEADER)
    assert lines[at + 1 :] == ("· 交接记录经常不写。", "· 主动帮新人调机。")


def test_a_worker_asking_for_a_colleagues_fact_pack_is_refused(client, session, drain):
    _boss, (worker, colleague) = make_team(session, workers=2)
    say(client, worker, f"面谈 {colleague.name}")
    drain()
    assert last(session, worker).text == notices.ONLY_LEADS
    assert not [m for m in inbox(session, worker) if isinstance(m, Card)]


def test_a_supervisor_asking_about_another_team_is_refused(client, session, drain):
    boss, _team = make_team(session, workers=1)
    _other, (stranger,) = make_team(session, workers=1)
    say(client, boss, f"面谈 {stranger.employee_no}")
    drain()
    assert last(session, boss).text == notices.NOT_YOUR_TEAM.format(name=stranger.name)


def test_a_second_level_lead_sees_the_team_below(client, session, drain):
    head = make_employee(session, name="车间主任", role=Role.SUPERVISOR)
    lead = make_employee(session, name="班长", role=Role.SUPERVISOR, supervisor=head)
    worker = make_employee(session, supervisor=lead)
    say(client, head, f"面谈 {worker.employee_no}")
    drain()
    assert last_card(session, head).title == notices.TITLE.format(name=worker.name)


def test_hr_may_see_anyones_fact_pack(client, session, drain):
    hr = make_employee(session, name="人事小刘", role=Role.HR)
    _boss, (worker,) = make_team(session, workers=1)
    say(client, hr, f"面谈 {worker.employee_no}")
    drain()
    assert last_card(session, hr).title == notices.TITLE.format(name=worker.name)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("他太懒了，交接记录经常不写，真让人失望！", "交接记录经常不写。"),
        ("主动帮新人调机，太棒了！👍", "主动帮新人调机。"),
        ("开会经常迟到，让人很生气", "开会经常迟到。"),
        ("交接记录写得太烂了，气死我了", "交接记录写。"),
        ("哈哈，简直是废物", ""),
        ("上周主动把模具点检表补齐了", "上周主动把模具点检表补齐了。"),
    ],
    ids=[
        "judgement-dropped",
        "praise-dropped",
        "anger-dropped",
        "word-cut",
        "all-emotion",
        "plain-kept",
    ],  # fmt: skip
)
def test_emotional_words_are_filtered_and_behaviour_kept(text, said):
    assert notices.neutral_comment(text) == said


def test_usage_when_no_name_is_given(client, session, drain):
    boss, _team = make_team(session, workers=1)
    say(client, boss, "面谈")
    drain()
    assert last(session, boss).text == notices.USAGE
    assert session.scalar(select(func.count()).select_from(Like)) == 0
