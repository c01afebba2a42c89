"""能力 (design §15): the radar of the sender's points by category over 90 days against the
department average, and talent tags."""

from __future__ import annotations

from datetime import timedelta

from PIL import Image

from bot.notices import skills as texts
from bot.services.images import media_path
from bot.services.ledger import append_entry
from bot.services.skills import profile
from tests.factories import make_employee, make_team
from tests.localchat import last, last_card, say


def _earn(session, person, points, category, when):
    append_entry(session, person, points, kind="claim", memo="t", now=when, category=category)
    session.commit()


def test_radar_image_and_lines_compare_with_the_department(client, state, session, drain, clock):
    _boss, (worker, colleague) = make_team(session)
    _earn(session, worker, 40, "设备", clock.now() - timedelta(days=3))
    _earn(session, worker, 10, "质量", clock.now() - timedelta(days=3))
    _earn(session, colleague, 10, "设备", clock.now() - timedelta(days=3))
    say(client, worker, "能力")
    drain()
    card = last_card(session, worker, texts.TITLE.format(name=worker.name))
    path = media_path(state.config.media_dir, card.image)
    assert path is not None
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (900, 1040)
    # Three members (the boss too): the department average of 设备 is 50 / 3.
    assert "设备：40 分（部门平均 17）" in card.lines
    assert "质量：10 分（部门平均 3）" in card.lines
    assert texts.TAG_LINE.format(tag="设备能手 → 维修培训候选") in card.lines


def test_points_older_than_90_days_do_not_count(client, session, drain, clock):
    _boss, (worker, _) = make_team(session)
    _earn(session, worker, 40, "设备", clock.now() - timedelta(days=91))
    say(client, worker, "能力")
    drain()
    assert last(session, worker).text == texts.NO_POINTS


def test_a_tag_needs_40_percent_of_own_points(session, clock):
    _boss, (worker, _) = make_team(session)
    for category in ("设备", "质量", "安全"):
        _earn(session, worker, 10, category, clock.now() - timedelta(days=1))
    assert profile(session, worker, clock.now()).tags == []


def test_a_tag_needs_the_departments_top_quarter(session, clock):
    boss, team = make_team(session, workers=7)
    worker = team[0]
    _earn(session, worker, 20, "设备", clock.now() - timedelta(days=1))
    for better in team[1:3]:  # two colleagues above: not in the top quarter of 8
        _earn(session, better, 30, "设备", clock.now() - timedelta(days=1))
    assert profile(session, worker, clock.now()).tags == []
    _earn(session, team[1], 0, "设备", clock.now())
    mine = profile(session, team[1], clock.now())
    assert mine.tags == ["设备"]


def test_without_a_department_there_is_no_average_and_no_tag(session, clock):
    loner = make_employee(session)
    _earn(session, loner, 20, "设备", clock.now() - timedelta(days=1))
    mine = profile(session, loner, clock.now())
    assert mine.own["设备"] == 20 and mine.tags == [] and mine.average["设备"] == 0


def test_hr_view_lists_tags_per_member_of_a_department(session, clock):
    from bot.services.skills import department_tags

    boss, (worker, colleague) = make_team(session)
    _earn(session, worker, 40, "设备", clock.now() - timedelta(days=3))
    _earn(session, colleague, 5, "质量", clock.now() - timedelta(days=3))
    _earn(session, colleague, 5, "安全", clock.now() - timedelta(days=3))
    assert department_tags(session, worker.department, clock.now()) == {
        worker.id: ["设备"],
        colleague.id: ["安全", "质量"],
    }
