"""A hypothesis state machine over start / stop / switch / pause / edit / finalize / amend.

A plain-Python model mirrors what the store should hold. After every step: the stored intervals
equal the model (time is never lost), exclusive intervals never overlap (never double counted),
at most one exclusive timer runs, and finalized charge lines never change. Several visits of the
patient on one day pool (issue 17): their timed units together never exceed what the day's
timed minutes earn on the CMS chart, and a tie is finalized with the clinician's choice, which
the visit keeps.
"""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from therapy_timer.core.codes import default_catalog
from therapy_timer.core.minutes import check_overlaps
from therapy_timer.storage.errors import InvalidDataError
from therapy_timer.storage.repository import open_repository

from .conftest import T0, build_clinic

CODES = ["97110", "97140", "97530", "97112", "97010", "97150"]
# The CMS chart (Pub 100-04 ch. 5 s. 20.2) written out: a unit from 8 minutes, then every 15.
CHART_STARTS = tuple(8 + 15 * n for n in range(200))


def timed(code: str) -> bool:
    return default_catalog().get(code).timed


def exclusive(code: str) -> bool:
    return default_catalog().get(code).kind.exclusive


class StoreMachine(RuleBasedStateMachine):
    @staticmethod
    def new_target():
        """Where each run's clinic lives: here an SQLite database in memory."""
        return ":memory:"

    def __init__(self) -> None:
        super().__init__()
        self.repo = open_repository(self.new_target())
        self.clinic = build_clinic(self.repo)
        self.now = T0
        self.visit_id: int | None = None
        self.model: dict[int, dict] = {}  # interval id -> code, performer, start, end
        self.frozen: dict[int, list] = {}  # finalized visit -> its charge lines
        self.last_finalized: int | None = None

    def teardown(self) -> None:
        self.repo.close()

    # --- rules ---

    @rule(seconds=st.integers(1, 1500))
    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule(minutes=st.integers(1, 25))
    def advance_whole_minutes(self, minutes):
        """Whole minutes make equal leftovers (ties) common."""
        self.now += timedelta(minutes=minutes)

    @precondition(lambda self: self.visit_id is None)
    @rule()
    def open_visit(self):
        visit = self.repo.start_visit(self.clinic.patient.id, self.clinic.pt.id,
                                      self.clinic.plan.id, self.now)
        self.repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
        self.visit_id = visit.id
        self.model = {}

    @precondition(lambda self: self.visit_id is not None)
    @rule(code=st.sampled_from(CODES), assistant=st.booleans())
    def start(self, code, assistant):
        """Starting an exclusive code while another runs is the switch."""
        for item in self.model.values():
            if item["end"] is None and (item["code"] == code or (
                    exclusive(code) and exclusive(item["code"]))):
                item["end"] = max(self.now, item["start"])
        performer = "PTA" if assistant else "PT"
        interval = self.repo.start_interval(self.visit_id, code, performer, self.now)
        self.model[interval.id] = {"code": code, "performer": performer, "start": self.now,
                                   "end": None}

    @precondition(lambda self: self.visit_id is not None and any(
        m["end"] is None and exclusive(m["code"]) for m in self.model.values()))
    @rule(code=st.sampled_from([c for c in CODES if exclusive(c)]))
    def switch(self, code):
        """One tap from a running one-on-one code to another: exactly one stops, one starts."""
        running = [i for i, m in self.model.items()
                   if m["end"] is None and exclusive(m["code"])]
        self.start(code, assistant=False)
        assert all(self.model[i]["end"] == self.now for i in running)

    @precondition(lambda self: self.visit_id is not None)
    @rule(data=st.data())
    def stop(self, data):
        running = sorted(i for i, m in self.model.items() if m["end"] is None)
        if not running:
            return
        interval_id = data.draw(st.sampled_from(running))
        self.repo.stop_interval(interval_id, self.now)
        self.model[interval_id]["end"] = self.now

    @precondition(lambda self: self.visit_id is not None)
    @rule()
    def pause(self):
        self.repo.pause_visit(self.visit_id, self.now)
        for item in self.model.values():
            if item["end"] is None:
                item["end"] = self.now

    @precondition(lambda self: self.visit_id is not None)
    @rule(data=st.data(), shift=st.integers(-900, 900))
    def edit_end(self, data, shift):
        stopped = sorted(i for i, m in self.model.items() if m["end"] is not None)
        if not stopped:
            return
        interval_id = data.draw(st.sampled_from(stopped))
        item = self.model[interval_id]
        new_end = max(item["start"], item["end"] + timedelta(seconds=shift))
        far = self.now + timedelta(days=3650)  # a running timer runs on until stopped

        def overlap(a, b) -> bool:
            """The engine's rule: ordered by (start, end), the later starts before the
            earlier ends (so a zero-length interval strictly inside another counts)."""
            first, second = sorted([a, b])
            return second[0] < first[1]

        clash = new_end > self.now or exclusive(item["code"]) and any(
            exclusive(other["code"])
            and overlap((item["start"], new_end), (other["start"], other["end"] or far))
            for other_id, other in self.model.items() if other_id != interval_id)
        try:
            self.repo.edit_interval(interval_id, end=new_end, reason="state machine",
                                    user="hyp", now=self.now)
        except InvalidDataError as exc:
            assert clash, f"edit refused without an overlap or a future end: {exc}"
            return
        assert not clash, "an overlapping edit was accepted"
        item["end"] = new_end

    @precondition(lambda self: self.visit_id is not None)
    @rule()
    def finalize(self):
        running = any(m["end"] is None for m in self.model.values())
        try:
            lines = self.repo.finalize_visit(self.visit_id, None, "hyp", self.now)
        except InvalidDataError:
            assert running
            return
        assert not running
        event("finalized a visit")
        self.frozen[self.visit_id] = lines
        self.last_finalized = self.visit_id
        self.visit_id = None
        self.model = {}

    @precondition(lambda self: self.visit_id is not None and not any(
        m["end"] is None for m in self.model.values()))
    @rule(first=st.sampled_from(["97110", "97530"]), second=st.sampled_from(["97112", "97140"]),
          minutes=st.sampled_from([20, 35]))
    def run_a_tied_pair(self, first, second, minutes):
        """Two one-on-one codes of equal minutes, one after the other: equal leftovers."""
        if self.now + timedelta(minutes=2 * minutes) > T0 + timedelta(hours=12):
            return  # the clinic's day (09:00 Chicago) ends 15 h after T0: stay inside it
        self.start(first, assistant=False)
        self.now += timedelta(minutes=minutes)
        self.switch(second)
        self.now += timedelta(minutes=minutes)
        [running] = [i for i, m in self.model.items() if m["end"] is None]
        self.repo.stop_interval(running, self.now)
        self.model[running]["end"] = self.now

    @precondition(lambda self: self.visit_id is not None)
    @rule(data=st.data())
    def finalize_with_the_other_tie_choice(self, data):
        """Where the pooled day leaves a tie, the clinician picks any allowed allocation at
        finalize; the visit keeps that choice in its billing record."""
        if any(m["end"] is None for m in self.model.values()):
            return
        allowed = self.repo.bill_visit(self.visit_id, self.now).allocation \
            .allowed_allocations()
        if len(allowed) < 2:
            return
        choice = data.draw(st.sampled_from(allowed[1:]))
        event("finalized a tie with another choice")
        lines = self.repo.finalize_visit(self.visit_id, None, "hyp", self.now, choice=choice)
        timed_choice = {c: u for c, u in choice.items() if timed(c)}
        assert {c: u for c, u in self.repo.billing_record(self.visit_id)["choice"].items()
                if timed(c)} == timed_choice
        self.frozen[self.visit_id] = lines
        self.last_finalized = self.visit_id
        self.visit_id = None
        self.model = {}

    @precondition(lambda self: self.visit_id is None and self.last_finalized is not None)
    @rule()
    def amend(self):
        original = self.last_finalized
        event("amended a visit")
        copies = self.repo.amend_visit(original, "state machine correction", "hyp", self.now)
        before = sorted((i.code, i.performer.value, i.start, i.end)
                        for i in self.repo.intervals_for(original))
        after = self.repo.intervals_for(copies.id)
        assert sorted((i.code, i.performer.value, i.start, i.end) for i in after) == before
        self.visit_id = copies.id
        self.model = {i.id: {"code": i.code, "performer": i.performer.value, "start": i.start,
                             "end": i.end} for i in after}
        self.last_finalized = None

    # --- invariants ---

    @invariant()
    def stored_time_equals_the_model(self):
        if self.visit_id is None:
            return
        stored = {i.id: {"code": i.code, "performer": i.performer.value, "start": i.start,
                         "end": i.end} for i in self.repo.intervals_for(self.visit_id)}
        assert stored == self.model

    @invariant()
    def never_double_counted(self):
        if self.visit_id is None:
            return
        intervals = [i.interval for i in self.repo.intervals_for(self.visit_id)]
        check_overlaps(intervals, self.now)  # raises on overlapping one-on-one time
        running = [i for i in intervals if i.end is None and exclusive(i.code)]
        assert len(running) <= 1

    @invariant()
    def finalized_lines_never_change(self):
        for visit_id, lines in self.frozen.items():
            assert self.repo.charge_lines(visit_id) == lines

    @invariant()
    def a_pooled_day_never_bills_more_than_its_minutes(self):
        days: dict = {}
        counts: dict = {}
        for visit_id in self.frozen:
            visit = self.repo.get_visit(visit_id)
            if visit.status.value != "finalized":
                continue
            seconds, units = days.get(visit.day, (0, 0))
            seconds += sum((i.end - i.start).total_seconds()
                           for i in self.repo.intervals_for(visit_id) if timed(i.code))
            units += sum(ln.units for ln in self.repo.charge_lines(visit_id)
                         if timed(ln.code))
            days[visit.day] = (seconds, units)
            counts[visit.day] = counts.get(visit.day, 0) + 1
        for day, (seconds, units) in days.items():
            if counts[day] > 1:
                event("two or more finalized visits pooled on one day")
            allowed = sum(1 for start in CHART_STARTS if seconds // 60 >= start)
            assert units <= allowed, (day, seconds, units)

    @invariant()
    def audit_chain_holds(self):
        assert self.repo.audit_verify() is None


StoreMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_store_state_machine = StoreMachine.TestCase


class ServerStoreMachine(StoreMachine):
    """The same machine on the clinic server: each run a fresh database copied from the
    template (about 0.1 s), so fewer runs than on the file."""

    new_target = None  # set by the server_machine fixture below


@pytest.fixture
def server_machine(pg_server, pg_template):
    made: list[str] = []
    ServerStoreMachine.new_target = staticmethod(
        lambda: made.append(pg_server.new_database(template=pg_template)) or made[-1])
    yield
    ServerStoreMachine.new_target = None
    for uri in made:
        pg_server.drop_database(uri)


ServerStoreMachine.TestCase.settings = settings(
    max_examples=min(5, settings.default.max_examples), stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_store_state_machine_on_the_server = pytest.mark.usefixtures("server_machine")(
    ServerStoreMachine.TestCase)
