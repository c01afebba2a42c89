"""面谈 on every platform (WeCom, DingTalk and Feishu fakes, the local chat): the lead gets the
heatmap as a real PNG with the card, a key claim's photo follows, and a worker is refused."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from PIL import Image

from bot.models import ClaimState
from bot.notices import factpack as notices
from bot.services.evidence import photo_path, store_photo
from tests.conftest import TZ
from tests.drivers import fixtures
from tests.factories import make_claim, make_team, photo_bytes

# Every test here runs once per platform, through its driver.
platform, fake, driver = fixtures.platform, fixtures.fake, fixtures.driver
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)


@pytest.fixture
def platform_env(platform, fake):
    return fixtures.env_for(platform, fake)


def test_the_lead_gets_the_heatmap_image_and_the_card(driver, session, drain, state):
    boss, (worker,) = make_team(session, workers=1)
    uid = driver.enroll(session, boss)
    driver.enroll(session, worker)
    driver.say(uid, f"面谈 {worker.name}")
    drain()
    card = driver.last_card(uid, notices.TITLE.format(name=worker.name))
    assert any(line.startswith("任务：") for line in card.lines)
    png = (state.config.media_dir / "factpack" / str(worker.id) / "2026-11-26.png").read_bytes()
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.width >= 720
    # What the platform was given (WeCom's fake keeps the whole multipart upload).
    assert card.photo is not None and png in card.photo


def test_a_key_claims_photo_follows_the_card(driver, session, drain, state):
    boss, (worker,) = make_team(session, workers=1)
    uid = driver.enroll(session, boss)
    evidence = store_photo(
        session, state.config.media_dir, worker, photo_bytes(7), source="local", now=NOW
    )
    claim = make_claim(session, employee=worker, code="A01", evidence=evidence,
                       state=ClaimState.APPROVED)  # fmt: skip
    claim.decided_at, claim.points_credited = NOW - timedelta(days=2), 20
    session.commit()
    driver.say(uid, f"面谈 {worker.employee_no}")
    drain()
    card = driver.last_card(uid, "关键行动 · A01")
    stored = photo_path(state.config.media_dir, evidence).read_bytes()
    assert card.photo is not None and stored in card.photo


def test_a_worker_asking_for_a_fact_pack_is_refused(driver, session, drain):
    _boss, (worker, colleague) = make_team(session, workers=2)
    uid = driver.enroll(session, worker)
    driver.say(uid, f"面谈 {colleague.name}")
    drain()
    assert driver.last_message(uid).text == notices.ONLY_LEADS
