"""Visit lists across days: a patient's history and the clinic's open visits (one query each),
and the plan of care a new visit is started under."""

from __future__ import annotations

import sqlite3
from datetime import date

from therapy_timer.core.history import HistoryEntry
from therapy_timer.core.model import Discipline
from therapy_timer.core.records import PlanOfCare, VisitStatus
from therapy_timer.storage.base import RepositoryBase, plan_from, visit_from
from therapy_timer.storage.db import day_text

_ENTRY_SQL = (
    "SELECT v.*, p.first_name, p.last_name, p.chart_number, pr.name AS provider_name,"
    " (SELECT COALESCE(SUM(c.units), 0) FROM charge_lines c WHERE c.visit_id = v.id)"
    "   AS frozen_units,"
    " (SELECT COALESCE(SUM(c.charge_cents), 0) FROM charge_lines c WHERE c.visit_id = v.id)"
    "   AS frozen_cents,"
    ' EXISTS (SELECT 1 FROM intervals i WHERE i.visit_id = v.id AND i."end" IS NULL'
    "   AND i.deleted_at IS NULL) AS running"
    " FROM visits v JOIN patients p ON p.id = v.patient_id"
    " JOIN providers pr ON pr.id = v.provider_id")


def _entry(row: sqlite3.Row) -> HistoryEntry:
    visit = visit_from(row)
    billed = visit.status is not VisitStatus.OPEN and visit.status is not VisitStatus.VOID
    return HistoryEntry(
        visit=visit, patient_name=f"{row['last_name']}, {row['first_name']}",
        chart_number=row["chart_number"], provider_name=row["provider_name"],
        units=int(row["frozen_units"]) if billed else None,
        charges_cents=int(row["frozen_cents"]) if billed else None,
        running=bool(row["running"]))


class HistoryMixin(RepositoryBase):
    """Visits of every day, for the visit history and the "Open visits" list."""

    def visit_history(self, patient_id: int, limit: int = 1000) -> list[HistoryEntry]:
        """A patient's visits of every day and status, newest first, with the frozen units
        and charges of the billed ones."""
        rows = self._rows(_ENTRY_SQL + " WHERE v.patient_id = ? ORDER BY v.day DESC,"
                          " v.created_at DESC, v.id DESC LIMIT ?", (patient_id, limit))
        return [_entry(r) for r in rows]

    def open_visit_list(self, limit: int = 1000) -> list[HistoryEntry]:
        """Every open visit of any day, oldest first (the ones left behind come first)."""
        rows = self._rows(_ENTRY_SQL + " WHERE v.status = 'open' ORDER BY v.day, v.created_at,"
                          " v.id LIMIT ?", (limit,))
        return [_entry(r) for r in rows]

    def open_visits_before(self, patient_id: int, day: date) -> list[HistoryEntry]:
        """The patient's open visits of days before ``day``, oldest first."""
        rows = self._rows(_ENTRY_SQL + " WHERE v.patient_id = ? AND v.status = 'open' AND"
                          " v.day < ? ORDER BY v.day, v.id", (patient_id, day_text(day)))
        return [_entry(r) for r in rows]

    def current_plan(self, patient_id: int, discipline: Discipline | str,
                     day: date) -> PlanOfCare | None:
        """The plan of care a visit on ``day`` is under: of that discipline, started by then
        and still certified, the newest first (else the nearest other one)."""
        row = self._row(
            "SELECT * FROM plans WHERE patient_id = ? AND discipline = ?"
            " ORDER BY (start_date <= ?) DESC,"
            " (certified_through IS NULL OR certified_through >= ?) DESC,"
            " start_date DESC, id DESC LIMIT 1",
            (patient_id, Discipline(discipline).value, day_text(day), day_text(day)))
        return None if row is None else plan_from(row)
