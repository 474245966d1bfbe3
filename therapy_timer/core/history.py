"""A visit as a row of a history: a patient's visits of every day, or the clinic's open visits
of any day (issue 16: a visit left open yesterday must be found, finished and finalized)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from therapy_timer.core.records import Visit, VisitStatus


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One visit with the names a list shows. ``units`` and ``charges_cents`` are the frozen
    charge lines' totals (None while the visit is open: nothing is billed yet)."""

    visit: Visit
    patient_name: str
    chart_number: str
    provider_name: str
    units: int | None = None
    charges_cents: int | None = None
    running: bool = False

    @property
    def status(self) -> VisitStatus:
        return self.visit.status

    @property
    def day(self) -> date:
        return self.visit.day

    def days_old(self, today: date) -> int:
        """Whole days between the visit's date and ``today`` (0 for today's visits)."""
        return max(0, (today - self.visit.day).days)

    def status_text(self) -> str:
        """What a list shows: open (running / paused), finalized, amended, void; an open
        amendment says so."""
        visit = self.visit
        if visit.status is VisitStatus.OPEN:
            state = "running" if self.running else ("paused" if visit.paused_codes else "open")
            return f"{state} (amendment)" if visit.amends_id else state
        return visit.status.value


def days_old_text(days: int) -> str:
    """ "today", "1 day", "5 days"."""
    if days <= 0:
        return "today"
    return f"{days} day{'s' if days != 1 else ''}"
