"""Seen in a real browser (chromium, at 390 px and at desktop width): the HR console — sign in
with the code from the chat, change a rule, approve a claim and a redemption, download an xlsx
and an evidence chain, send a notice and see who read it — and the local chat flows a manager
meets in the first minute of a demo. Screenshots go to var/screenshots/."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import bot_state, create_app
from bot.config import load_config
from bot.db import make_engine, session_scope, upgrade
from bot.demo import seed_demo
from bot.models import (
    Broadcast,
    Claim,
    ClaimState,
    Employee,
    LedgerEntry,
    Redemption,
    RedemptionState,
    Role,
    Rule,
)
from bot.notices.evidence import PHOTO_TOO_LARGE
from bot.services.ledger import append_entry, verify_ledger
from bot.services.ledgerproof import read_verification_file
from tests.browser import DESKTOP, PHONE, browser_problem, chromium, serve
from tests.conftest import SECRET
from tests.factories import photo_bytes

SHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
TIMEOUT = 15_000

pytestmark = pytest.mark.skipif(browser_problem() is not None, reason=str(browser_problem()))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo factory on a fresh SQLite database, served for real, with its worker running."""
    root = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{root / 'bot.db'}"
    upgrade(url)
    env = {"DATABASE_URL": url, "BOT_SECRET_KEY": SECRET, "BOT_ENV": "test",
           "BOT_MEDIA_DIR": str(root / "media"), "BOT_VAR_DIR": str(root / "var")}  # fmt: skip
    engine = make_engine(url)
    app = create_app({"CONFIG": load_config(env), "ENGINE": engine})
    state = bot_state(app)
    with session_scope(state.session_factory) as session:
        seed_demo(session, state.clock.now())
        # One HR person per console test: a code may be asked for once a minute per person.
        hr_dept = session.scalar(
            select(Employee.department_id).where(Employee.employee_no == "H001")
        )
        for no, name in (("H002", "郑洁"), ("H003", "冯涛"), ("H004", "蒋琴"), ("H005", "韩梅")):
            session.add(Employee(employee_no=no, name=name, role=Role.HR,
                                 department_id=hr_dept, created_at=state.clock.now()))  # fmt: skip
    state.worker.start()
    server = serve(app)
    yield server.url, state
    server.stop()
    state.worker.stop()
    engine.dispose()


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with chromium() as ctx:
        ctx.set_default_timeout(TIMEOUT)
        yield ctx


@pytest.fixture
def phone(context: Any) -> Iterator[Any]:
    page = context.new_page()
    page.set_viewport_size(PHONE)
    yield page
    page.close()


@pytest.fixture
def desktop(context: Any) -> Iterator[Any]:
    page = context.new_page()
    page.set_viewport_size(DESKTOP)
    yield page
    page.close()


def shot(page: Any, name: str) -> None:
    """Save what the page shows (whole page) for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def chat_as(page: Any, base: str, employee_no: str) -> None:
    """Open the web chat as one person."""
    page.goto(f"{base}/local/?as={employee_no}")
    page.wait_for_selector("#text:not([disabled])")


def chat_say(page: Any, text: str) -> None:
    """Type and send a line in the web chat."""
    page.fill("#text", text)
    page.click(".compose button[type=submit]")


def no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def sign_in(page: Any, chat: Any, base: str, employee_no: str = "H001") -> None:
    """The console's sign-in as HR does it: 工号, then the code the chat shows."""
    page.context.clear_cookies()  # each test signs in afresh
    page.goto(f"{base}/console/")
    page.fill("input[name=employee_no]", employee_no)
    page.click("text=获取验证码")
    page.wait_for_selector("text=验证码已发到")
    chat_as(chat, base, employee_no)
    message = chat.locator(".text", has_text="HR 控制台登录验证码").last
    message.wait_for()
    code = re.search(r"验证码：(\d{6})", message.inner_text()).group(1)
    page.fill("input[name=code]", code)
    page.click("button:text-is('登录')")
    page.wait_for_selector("h1:text-is('概览')")


# -- HR console ------------------------------------------------------------------------------


def test_console_sign_in_and_change_a_rule_on_a_phone(live, phone, desktop):
    base, state = live
    sign_in(phone, desktop, base, "H002")
    assert no_horizontal_scroll(phone)
    shot(phone, "console-overview-390")
    phone.click("text=☰ 菜单")
    shot(phone, "console-menu-390")
    phone.click(".nav >> text=规则")
    phone.locator("tr", has_text="A01").locator("text=修改").click()
    phone.fill("input[name=points]", "25")
    shot(phone, "console-rule-edit-390")
    phone.click("button:text-is('保存')")
    phone.wait_for_selector("text=已保存规则 A01：分值 20 → 25")
    assert no_horizontal_scroll(phone)
    shot(phone, "console-rules-390")
    with session_scope(state.session_factory) as session:
        assert session.scalar(select(Rule.points).where(Rule.code == "A01")) == 25
    phone.click("text=☰ 菜单")
    phone.click(".nav >> text=审计日志")
    phone.wait_for_selector("text=修改规则")


def test_console_approves_a_claim_and_downloads_a_report_at_desktop_width(live, desktop, phone):
    base, state = live
    chat_as(phone, base, "S001")  # 王建国 reports to 周敏 (HR), who approves his claims
    chat_say(phone, "申领 A02 帮二班调试送料机")
    phone.wait_for_selector("text=已提交申领")
    sign_in(desktop, phone, base)  # 周敏 (H001) approves the supervisors' claims
    shot(desktop, "console-overview-desktop")
    desktop.click(".nav >> text=我的待办")
    card = desktop.locator(".card", has_text="王建国").first
    shot(desktop, "console-tasks-desktop")
    card.locator("button:text-is('通过')").click()
    desktop.wait_for_selector("text=已通过 #")
    with session_scope(state.session_factory) as session:
        claim = session.scalars(select(Claim).order_by(Claim.id.desc())).first()
        assert claim.state == ClaimState.APPROVED and claim.points_credited == 17
    chat_as(phone, base, "S001")
    phone.wait_for_selector("text=申领通过")

    desktop.click(".nav >> text=报表")
    with desktop.expect_download() as download:
        desktop.locator(".card", has_text="积分汇总").locator("text=下载 xlsx").click()
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = {r[0]: r for r in book["本月·员工"].iter_rows(min_row=2, values_only=True)}
    assert rows["S001"][1] == "王建国" and rows["S001"][4] == 17
    desktop.click(".nav >> text=员工")
    shot(desktop, "console-employees-desktop")


def test_console_approves_a_redemption_on_a_phone(live, phone, desktop):
    """A worker redeems in the chat; HR approves it in the console on a phone; the hold becomes
    a ledger debit and the worker is told."""
    base, state = live
    with session_scope(state.session_factory) as session:
        person = session.scalar(select(Employee).where(Employee.employee_no == "E012"))
        append_entry(session, person, 150, kind="claim", memo="A05 改善提案", now=state.clock.now())
    chat_as(desktop, base, "E012")
    chat_say(desktop, "兑换 R01")
    desktop.wait_for_selector("text=已申请兑换 R01")
    sign_in(phone, desktop, base, "H005")
    phone.click("text=☰ 菜单")
    phone.click(".nav >> text=我的待办")
    card = phone.locator(".card", has_text="兑换申请").filter(has_text="定制保温杯").first
    assert no_horizontal_scroll(phone)
    shot(phone, "console-redemption-390")
    card.locator("button:text-is('批准')").click()
    phone.wait_for_selector("text=已批准兑换 #")
    with session_scope(state.session_factory) as session:
        redemption = session.scalars(select(Redemption).order_by(Redemption.id.desc())).first()
        assert redemption.state == RedemptionState.APPROVED and redemption.cost == 100
        debit = session.scalar(
            select(LedgerEntry.points).where(LedgerEntry.employee_id == redemption.employee_id)
            .order_by(LedgerEntry.id.desc()).limit(1)
        )  # fmt: skip
        assert debit == -100
    phone.click("text=☰ 菜单")
    phone.click(".nav >> text=奖励与兑换")
    phone.wait_for_selector("text=已批准")
    chat_as(desktop, base, "E012")
    desktop.wait_for_selector("text=兑换已批准")


def test_console_employees_on_a_phone(live, phone, desktop):
    base, _state = live
    sign_in(phone, desktop, base, "H003")
    phone.goto(f"{base}/console/employees/?q=冲压")
    assert no_horizontal_scroll(phone)
    shot(phone, "console-employees-390")


def test_console_evidence_download_and_a_notice_on_a_phone(live, phone, desktop, tmp_path):
    base, state = live
    with session_scope(state.session_factory) as session:
        person = session.scalar(select(Employee).where(Employee.employee_no == "E016"))
        append_entry(session, person, 12, kind="claim", memo="A03 发现漏油", now=state.clock.now())
    sign_in(phone, desktop, base, "H004")
    phone.click("text=☰ 菜单")
    phone.click(".nav >> text=申诉")
    phone.fill("input[name=employee_no]", "E016")
    assert no_horizontal_scroll(phone)
    shot(phone, "console-appeals-390")
    with phone.expect_download() as download:
        phone.click("button:text-is('下载 zip')")
    assert download.value.suggested_filename.startswith("evidence-E016-")
    with zipfile.ZipFile(download.value.path()) as archive:
        assert {"README.txt", "index.xlsx", "chain-proof.json"} <= set(archive.namelist())
        archive.extract("chain-proof.json", tmp_path)
    checkpoints, proofs, bad = read_verification_file(tmp_path / "chain-proof.json")
    assert len(proofs) == 1 and bad == []
    with session_scope(state.session_factory) as session:
        report = verify_ledger(session, checkpoints=checkpoints, proofs=proofs)
    assert report.ok and report.proofs == 1

    phone.click("text=☰ 菜单")
    phone.click(".nav >> text=通知")
    phone.click("summary:text-is('发送重要通知')")
    phone.fill("input[name=title]", "周六加班")
    phone.fill("textarea[name=text]", "周六全员加班，请准时到岗。")
    phone.select_option("select[name=department]", "质检部")
    phone.click("button:text-is('发送')")
    phone.wait_for_selector("text=人需确认已读")
    chat_as(desktop, base, "E007")
    read = desktop.locator(".card", has_text="周六加班").last.locator("button:text-is('已读')")
    read.click()
    read.wait_for(state="detached")  # the card settles: the confirmation is recorded
    phone.reload()
    card = phone.locator(".card", has_text="周六加班").first
    with session_scope(state.session_factory) as session:
        total = session.scalar(select(Broadcast.total).order_by(Broadcast.id.desc()).limit(1))
    assert card.locator(".read-rate").inner_text() == f"1/{total} 已读"
    card.locator("summary", has_text=f"未读 {total - 1} 人").click()
    assert "孙涛（E008）" in card.locator(".unread").inner_text()
    assert no_horizontal_scroll(phone)
    shot(phone, "console-broadcasts-390")
    phone.click("text=☰ 菜单")
    phone.click(".nav >> text=问卷")
    phone.wait_for_selector("text=还没有问卷")
    assert no_horizontal_scroll(phone)


# -- local chat --------------------------------------------------------------------------------


def test_the_chat_fits_a_390px_phone_with_send_in_view(live, phone):
    base, _ = live
    chat_as(phone, base, "E001")
    assert no_horizontal_scroll(phone)
    send = phone.locator(".compose button[type=submit]").bounding_box()
    photo = phone.locator(".compose label").bounding_box()
    assert send["x"] + send["width"] <= PHONE["width"]
    assert photo["height"] < 44  # 照片 on one line
    chat_say(phone, "帮助")
    phone.wait_for_selector(".card-title:text-is('绩效积分机器人 · 帮助')")
    shot(phone, "chat-help-390")


def test_switching_to_someone_without_messages_clears_the_conversation(live, phone):
    base, _ = live
    chat_as(phone, base, "E002")
    chat_say(phone, "积分")
    phone.wait_for_selector(".card-title:has-text('刘洋 的积分')")
    phone.click("#switch")
    phone.locator(".person", has_text="何琳").click()  # nobody has written as 何琳 yet
    phone.wait_for_selector(".hint")
    assert phone.locator(".card").count() == 0
    assert phone.inner_text("#who").startswith("何琳")


def test_a_photo_shows_as_a_thumbnail_and_the_newest_buttons_are_in_view(live, phone, tmp_path):
    base, _ = live
    chat_as(phone, base, "E003")
    for text in ("帮助", "积分", "排行", "帮助"):
        chat_say(phone, text)
    phone.wait_for_function("document.querySelectorAll('.row.out').length >= 4")
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(photo_bytes(7, size=(1200, 900)))
    phone.set_input_files("#photo", str(picture))
    phone.wait_for_selector(".card-title:text-is('选择申领规则')")
    # The thumbnail loads after its card appears (slowly on a loaded machine): wait for it.
    phone.wait_for_function(
        "() => { const i = [...document.querySelectorAll('img.sent-photo')].pop();"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    phone.wait_for_function(
        "() => { const b = [...document.querySelectorAll('.card-buttons')].pop();"
        " const r = b.getBoundingClientRect(); return r.bottom <= innerHeight && r.top >= 0; }"
    )
    shot(phone, "chat-photo-390")


def test_the_newest_card_is_in_view_after_switching_to_a_person_with_photos(live, phone):
    base, _ = live
    chat_as(phone, base, "E001")
    phone.click("#switch")
    phone.locator(".person", has_text="陈磊").click()  # E003 sent a photo above
    phone.wait_for_selector(".card-title:text-is('选择申领规则')")
    phone.wait_for_function(
        "() => { const b = [...document.querySelectorAll('.card-buttons')].pop();"
        " const r = b.getBoundingClientRect(); return r.bottom <= innerHeight && r.top >= 0; }"
    )


def test_a_long_note_is_cut_on_the_approval_card_and_opens_with_expand(live, phone):
    base, _ = live
    chat_as(phone, base, "E004")
    chat_say(phone, "申领 A02 " + "协助二班排查送料机卡料，调整导向板间隙并复测。" * 45)
    phone.wait_for_selector("text=已提交申领")
    chat_as(phone, base, "S001")
    card = phone.locator(".card", has_text="杨静").last
    card.wait_for()
    assert card.bounding_box()["height"] < 700
    shot(phone, "chat-long-note-390")
    card.locator("summary:text-is('展开')").click()
    assert card.bounding_box()["height"] > 700


def test_an_oversize_upload_shows_the_reason_in_chinese(live, phone):
    base, _ = live
    chat_as(phone, base, "E005")
    phone.evaluate(
        "() => { const d = new FormData();"
        " d.append('photo', new Blob([new Uint8Array(12 * 1024 * 1024)]), 'big.jpg');"
        " post('/local/api/send', d); }"
    )
    phone.wait_for_selector(f"#toast:text-is('{PHOTO_TOO_LARGE}')")


def test_rules_are_tapped_category_then_rule(live, phone):
    base, _ = live
    chat_as(phone, base, "E006")
    chat_say(phone, "申领")
    categories = phone.locator(".card", has_text="积分规则 · 选择类别").last
    categories.locator("button", has_text="安全").click()
    rules = phone.locator(".card", has_text="安全类规则").last
    shot(phone, "chat-rules-390")
    rules.locator("button", has_text="A05").click()
    phone.wait_for_selector("text=需要照片证据")


def test_equal_points_share_a_rank_and_broadcast_names_dates(live, phone):
    base, state = live
    with session_scope(state.session_factory) as session:
        for no in ("E007", "E008"):
            person = session.scalar(select(Employee).where(Employee.employee_no == no))
            append_entry(session, person, 10, kind="claim", memo="A03", now=state.clock.now())
    chat_as(phone, base, "E008")
    chat_say(phone, "排行")
    board = phone.locator(".card", has_text="本周排行").last
    board.wait_for()
    lines = board.locator(".card-line").all_inner_texts()
    assert [line.split()[0] for line in lines] == ["🥇", "🥇"]
    assert all("（并列）" in line for line in lines)
    shot(phone, "chat-rank-390")
    chat_as(phone, base, "H001")
    for _ in range(2):
        chat_say(phone, "排行 广播")
        phone.wait_for_function(
            "[...document.querySelectorAll('.row.out .text')].filter("
            "e => e.textContent.includes('没有排行可以广播')).length >= "
            f"{_ + 1}"
        )
    assert "W" not in phone.locator(".row.out .text").last.inner_text()
    chat_say(phone, "帮助")
    phone.wait_for_selector("text=排行 广播：把上周各部门排行发到部门群")


def test_the_root_url_leads_to_the_chat(live, phone, desktop):
    base, _ = live
    phone.goto(base + "/")
    assert phone.url == base + "/local/"
    chat_as(desktop, base, "S001")
    shot(desktop, "chat-desktop")
