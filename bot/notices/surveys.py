"""What 360 questionnaires (360 问卷) say: question cards, the rater's replies, and the results
card the subject and their supervisor get (design §14). Nothing here names a rater."""

from __future__ import annotations

from typing import Any

from bot.asks.kinds import Choice, Needs
from cards import Card, Field

SURVEY_KIND = "survey_question"
SURVEY_POLICY = "survey_reminder"  # one reminder a day after a card (migration 0015)
MIN_RATERS = 3  # results exist only once this many raters have finished (design §14)
SCALE = ("1", "2", "3", "4", "5")
TEXT_CHOICE = "text"

QUESTION_TITLE = "360 评价 · {title}"
QUESTION_ABOUT = "评价对象：{name}{department}"
QUESTION_LINE = "第 {index}/{total} 题：{text}"
SCALE_HINT = "1 = 需明显改进 · 3 = 达到要求 · 5 = 非常出色"
TEXT_HINT = "点「填写回答」后直接回复文字，请描述具体行为和事例。"
ANONYMOUS_NOTE = "🔒 匿名作答：不记录谁答了什么；满 3 人作答后才汇总，且不显示姓名。"
ANSWER_LABEL = "填写回答"
SUBMITTED = "已提交"  # the settled card says only this, never which answer
PROMPT_TITLE = "第 {index}/{total} 题 · 关于 {name}"
PROMPT = "{text}\n请直接回复文字（匿名，500 字以内）。"
PROMPT_CANCELLED = "已取消，这道题仍待作答。发送「任务」可以继续。"
ALREADY_SUBMITTED = "这道题已于 {time} 匿名提交，无需重复作答。"
NOT_YOUR_QUESTION = "这份问卷不是发给你的，无法作答。"
TAKEN = "✅ 已匿名提交。"
ALL_DONE = "🎉 「{title}」已全部完成，谢谢！结果满 3 人后汇总，不显示姓名。"
CLOSED_STATUS = "问卷已结束"

RESULTS_TITLE = "360 评价结果 · {title}"
RESULTS_FOR = "评价对象：{name} · {raters} 人完成评价"
RESULTS_AVERAGE = "{index}. {text}：{average:.1f} 分（{count} 人）"
RESULTS_TEXT = "{index}. {text}（{count} 条，顺序已打乱）"
RESULTS_ANSWER = "  · {text}"
RESULTS_NOTE = "匿名汇总：不显示评价人，文字回答已打乱顺序。"
RESULTS_UPDATED_NOTE = "又有 {added} 人完成评价，结果已更新。匿名汇总，不显示评价人。"


def question_card(
    *, title: str, subject: str, department: str | None, index: int, total: int,
    text: str, kind: str,
) -> Card:  # fmt: skip
    """One question about one colleague (the engine adds the buttons)."""
    hint = SCALE_HINT if kind == "scale" else TEXT_HINT
    about = QUESTION_ABOUT.format(
        name=subject, department=f"（{department}）" if department else ""
    )
    return Card(
        title=QUESTION_TITLE.format(title=title),
        lines=(about, QUESTION_LINE.format(index=index, total=total, text=text), hint),
        note=ANONYMOUS_NOTE,
    )


def question_choices(
    kind: str, *, index: int, total: int, subject: str, text: str
) -> tuple[Choice, ...]:
    """Buttons 1–5 for a scale question; 填写回答 (then the next message) for a text one."""
    if kind == "scale":
        return tuple(Choice(key, key, "default", outcome=SUBMITTED) for key in SCALE)
    return (
        Choice(
            TEXT_CHOICE, ANSWER_LABEL, "primary", outcome=SUBMITTED, needs=Needs.TEXT,
            prompt_title=PROMPT_TITLE.format(index=index, total=total, name=subject),
            prompt=PROMPT.format(text=text), cancelled=PROMPT_CANCELLED,
        ),
    )  # fmt: skip


def results_card(
    *, title: str, subject: str, raters: int, results: list[dict[str, Any]], added: int = 0
) -> Card:
    """A subject's aggregates: averages per scale question, text answers (already shuffled)."""
    lines = [RESULTS_FOR.format(name=subject, raters=raters)]
    for item in results:
        index = item["question"] + 1
        if item["kind"] == "scale":
            if item["count"]:
                lines.append(RESULTS_AVERAGE.format(index=index, text=item["text"],
                                                    average=item["average"], count=item["count"]))  # fmt: skip
            continue
        lines.append(RESULTS_TEXT.format(index=index, text=item["text"], count=item["count"]))
        lines += [RESULTS_ANSWER.format(text=answer) for answer in item["answers"]]
    return Card(
        title=RESULTS_TITLE.format(title=title),
        lines=tuple(lines),
        fields=(Field("完成人数", str(raters)),),
        note=RESULTS_UPDATED_NOTE.format(added=added) if added else RESULTS_NOTE,
    )
