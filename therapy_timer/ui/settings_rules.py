"""Settings > Rule data: reference data the clinic keeps current (KX thresholds by year; other
sections, such as the NCCI and MUE imports, add their own group boxes with ``add_section``).

The KX section lists every year on file with its threshold, the targeted medical review level,
where the amounts come from and how sure they are, and who entered them; it takes a new year
(or a corrected one), each entry audited with who entered it. A newer release's value for a
year the clinic entered is shown beside it, to accept or decline.

Used by ``ui/settings.py``'s ``SettingsDialog`` (tab "Rule data", attribute ``rules``).
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from therapy_timer.core.rules_data import CONFIDENCE_MARKS, KX_YEARS, KxEntry, kx_lookup
from therapy_timer.storage.errors import StorageError
from therapy_timer.ui import pyside_guard  # noqa: F401  (before any Qt call)
from therapy_timer.ui.dialogs import Ask
from therapy_timer.ui.settings import Page, confirm_note, dollars, parse_dollars

#: Where a clinic finds each year's amounts (README, "Rule data").
KX_WHERE = (
    "CMS publishes each year's KX threshold in the Medicare Physician Fee Schedule final rule "
    "(out each November for the next calendar year) and on the MLN \u201cTherapy Services\u201d "
    "page; the Medicare contractor's (MAC's) news pages repeat it. Enter next year's here as "
    "soon as it is out. Until it is entered, visits of a year with no threshold on file are "
    "checked against the latest year's, and the visit, the review and the superbill say so.")
KX_COLUMNS = ["Year", "KX threshold", "Review level", "Confidence", "Source", "Entered by"]
SHIPPED_WORDS = "shipped with the app"


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def entered_text(entry: KxEntry) -> str:
    who = SHIPPED_WORDS if entry.entered_by.startswith("Therapy Timer") else entry.entered_by
    return f"{who}, {entry.entered_at.date().isoformat()}"


def coverage_note(entries: list[KxEntry], today: date) -> str:
    """What the section says about this year and (from November) next year."""
    table = {e.kx.year: e.kx for e in entries}
    years = [today.year] + ([today.year + 1] if today.month >= 11 else [])
    out = []
    for year in years:
        if year in table:
            continue
        if not table:
            out.append(f"No KX threshold is on file: enter {year}'s.")
            break
        used = kx_lookup(year, table).kx.year
        if year == today.year:
            out.append(f"{used}'s threshold used: enter {year}'s in Settings (Rule data). "
                       f"Visits of {year} are checked against {used}'s amounts until you do.")
        else:
            out.append(f"{year}'s threshold is not on file yet: visits from 1 January {year} "
                       f"will use {used}'s until you enter it.")
    return " ".join(out)


class KxSection(QGroupBox):
    """The KX thresholds by year, and the form that enters one."""

    changed = Signal()

    def __init__(self, page: RulesPage, today: date) -> None:
        super().__init__("KX thresholds (Medicare therapy, per patient per year)")
        self.setObjectName("kxSection")
        self.page = page
        self.today = today
        self.table = QTableWidget(0, len(KX_COLUMNS))
        self.table.setHorizontalHeaderLabels(KX_COLUMNS)
        self.table.setAccessibleName("KX thresholds by year")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(170)
        self.where = QLabel(KX_WHERE)
        self.where.setWordWrap(True)
        self.coverage = confirm_note("")
        self.coverage.setObjectName("kxCoverage")
        self.offers = confirm_note("")
        self.offers.setObjectName("kxOffers")
        self.accept_offer = QPushButton("Use the shipped value")
        self.decline_offer = QPushButton("Keep ours")
        self.confidence_note = confirm_note("")

        self.year = QSpinBox()
        self.year.setRange(*KX_YEARS)
        self.year.setAccessibleName("Year")
        self.threshold = QLineEdit(placeholderText="e.g. 2,480.00")
        self.threshold.setAccessibleName("KX threshold ($)")
        self.review = QLineEdit("3,000.00")
        self.review.setAccessibleName("Targeted medical review level ($)")
        self.confidence = QComboBox()
        for mark, words in CONFIDENCE_MARKS.items():
            self.confidence.addItem(f"{mark}: {words}", mark)
        self.confidence.setAccessibleName("Confidence")
        self.source = QLineEdit(placeholderText="e.g. CY2027 PFS final rule; MLN Therapy "
                                "Services page")
        self.source.setAccessibleName("Source")
        self.save_year = QPushButton("Save year")
        self.save_year.setObjectName("kxSave")

        form = QFormLayout()
        form.addRow("Year", self.year)
        form.addRow("KX threshold ($)", self.threshold)
        form.addRow("Review level ($)", self.review)
        form.addRow("Confidence", self.confidence)
        form.addRow("Source", self.source)
        offer_row = QHBoxLayout()
        offer_row.addWidget(self.offers, 1)
        offer_row.addWidget(self.accept_offer)
        offer_row.addWidget(self.decline_offer)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_year)
        layout = QVBoxLayout(self)
        layout.addWidget(self.where)
        layout.addWidget(self.coverage)
        layout.addWidget(self.table)
        layout.addWidget(self.confidence_note)
        layout.addLayout(offer_row)
        layout.addLayout(form)
        layout.addLayout(buttons)

        self.table.itemSelectionChanged.connect(self._selected)
        self.save_year.clicked.connect(self.save)
        self.accept_offer.clicked.connect(lambda: self._answer_offer(True))
        self.decline_offer.clicked.connect(lambda: self._answer_offer(False))
        page.watch(self.threshold, self.review, self.source, self.year, self.confidence)
        self.entries: list[KxEntry] = []
        self.reload()
        self._new_year()

    # --- showing ---

    def reload(self) -> None:
        try:
            self.entries = self.page.repo.kx_entries()
        except StorageError as exc:
            self.page.error(f"KX thresholds not read: {exc}")
            self.entries = []
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(reversed(self.entries)):  # newest year first
            kx = entry.kx
            cells = [str(kx.year), money(kx.threshold_cents), money(kx.review_cents),
                     f"{kx.confidence}: {CONFIDENCE_MARKS.get(kx.confidence, '')}", kx.source,
                     entered_text(entry)]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, kx.year)
                if entry.offer is not None:
                    item.setToolTip(f"A newer shipped value is offered: "
                                    f"{money(entry.offer.threshold_cents)}")
                self.table.setItem(row, column, item)
        self.coverage.setText(coverage_note(self.entries, self.today))
        self.coverage.setVisible(bool(self.coverage.text()))
        unsure = [str(e.kx.year) for e in self.entries if e.kx.confidence != "V"]
        self.confidence_note.setText(
            f"Not from official text ({', '.join(unsure)}): confirm these amounts with your "
            "Medicare contractor, then enter them again marked V." if unsure else "")
        self.confidence_note.setVisible(bool(unsure))
        self._show_offers()

    def _show_offers(self) -> None:
        offered = [e for e in self.entries if e.offer is not None]
        lines = [f"{e.kx.year}: this release ships {money(e.offer.threshold_cents)} "
                 f"(review {money(e.offer.review_cents)}, {e.offer.confidence}, "
                 f"{e.offer.source}); yours is {money(e.kx.threshold_cents)}."
                 for e in offered if e.offer is not None]
        self.offers.setText(" ".join(lines))
        for widget in (self.offers, self.accept_offer, self.decline_offer):
            widget.setVisible(bool(offered))

    def _new_year(self) -> None:
        """The form starts at the first year after the latest on file, or this year if none
        is on file for it."""
        years = [e.kx.year for e in self.entries]
        year = self.today.year if self.today.year not in years else max(years) + 1
        self.year.setValue(min(year, KX_YEARS[1]))
        self.page.dirty = False

    def _selected(self) -> None:
        items = self.table.selectedItems()
        if not items:
            return
        year = items[0].data(Qt.ItemDataRole.UserRole)
        entry = next((e for e in self.entries if e.kx.year == year), None)
        if entry is None:
            return
        kx = entry.kx
        self.year.setValue(kx.year)
        self.threshold.setText(dollars(kx.threshold_cents))
        self.review.setText(dollars(kx.review_cents))
        self.confidence.setCurrentIndex(self.confidence.findData(kx.confidence))
        self.source.setText(kx.source)
        self.page.dirty = False

    # --- entering ---

    @classmethod
    def ask_replace(cls, parent: QWidget | None, text: str) -> bool:
        """Asks before a year on file is replaced (tests replace this)."""
        return Ask.confirm(parent, "Replace the KX threshold", text, yes="Replace",
                           no="Cancel")

    @classmethod
    def ask_name(cls, parent: QWidget | None) -> str | None:
        """Who enters the threshold, when nobody is signed in (the audit log names them)."""
        return Ask.text(parent, "Who is entering this?", "Your name (the audit log keeps it):")

    def _who(self) -> str | None:
        user = (self.page.user or "").strip() or (type(self).ask_name(self) or "").strip()
        if not user:
            self.page.error("Not saved: the audit log needs the name of who enters it.")
        return user or None

    def save(self) -> bool:
        page = self.page
        year = self.year.value()
        amounts = []
        for name, field in (("KX threshold", self.threshold), ("Review level", self.review)):
            try:
                amounts.append(parse_dollars(field.text()))
            except ValueError as exc:
                page.error(f"{name}: {exc}.")
                field.setFocus()
                return False
        old = next((e for e in self.entries if e.kx.year == year), None)
        confidence = self.confidence.currentData()
        if old is not None and (old.kx.threshold_cents, old.kx.review_cents, old.kx.confidence,
                                old.kx.source) == (*amounts, confidence,
                                                   " ".join(self.source.text().split())):
            page.ok(f"{year}'s KX threshold is already {money(old.kx.threshold_cents)}.")
            page.dirty = False
            return True
        if old is not None and not type(self).ask_replace(
                self, f"{year} already has a KX threshold of {money(old.kx.threshold_cents)} "
                f"({old.kx.source}). Replace it with {money(amounts[0])}? Visits already "
                "finalized keep what they were billed with."):
            return False
        user = self._who()
        if user is None:
            return False
        try:
            page.repo.set_kx_threshold(year, amounts[0], amounts[1], confidence,
                                       self.source.text(), user, None)
        except StorageError as exc:
            page.error(f"{exc}.")
            return False
        page.dirty = False
        self.reload()
        page.ok(f"{year}'s KX threshold saved: {money(amounts[0])} (review level "
                f"{money(amounts[1])}), entered by {user}. Visits of {year} not yet "
                "finalized use it from now on.")
        self.changed.emit()
        return True

    def _answer_offer(self, accept: bool) -> None:
        page = self.page
        offered = [e for e in self.entries if e.offer is not None]
        selected = self.year.value()
        entry = next((e for e in offered if e.kx.year == selected), offered[0] if offered
                     else None)
        if entry is None:
            return
        user = self._who()
        if user is None:
            return
        try:
            if accept:
                page.repo.accept_kx_offer(entry.kx.year, user)
            else:
                page.repo.decline_kx_offer(entry.kx.year, user)
        except StorageError as exc:
            page.error(f"{exc}.")
            return
        self.reload()
        page.ok(f"{entry.kx.year}: " + ("the shipped value is used." if accept else
                                        "your amount is kept."))
        self.changed.emit()


class RulesPage(Page):
    """The "Rule data" tab: one group box per kind of reference data.

    Other parts of the app add theirs with ``add_section(widget)`` (a ``QGroupBox``); each
    section keeps its own buttons and may use the page's message line (``ok``/``error``).
    """

    title = "Rule data"

    def __init__(self, repo, user: str | None, parent: QWidget | None = None,
                 today: date | None = None) -> None:
        super().__init__(repo, user, parent)
        self.today = today or date.today()
        body = QWidget()
        self.sections = QVBoxLayout(body)
        self.sections.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        row = QHBoxLayout()
        row.addWidget(self.message, 1)
        layout.addLayout(row)
        self.save_button.hide()  # each section saves on its own button
        self.kx = KxSection(self, self.today)
        self.add_section(self.kx)

    def add_section(self, widget: QWidget) -> None:
        """Adds a group box below the others (above the stretch that keeps them at the top)."""
        self.sections.insertWidget(self.sections.count() - 1, widget)

    def save(self) -> bool:
        """Saves what the KX form holds (the dialog's unsaved-changes check calls it)."""
        return self.kx.save()
