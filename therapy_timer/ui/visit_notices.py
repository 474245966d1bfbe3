"""Which inline notices the visit screen shows: ties, NCCI, CQ/CO, KX, progress report, clock.

``notice_texts`` is the plain part (testable without widgets); ``build_notices`` wraps each in a
``Notice`` with its buttons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from therapy_timer.core.billing import DayBilling
from therapy_timer.core.documentation import progress_report_due
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui.clock import on_screen, screen_time
from therapy_timer.ui.visit_widgets import Notice

log = logging.getLogger(__name__)

MODIFIER_WORDS = {
    "CQ": "assistant (CQ)", "CO": "assistant (CO)", "KX": "KX (medical necessity)",
    "59": "59 (distinct service)", "XU": "XU (distinct service)",
}


@dataclass(frozen=True)
class NoticeText:
    key: str
    text: str
    level: str = "info"
    detail: str = ""  # the full reason, in the tooltip


def notice_texts(billing: DayBilling | None, facts, visit_number: int | None) -> list[NoticeText]:
    """The notices for a visit, as plain text."""
    out: list[NoticeText] = []
    if facts is not None:
        for n, tie in enumerate(facts.allocation.ties):
            out.append(NoticeText(f"tie{n}", tie.describe(), "warn"))
    due = progress_report_due(visit_number) if visit_number else None
    if due:
        out.append(NoticeText("progress", due + ".", "warn"))
    if billing is not None:
        for n, warning in enumerate(billing.warnings):
            out.append(NoticeText(f"warning{n}", warning, "warn"))
        for n, s in enumerate(billing.suggestions):
            name = MODIFIER_WORDS.get(s.modifier, s.modifier)
            units = f"{s.units} unit{'s' if s.units != 1 else ''}"
            out.append(NoticeText(f"suggest{n}", f"{s.code}: {name} suggested on {units}; "
                                  "you confirm it at finish.", "info", s.reason))
    return out


def build_notices(panel, controller, billing: DayBilling | None) -> list[Notice]:
    """Notice widgets for the panel, with actions wired to it."""
    visit = controller.visit
    number = None
    if visit is not None and visit.plan_id is not None:
        try:
            number = panel.repo.visit_count_in_plan(visit.plan_id)
        except (StorageError, AttributeError) as exc:
            log.info("visit count not known: %s", exc)
    notices: list[Notice] = []
    for jump_no, jump in enumerate(controller.jumps):
        at = on_screen(jump.trusted_until)
        notices.append(Notice(
            f"jump{jump_no}", jump.describe(), "error",
            [("Time is right", lambda j=jump: panel.resolve_jump(j, True)),
             ("Keep the measured time", lambda j=jump: panel.resolve_jump(j, "measured")),
             (f"Stop at {screen_time(at)}", lambda j=jump: panel.resolve_jump(j, False))],
        ))
    refused = getattr(panel, "billing_error", "")
    if refused:
        notices.append(Notice("refused", f"Not billable as recorded: {refused}", "error"))
    for item in notice_texts(billing, controller.facts(), number):
        actions = []
        text = item.text
        if item.key.startswith("tie"):
            actions = [("Choose…", panel.choose_tie)]
            choice = panel.tie_choice
            if choice:
                chosen = ", ".join(f"{code} × {units}" for code, units in choice.items()
                                   if units)
                facts = controller.facts()
                timed = {line.code for line in facts.allocation.lines if line.timed} \
                    if facts is not None else set()
                if facts is not None and all(facts.allocation.units(code) == units
                                             for code, units in choice.items()
                                             if code in timed):
                    text += " Chosen: " + chosen
                else:  # the times moved on: the review resets it and says so
                    text += (f" Your choice ({chosen}) no longer fits the times: the rule's "
                             "pick is shown; choose again.")
        notice = Notice(item.key, text, item.level, actions)
        if item.detail:
            notice.setToolTip(item.detail)
            notice.setAccessibleDescription(item.detail)
        notices.append(notice)
    return notices
