"""Finishing a visit: review every line, confirm each suggested modifier, then lock it.

The review shows code, modifiers, units, minutes, charge and diagnosis pointers for every line,
a check of billed time against the session's span, and one tick box per suggestion (59/XU,
CQ/CO, KX): nothing suggested is applied unless the clinician ticks it. Each open line has a
row of diagnosis letters to tap (``ui/pointers.py``); untouched lines point at the first four
diagnoses. "Finalize and lock" freezes the charge lines and their pointers in the store. A
finalized visit is corrected only by an amendment with a reason; the original is kept.

Every choice (each tick and untick, each pointer, the tie, "bill it?" for an untimed code timed
under a minute) is saved in the store as it is made (``repo.save_choices``) and read back when
the review opens, so leaving the review, saving Diagnoses or reopening the visit keeps them. A
choice whose reason is gone is reset by the store, and the review says what and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.billing import DayBilling, bundled_note
from therapy_timer.core.choices import Choices
from therapy_timer.core.documentation import check_span, missing_details
from therapy_timer.core.formats import format_time_span, format_weekday_date
from therapy_timer.core.model import BillingError
from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import (
    pyside_guard,  # noqa: F401  (before any Qt call)
    style,
)
from therapy_timer.ui.clock import on_screen, screen_time
from therapy_timer.ui.code_details import CodeDetailsPrompt
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.models import RIGHT, Column, RowsModel, money
from therapy_timer.ui.pointers import PointerColumn, PointerToggles

log = logging.getLogger(__name__)
LETTERS = "ABCDEFGHIJKL"
UNDER_A_MINUTE = "timed under a minute: bill it?"
DX_COLUMN, POINT_COLUMN = 6, 7
#: The review's lines: at least this tall, and as tall as they need up to the maximum.
TABLE_MIN_HEIGHT, TABLE_MAX_HEIGHT = 200, 380


def _mods(line) -> str:
    return " ".join(line.modifiers)


def _pointers(line) -> str:
    return "".join(getattr(line, "diagnosis_pointers", ()) or ())


class FinalizePage(QWidget):
    """The review of one visit before (and after) it is locked.

    Signals:
        back_requested(int): return to the visit screen for ``visit_id``.
        finalized(int): the visit was locked.
        amended(int): an amendment opened; the new visit's id (to time or edit it).
        done(): back to today's list.
    """

    back_requested = Signal(int)
    diagnoses_requested = Signal(int)
    finalized = Signal(int)
    amended = Signal(int)
    done = Signal()

    def __init__(self, repo, clock, parent: QWidget | None = None, *,
                 describe: Callable[[str], str] | None = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.clock = clock
        if describe is None:  # ICD-10-CM code -> description, from the index on disk
            from therapy_timer.storage.icd_index import IndexDescriber

            describe = IndexDescriber()
        self.describe = describe
        self.user = ""
        self.visit = None
        self.billing: DayBilling | None = None
        self.choices = Choices()  # the visit's stored choices that still hold
        self.checks: list[tuple[QCheckBox, tuple[str, str]]] = []
        self.untimed_boxes: dict[str, QCheckBox] = {}  # "bill it?" per code under a minute
        self.reset_notes: list[str] = []  # what the store reset, and why (this visit)
        self.toggles: list[PointerToggles] = []
        self.detail_prompts: list[CodeDetailsPrompt] = []
        self.setAccessibleName("Review and finalize")
        self._build()
        self.pointer_column = PointerColumn(self.table, POINT_COLUMN, stretch_column=1)

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 14, 20, 14)
        header = QHBoxLayout()
        titles = QVBoxLayout()
        self.title = QLabel("Review")
        self.title.setProperty("role", "title")
        self.title.setWordWrap(True)  # a long name wraps beside the buttons, never cut off
        self.subtitle = QLabel("")
        self.subtitle.setProperty("role", "subtitle")
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header.addLayout(titles, 1)
        self.back_button = QPushButton("Back to timers")
        self.back_button.setAccessibleName("Back to the visit's timers")
        self.back_button.clicked.connect(
            lambda: self.visit and self.back_requested.emit(self.visit.id))
        self.diagnoses_button = QPushButton("Diagnoses…")
        self.diagnoses_button.setAccessibleName("Edit the visit's diagnoses")
        self.diagnoses_button.clicked.connect(
            lambda: self.visit and self.diagnoses_requested.emit(self.visit.id))
        self.finalize_button = QPushButton("Finalize and lock")
        self.finalize_button.setAccessibleName("Finalize and lock the visit")
        style.polish(self.finalize_button, primary=True)
        self.finalize_button.clicked.connect(self.on_finalize)
        self.amend_button = QPushButton("Amend…")
        self.amend_button.setAccessibleName("Amend the finalized visit")
        self.amend_button.clicked.connect(self.on_amend)
        self.done_button = QPushButton("Today")
        self.done_button.setAccessibleName("Back to today's visits")
        self.done_button.clicked.connect(self.done)
        for button in (self.back_button, self.diagnoses_button, self.amend_button,
                       self.finalize_button, self.done_button):
            button.setMinimumHeight(style.TOUCH)
            header.addWidget(button)
        outer.addLayout(header)

        self.totals = QLabel("")
        self.totals.setStyleSheet("font-size: 20px; font-weight: 700;")
        self.totals.setAccessibleName("Visit totals")
        outer.addWidget(self.totals)

        self.model = RowsModel([
            Column("Code", lambda r: r.code),
            Column("Service", lambda r: r.label),
            Column("Modifiers", _mods),
            Column("Units", lambda r: r.units, RIGHT),
            Column("Minutes", lambda r: r.minutes, RIGHT),
            Column("Charge", lambda r: money(r.charge_cents), RIGHT),
            Column("Dx", _pointers),
            Column("Point to", lambda r: ""),
        ], parent=self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Charge lines")
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(50)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for column in range(DX_COLUMN + 1):  # room for the pointer toggles: the service
            self.table.horizontalHeader().setSectionResizeMode(  # stretches, the rest fit
                column, QHeaderView.ResizeMode.Stretch if column == 1
                else QHeaderView.ResizeMode.ResizeToContents)
        self.table.setStyleSheet("font-size: 17px;")
        self.table.setMinimumHeight(TABLE_MIN_HEIGHT)
        outer.addWidget(self.table, 1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        holder = QWidget()
        self.checks_layout = QVBoxLayout(holder)
        self.checks_layout.setContentsMargins(0, 0, 0, 0)
        scroll.setWidget(holder)
        outer.addWidget(scroll, 3)

    # -- data ---------------------------------------------------------------------------------

    @property
    def choice(self) -> dict[str, int] | None:
        """The tie choice in force (None: the rule's pick)."""
        return dict(self.choices.tie) or None

    @property
    def pointers(self) -> dict[str, str]:
        """Code -> the letters the clinician chose (others point at the first four)."""
        return dict(self.choices.pointers)

    def load(self, visit_id: int, choice: dict[str, int] | None = None) -> None:
        """Shows ``visit_id``: a preview while open, the frozen lines once finalized.

        ``choice``: a tie choice to store first (the visit screen stores its own).
        """
        if self.visit is None or self.visit.id != visit_id:
            self.reset_notes = []
        self.visit = self.repo.get_visit(visit_id)
        if choice is not None and not self.visit.status.frozen:
            try:
                self.repo.save_choices(visit_id, self.repo.visit_choices(visit_id)
                                       .with_tie(choice), self.user or None, self.clock.now())
            except StorageError as exc:
                log.warning("tie choice not saved: %s", exc)
        patient = self.repo.get_patient(self.visit.patient_id)
        self.title.setText(f"Review: {patient.display_name}")
        status = self.visit.status
        day = format_weekday_date(self.visit.day)
        self.subtitle.setText(f"{self.visit.discipline.value} visit on {day}  ·  "
                              f"{status.value.upper()}")
        frozen = status.frozen
        self.finalize_button.setVisible(not frozen)
        self.back_button.setVisible(not frozen)
        self.diagnoses_button.setVisible(not frozen)
        self.amend_button.setVisible(status is VisitStatus.FINALIZED)
        self._clear_checks()
        try:
            # The stored choices that still hold; any reset is saved (and audited) once.
            result = self.repo.billing_with_choices(visit_id, self.clock.now(),
                                                    user=self.user or None, save=not frozen)
            self.billing, self.choices = result.billing, result.choices
            self.reset_notes += [n for n in result.notes if n not in self.reset_notes]
        except (StorageError, BillingError) as exc:
            self.billing, self.choices = None, Choices()
            self._add_message(f"This visit cannot be billed yet: {exc}", "error")
        if frozen:
            self._set_rows([*self.repo.charge_lines(visit_id), *self._unbilled_rows()])
        elif self.billing is not None:
            try:
                self._set_rows([*self._preview_lines(), *self._unbilled_rows()])
            except BillingError as exc:
                self._set_rows([])
                self._add_message(str(exc), "error")
        else:
            self._set_rows([])
        self._show_totals()
        if not frozen and self.billing is not None:
            self._show_checks()
        elif frozen and self.visit.diagnoses:
            self._add_message(self._diagnoses_text(), "info")
            self.checks_layout.addStretch(1)

    def _diagnoses_text(self) -> str:
        """The letters the Dx column uses: "Diagnoses: A M54.50   B R26.89"."""
        return "Diagnoses: " + "   ".join(
            f"{LETTERS[i]} {code}" for i, code in enumerate(self.visit.diagnoses))

    def _preview_lines(self):
        lines = self.billing.claim_lines(confirmed=self.confirmed())
        default = self.default_pointers()
        bundled = {line.code for line in self.billing.lines if line.bundled}
        return [_Preview(line, tuple(self.pointers.get(line.code, default)), billed=True,
                         note=(f"listed at $0.00: Medicare bundles {line.code}"
                               if line.code in bundled else ""))
                for line in lines]

    def default_pointers(self) -> str:
        """What a line points at unless the clinician chooses: the first four diagnoses."""
        return LETTERS[: min(4, len(self.visit.diagnoses))]

    def _set_rows(self, rows) -> None:
        """Shows ``rows``, with pointer toggles on each billed line of an open visit."""
        self.model.set_rows(rows)
        self.toggles = []
        diagnoses = self.visit.diagnoses if self.visit is not None else ()
        editable = bool(diagnoses) and self.visit is not None and not self.visit.status.frozen
        self.table.setColumnHidden(POINT_COLUMN, not editable)
        if editable:
            self._add_toggles(rows, diagnoses)
        else:
            self.pointer_column.set_toggles([], ())
        self._fit_table_height()

    def _add_toggles(self, rows, diagnoses) -> None:
        # As documented with the visit first; the index only for visits recorded before.
        documented = dict(zip(self.visit.diagnoses, self.visit.diagnosis_descriptions,
                              strict=False))
        descriptions = {code: documented.get(code) or self.describe(code) for code in diagnoses}
        for i, row in enumerate(rows):
            if not getattr(row, "billed", False):
                continue
            toggles = PointerToggles(row.code, diagnoses, "".join(row.diagnosis_pointers),
                                     descriptions=descriptions)
            toggles.changed.connect(self.set_pointers)
            self.table.setIndexWidget(self.model.index(i, POINT_COLUMN), toggles)
            self.table.setRowHeight(i, max(self.table.rowHeight(i),  # keeps the touch size
                                           toggles.sizeHint().height()))
            self.toggles.append(toggles)
        self.pointer_column.set_toggles(self.toggles, diagnoses)  # codes on them if they fit

    def _fit_table_height(self) -> None:
        """The lines get the height they need (up to ``TABLE_MAX_HEIGHT``) before the checks
        below share what is left: a short review shows every line without scrolling."""
        table = self.table
        rows = sum(table.rowHeight(i) for i in range(self.model.rowCount()))
        content = table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth()
        table.setMinimumHeight(max(TABLE_MIN_HEIGHT, min(content, TABLE_MAX_HEIGHT)))

    def set_pointers(self, code: str, letters: str) -> None:
        """The clinician's pointers for every line of ``code`` (primary first), saved."""
        if not self._save(self.choices.with_pointers(code, letters, self.visit.diagnoses)):
            letters = self.pointers.get(code, self.default_pointers())
        for toggles in self.toggles:
            if toggles.code == code and toggles.letters() != letters:
                toggles.set_letters(letters)
        rows = self.model.rows()
        for row in rows:
            if getattr(row, "billed", False) and row.code == code:
                row.diagnosis_pointers = tuple(letters)
        if rows:
            self.model.dataChanged.emit(self.model.index(0, DX_COLUMN),
                                        self.model.index(len(rows) - 1, DX_COLUMN))

    def chosen_pointers(self) -> dict[str, str]:
        """Pointers to freeze: the clinician's choices for codes the review still bills."""
        codes = {r.code for r in self.model.rows() if getattr(r, "billed", False)}
        return {code: letters for code, letters in self.pointers.items() if code in codes}

    def _unbilled_rows(self) -> list[_Preview]:
        """Codes that were timed but earn no unit: documented (CMS asks for every timed
        intervention), shown with 0 units so the clinician sees where the minutes went."""
        if self.billing is None:
            return []
        listed = self.billing.context.list_bundled  # then on the claim at $0.00 instead
        under = set(self.billing.under_a_minute)
        short = ("timed under a minute, not billed" if self.visit.status.frozen
                 else UNDER_A_MINUTE)
        rows = []
        for line in self.billing.lines:
            if line.units != 0 or (line.bundled and listed):
                continue
            row = _Preview(line, (), note=short if line.code in under
                           else "documented, not billed")
            if line.bundled:  # "Hot or cold packs: documented, not billed (Medicare bundles…)"
                row.label = f"{line.label}: {bundled_note(line.code)}"
            rows.append(row)
        return rows

    def _pooled_intervals(self) -> list:
        """The intervals the visit is billed with: its own and the same patient's finalized
        visits that day in its discipline (the engine's evidence names them all)."""
        visit = self.visit
        out = list(self.repo.intervals_for(visit.id))
        try:
            for other in self.repo.visits_for_patient(visit.patient_id, limit=50):
                if (other.id != visit.id and other.day == visit.day
                        and other.discipline == visit.discipline
                        and other.status is VisitStatus.FINALIZED):
                    out.extend(self.repo.intervals_for(other.id))
        except StorageError as exc:  # the visit's own still show
            log.info("pooled intervals not read: %s", exc)
        return out

    def confirmed(self) -> set[tuple[str, str]]:
        """The (code, modifier) suggestions the clinician ticked (kept in the store)."""
        return self.choices.confirmed()

    def _save(self, choices: Choices) -> bool:
        """Stores ``choices`` as the visit's; False (with a message) when refused."""
        try:
            self.choices = self.repo.save_choices(self.visit.id, choices, self.user or None,
                                                  self.clock.now())
        except (StorageError, BillingError) as exc:
            Ask.warn(self, "Choice not saved", str(exc))
            return False
        return True

    def _show_totals(self) -> None:
        billing = self.billing
        if billing is None:
            self.totals.setText("")
            return
        units = sum(r.units for r in self.model.rows())
        charge = sum(r.charge_cents for r in self.model.rows())
        start, end = billing.session_start, billing.session_end
        span = ""
        if start and end:
            span = (f"Session {screen_time(start)}–{screen_time(end)}  ·  ")
        self.totals.setText(
            f"{span}Timed {billing.total_timed_minutes} min  ·  Treatment "
            f"{billing.total_treatment_minutes} min  ·  {units} units  ·  {money(charge)}")

    def _clear_checks(self) -> None:
        self.checks = []
        while self.checks_layout.count():
            item = self.checks_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def show_notice(self, text: str) -> QLabel:
        """A notice first above the checks (the visit was finalized on another station)."""
        label = self._add_message(text, "warn")
        self.checks_layout.removeWidget(label)
        self.checks_layout.insertWidget(0, label)
        label.setObjectName("liveNotice")
        return label

    def _add_message(self, text: str, level: str = "warn") -> QLabel:
        bg, ink = {"warn": (style.WARN_BG, style.WARN_INK), "error": (style.ERROR_BG,
                                                                       style.ERROR_INK),
                   "info": (style.INFO_BG, style.INFO_INK)}[level]
        label = QLabel(text)
        label.setWordWrap(True)
        label.setStyleSheet(f"background: {bg}; color: {ink}; border-radius: 8px; "
                            "padding: 8px 12px; font-size: 15px; font-weight: 600;")
        self.checks_layout.addWidget(label)
        return label

    def _clock_question(self) -> str:
        """Why the visit cannot be finalized yet because of an unconfirmed clock jump, or ""."""
        flagged = [i for i in self.repo.intervals_for(self.visit.id)
                   if i.clock_flag and i.clock_flag.pending]
        if not flagged:
            return ""
        codes = ", ".join(dict.fromkeys(i.code for i in flagged))
        since = on_screen(min(i.clock_flag.last_good for i in flagged))
        return (f"The computer's clock jumped while {codes} ran (after {screen_time(since)}): "
                "go Back to the visit and confirm the time, or stop it at the last certain moment, "
                "before finalizing.")

    def _show_checks(self) -> None:
        billing = self.billing
        question = self._clock_question()
        if question:
            self._add_message(question, "error")
        start, end = billing.session_start, billing.session_end
        if start and end:
            span_minutes = int((end - start).total_seconds()) // 60
            timed_units = sum(line.units for line in billing.lines if line.timed)
            span = check_span(span_minutes, billing.total_treatment_minutes,
                              billing.total_timed_minutes, timed_units, billing.context.rule)
            for flag in span.flags:
                self._add_message(flag, "error" if "over-billing" in flag else "warn")
            if not span.flags:
                self._add_message(f"Billed time fits the {span_minutes}-minute session.",
                                  "info")
        if self.visit.diagnoses:
            self._add_message(self._diagnoses_text() + "  ·  Tap the diagnoses each line treats "
                              "under “Point to” (the first ticked is its primary).", "info")
        else:
            self._add_message("No diagnosis yet: add at least one (Diagnoses…) before "
                              "finalizing.", "error")
        for note in self.reset_notes:
            self._add_message("Reset: " + note, "warn").setAccessibleName("Choice reset")
        self._add_untimed_questions()
        if self.choice:
            order = [line.code for line in billing.lines]
            chosen = sorted(self.choice.items(), key=lambda kv: (
                order.index(kv[0]) if kv[0] in order else len(order), kv[0]))
            self._add_message("Tie: you chose " + ", ".join(
                f"{c} × {u}" for c, u in chosen if u), "info")
        self._show_gaps()
        for warning in billing.warnings:
            self._add_message(warning, "warn")
        if billing.explanation:
            self._add_message("How the units were worked out: " + "; ".join(
                billing.explanation), "info")
        self._add_detail_prompts()
        for suggestion in billing.suggestions:
            row = QFrame()
            row.setStyleSheet(f"QFrame {{ background: {style.PAPER}; border-radius: 8px; }}")
            layout = QVBoxLayout(row)
            layout.setContentsMargins(10, 6, 10, 6)
            layout.setSpacing(2)
            units = f"{suggestion.units} unit{'s' if suggestion.units != 1 else ''}"
            box = QCheckBox(_attestation(suggestion.modifier, suggestion.code, units))
            box.setAccessibleName(f"Confirm {suggestion.modifier} on {suggestion.code}")
            box.setStyleSheet("QCheckBox { font-size: 17px; font-weight: 700; }"
                              "QCheckBox::indicator { width: 26px; height: 26px; }")
            why = QLabel(suggestion.reason)
            why.setWordWrap(True)
            why.setStyleSheet(f"color: {style.MUTED}; font-size: 15px; padding-left: 34px;")
            if suggestion.evidence:
                evidence = evidence_on_screen(suggestion.evidence, self._pooled_intervals())
                box.setToolTip("\n".join(evidence))
                why.setText(suggestion.reason + "  Evidence: " + "; ".join(evidence))
            box.setChecked(self.choices.ticked(suggestion.code, suggestion.modifier))
            box.toggled.connect(lambda on, b=box, key=(suggestion.code, suggestion.modifier):
                                self._on_toggle(b, key, on))
            layout.addWidget(box)
            layout.addWidget(why)
            self.checks_layout.addWidget(row)
            self.checks.append((box, (suggestion.code, suggestion.modifier)))
        self.checks_layout.addStretch(1)

    def superbill_gaps(self) -> tuple:
        """What this visit's superbill would lack (``core/superbill_check.py``): the practice's
        NPI and Tax ID, the provider's NPI, a fee for each billed code."""
        if self.visit is None or self.billing is None:
            return ()
        from therapy_timer.core.superbill_build import visit_gaps

        try:
            lines = self.billing.claim_lines(confirmed=self.confirmed())
            return visit_gaps(self.repo, self.visit,
                              [(line.code, line.fee_cents) for line in lines if line.units])
        except (StorageError, BillingError):
            return ()

    def _show_gaps(self) -> None:
        """One message listing what the superbill would lack (you can still finalize)."""
        gaps = self.superbill_gaps()
        if gaps:
            self._add_message("This visit's superbill is not usable by a payer yet:\n"
                              + "\n".join(f"• {gap}" for gap in gaps), "warn")

    def _add_detail_prompts(self) -> None:
        """What a code's documentation still lacks (97140's technique and region, e.g. time
        entered by hand), each with the fields to fill it in here."""
        self.detail_prompts = []
        catalog = self.repo.code_catalog()
        missing = missing_details(self.repo.intervals_for(self.visit.id), catalog)
        for code, fields in missing.items():
            try:
                label = catalog.get(code, self.visit.day).label
            except BillingError:
                label = ""
            prompt = CodeDetailsPrompt(code, label, fields)
            prompt.saved.connect(self.fill_details)
            self.checks_layout.addWidget(prompt)
            self.detail_prompts.append(prompt)

    def fill_details(self, code: str, technique: str, region: str) -> bool:
        """Stores a prompt's answer on the code's intervals (audited) and redraws."""
        try:
            self.repo.fill_code_details(self.visit.id, code, technique, region,
                                        user=self.user or "unknown", now=self.clock.now())
        except StorageError as exc:
            for prompt in self.detail_prompts:
                if prompt.code == code:
                    prompt.show_error(str(exc))
            return False
        self.load(self.visit.id)
        return True

    def _add_untimed_questions(self) -> None:
        """"Timed under a minute: bill it?" for each untimed code the timers barely saw."""
        self.untimed_boxes = {}
        for code in self.billing.under_a_minute:
            line = next((ln for ln in self.billing.lines if ln.code == code), None)
            label = line.label if line is not None else code
            row = QFrame()
            row.setStyleSheet(f"QFrame {{ background: {style.WARN_BG}; border-radius: 8px; }}")
            layout = QVBoxLayout(row)
            layout.setContentsMargins(10, 6, 10, 6)
            box = QCheckBox(f"{code} {label}: timed under a minute: bill it?")
            box.setAccessibleName(f"Bill {code} although timed under a minute")
            box.setStyleSheet("QCheckBox { font-size: 17px; font-weight: 700; }"
                              "QCheckBox::indicator { width: 26px; height: 26px; }")
            box.setChecked(code in self.choices.untimed_ok)
            box.toggled.connect(lambda on, c=code: self._on_untimed(c, on))
            why = QLabel("It bills one unit whatever its length, but its timer ran less than a "
                         "minute: tick only if the service was really furnished (otherwise it "
                         "is left off the claim).")
            why.setWordWrap(True)
            why.setStyleSheet(f"color: {style.WARN_INK}; font-size: 15px; padding-left: 34px;")
            layout.addWidget(box)
            layout.addWidget(why)
            self.checks_layout.addWidget(row)
            self.untimed_boxes[code] = box

    def _on_untimed(self, code: str, ok: bool) -> None:
        if self._save(self.choices.with_untimed(code, ok)):
            self.load(self.visit.id)  # the units change: bill again
        else:
            box = self.untimed_boxes.get(code)
            if box is not None:
                box.blockSignals(True)
                box.setChecked(not ok)
                box.blockSignals(False)

    def _on_toggle(self, box: QCheckBox, key: tuple[str, str], on: bool) -> None:
        if self.visit is None or self.visit.status.frozen:
            return
        if not self._save(self.choices.with_modifier(*key, on)):
            box.blockSignals(True)
            box.setChecked(not on)
            box.blockSignals(False)
            return
        if self.billing is not None:
            try:
                self._set_rows([*self._preview_lines(), *self._unbilled_rows()])
            except BillingError as exc:
                Ask.warn(self, "Too many modifiers", str(exc))
            self._show_totals()

    # -- intent -------------------------------------------------------------------------------

    def on_finalize(self) -> bool:
        if self.visit is None:
            return False
        question = self._clock_question()
        if question:
            Ask.warn(self, "Not finalized", question)
            return False
        if not Ask.confirm(self, "Finalize and lock?", "The charge lines will be locked. Later "
                           "corrections need an amendment with a reason." + _gaps_note(
                               self.superbill_gaps()),
                           yes="Finalize and lock", no="Not yet"):
            return False
        try:
            self.repo.finalize_visit(self.visit.id, self.confirmed(), self.user or "unknown",
                                     self.clock.now(), choice=self.choice or {},
                                     pointers=self.chosen_pointers(),
                                     untimed_ok=self.choices.untimed_ok)
        except (StorageError, BillingError) as exc:
            Ask.warn(self, "Not finalized", str(exc))
            return False
        visit_id = self.visit.id
        self.load(visit_id)
        self.finalized.emit(visit_id)
        return True

    def on_amend(self) -> int | None:
        if self.visit is None:
            return None
        reason = Ask.text(self, "Amend the visit", "Why is this finalized visit corrected? "
                          "(kept with the original)")
        if reason is None:
            return None
        if not reason.strip():
            Ask.warn(self, "Not amended", "An amendment needs a reason.")
            return None
        try:
            new = self.repo.amend_visit(self.visit.id, reason.strip(), self.user or "unknown",
                                        self.clock.now())
        except (StorageError, BillingError) as exc:
            Ask.warn(self, "Not amended", str(exc))
            return None
        new_id = new if isinstance(new, int) else new.id
        self.amended.emit(new_id)
        return new_id


def evidence_on_screen(evidence, intervals) -> list[str]:
    """The 59/XU evidence lines ("97140: 9:05–9:20 AM, ...") with their times in clinic time,
    as the superbill prints them: the engine writes the stored (UTC) times. Each line is
    rebuilt from the code's intervals; a line whose code has none here stays as it is."""
    by_code: dict[str, list] = {}
    for interval in sorted(intervals, key=lambda i: i.start):
        if interval.end is not None:
            by_code.setdefault(interval.code.upper(), []).append(interval)
    out = []
    for line in evidence:
        code = str(line).split(":", 1)[0].strip().upper()
        spans = by_code.get(code)
        if not spans:
            out.append(str(line))
            continue
        out.append(f"{code}: " + ", ".join(
            format_time_span(on_screen(i.start), on_screen(i.end)) for i in spans))
    return out
def _gaps_note(gaps) -> str:
    """The finalize question's warning when the superbill would not be usable by a payer."""
    if not gaps:
        return ""
    return ("\n\nIts superbill is not usable by a payer yet:\n"
            + "\n".join(f"• {gap}" for gap in gaps)
            + "\n(You can finalize now and fix these before printing.)")


def _attestation(modifier: str, code: str, units: str) -> str:
    """What ticking the box says, in the clinician's words."""
    if modifier == "KX":
        return f"I attest these services are medically necessary: apply KX to {code} ({units})"
    if modifier in ("59", "XU", "XE", "XS", "XP"):
        return (f"{code} was a distinct service in separate time (see the times): apply "
                f"{modifier} ({units})")
    return f"Apply {modifier} to {code} ({units})"


class _Preview:
    """A claim line as the review shows it before finalize (``billed``: it will be frozen,
    and its pointers can be chosen)."""

    def __init__(self, line, pointers: tuple[str, ...], note: str = "",
                 billed: bool = False) -> None:
        self.billed = billed
        self.code = line.code
        self.label = f"{line.label} ({note})" if note else line.label
        self.modifiers = line.modifiers if line.units else ()
        self.units = line.units
        self.minutes = line.minutes
        self.charge_cents = line.charge_cents
        self.diagnosis_pointers = pointers
