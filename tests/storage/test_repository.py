"""The repository's public API: reference data, visits, timers, billing, finalize, amend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.sql_dialect import REFUSED, query_plan
from therapy_timer.core.model import Discipline, Performer
from therapy_timer.core.records import Provider, VisitStatus
from therapy_timer.storage.errors import (
    FrozenVisitError,
    InvalidDataError,
    NotFoundError,
    ProviderBusyError,
)
from therapy_timer.storage.repository import KEEP, open_repository

from .conftest import T0


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def test_reference_data_round_trips(clinic):
    repo = clinic.repo
    assert repo.get_practice().timezone == "America/Chicago"
    assert [p.name for p in repo.list_providers()] == [
        "Avery Stone", "Blake Reed", "Casey Moor", "Drew Vale"]
    assert repo.get_provider(clinic.pta.id).supervisor_id == clinic.pt.id
    assert repo.get_payer(clinic.medicare.id).allowed_cents["97110"] == 3000
    assert repo.policies_for(clinic.patient.id)[0].member_id == "1EG4TE5MK73"
    assert repo.fee_schedule(T0.date())["97110"] == 4500
    assert [p.discipline.value for p in repo.plans_for(clinic.patient.id)] == ["OT", "PT"]
    assert repo.search_patients("patienta")[0].id == clinic.patient.id
    assert repo.search_patients("Patientb, Te")[0].id == clinic.other.id
    assert repo.search_patients("S-0002")[0].id == clinic.other.id
    assert repo.search_patients("100%_") == []


def test_pin_is_a_slow_salted_hash(clinic):
    repo = clinic.repo
    repo.save_provider(clinic.pt, pin="4321")
    assert repo.verify_pin(clinic.pt.id, "4321")
    assert not repo.verify_pin(clinic.pt.id, "4320")
    assert not repo.verify_pin(clinic.pta.id, "4321")  # no PIN set
    stored = repo.conn.execute("SELECT pin_hash FROM providers WHERE id = ?",
                               (clinic.pt.id,)).fetchone()[0]
    assert stored.startswith("scrypt$") and "4321" not in stored
    assert repo.get_provider(clinic.pt.id).has_pin
    with pytest.raises(InvalidDataError):
        repo.save_provider(clinic.pt, pin="12")


def test_fee_schedule_is_dated(clinic):
    from datetime import date

    repo = clinic.repo
    repo.save_fee("97110", 4800, date(2027, 1, 1))
    assert repo.fee_schedule(date(2026, 12, 31))["97110"] == 4500
    assert repo.fee_schedule(date(2027, 1, 1))["97110"] == 4800
    with pytest.raises(InvalidDataError, match="not a"):
        repo.save_fee("9711", 100, date(2027, 1, 1))


def test_switching_timers_stops_the_running_one_atomically(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    assert visit.day.isoformat() == "2026-11-20" and visit.status is VisitStatus.OPEN
    first = repo.start_interval(visit.id, "97140", Performer.PT, T0, technique="STM",
                                body_region="lumbar")
    hot = repo.start_interval(visit.id, "97010", Performer.PT, T0 + minutes(1))
    second = repo.start_interval(visit.id, "97110", Performer.PT, T0 + minutes(10))
    running = {i.code for i in repo.running_intervals()}
    assert running == {"97010", "97110"}  # the supervised modality runs alongside
    assert repo.get_interval(first.id).end == T0 + minutes(10)
    assert repo.get_interval(first.id).technique == "STM"
    stopped = repo.pause_visit(visit.id, T0 + minutes(30))
    assert {i.id for i in stopped} == {hot.id, second.id}
    assert repo.running_intervals() == []
    assert repo.stop_interval(second.id, T0 + minutes(50)).end == T0 + minutes(30)


def test_heartbeat_marks_running_intervals(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    interval = repo.start_interval(visit.id, "97110", "PT", T0)
    assert repo.heartbeat(T0 + minutes(2)) == 1
    assert repo.get_interval(interval.id).heartbeat == T0 + minutes(2)


def test_provider_cannot_run_one_on_one_for_two_patients(clinic):
    repo = clinic.repo
    a = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    b = repo.start_visit(clinic.other.id, clinic.pt.id, clinic.other_plan.id, T0)
    repo.start_interval(a.id, "97110", "PT", T0)
    with pytest.raises(ProviderBusyError, match="97150") as caught:
        repo.start_interval(b.id, "97530", "PT", T0 + minutes(1))
    assert caught.value.other_visit_id == a.id
    assert repo.intervals_for(b.id) == []  # nothing written
    # A supervised modality for the other patient is fine; so is group for both.
    repo.start_interval(b.id, "97010", "PT", T0 + minutes(1))
    repo.start_interval(a.id, "97150", "PT", T0 + minutes(2))
    repo.start_interval(b.id, "97150", "PT", T0 + minutes(2))
    assert sorted(i.code for i in repo.running_intervals()) == ["97010", "97150", "97150"]


def test_edit_needs_a_reason_and_is_audited(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    a = repo.start_interval(visit.id, "97110", "PT", T0)
    b = repo.start_interval(visit.id, "97140", "PT", T0 + minutes(10))
    repo.stop_interval(b.id, T0 + minutes(20))
    with pytest.raises(InvalidDataError, match="reason"):
        repo.edit_interval(a.id, end=T0 + minutes(5), reason=" ", user="avery")
    with pytest.raises(InvalidDataError, match="overlap"):
        repo.edit_interval(a.id, end=T0 + minutes(15), reason="late stop", user="avery")
    edited = repo.edit_interval(a.id, end=T0 + minutes(8), code=KEEP, performer="PTA",
                                reason="assistant ran it", user="avery")
    assert edited.end == T0 + minutes(8) and edited.performer is Performer.PTA
    entry = repo.audit_entries("interval", a.id)[0]
    assert entry.action == "edit_interval" and entry.user == "avery"
    assert "assistant ran it" in entry.detail and '"PT"' in entry.detail
    assert repo.audit_verify() is None


def test_finalize_freezes_and_amend_keeps_the_original(clinic):
    repo = clinic.repo
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.start_interval(visit.id, "97140", "PT", T0 + minutes(24))
    with pytest.raises(InvalidDataError, match="running"):
        repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50))
    repo.pause_visit(visit.id, T0 + minutes(47))
    with pytest.raises(InvalidDataError, match="diagnosis"):
        repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50))
    repo.set_diagnoses(visit.id, ["m54.50", "R26.89"], validate=False)
    lines = repo.finalize_visit(visit.id, None, "avery", T0 + minutes(50))
    assert [(ln.code, ln.units, ln.modifiers) for ln in lines] == [
        ("97110", 2, ("GP",)), ("97140", 1, ("GP",))]
    assert lines[0].charge_cents == 9000 and lines[0].diagnosis_pointers == ("A", "B")
    frozen = repo.get_visit(visit.id)
    assert frozen.status is VisitStatus.FINALIZED and frozen.timed_minutes == 47
    assert frozen.diagnoses == ("M54.50", "R26.89")
    interval = repo.intervals_for(visit.id)[0]
    with pytest.raises(FrozenVisitError):
        repo.edit_interval(interval.id, end=T0 + minutes(20), reason="x", user="avery")
    with pytest.raises(FrozenVisitError):
        repo.start_interval(visit.id, "97110", "PT", T0 + minutes(60))
    with pytest.raises(REFUSED, match="frozen"):  # the database refuses too
        repo.conn.execute("UPDATE charge_lines SET units = 9")
    with pytest.raises(InvalidDataError, match="reason"):
        repo.amend_visit(visit.id, "", "avery", T0 + minutes(60))
    amended = repo.amend_visit(visit.id, "97140 was 97112", "avery", T0 + minutes(60))
    assert amended.amends_id == visit.id and amended.status is VisitStatus.OPEN
    assert repo.get_visit(visit.id).status is VisitStatus.AMENDED
    assert repo.charge_lines(visit.id) == lines
    copy = repo.intervals_for(amended.id)
    repo.edit_interval(copy[1].id, code="97112", reason="wrong code", user="avery")
    new_lines = repo.finalize_visit(amended.id, None, "avery", T0 + minutes(70))
    assert [ln.code for ln in new_lines] == ["97110", "97112"]
    assert repo.amendments_for(visit.id)[0].reason == "97140 was 97112"
    assert repo.visit_count_in_plan(clinic.plan.id) == 1
    assert repo.audit_verify() is None


def test_same_day_same_discipline_visits_pool(clinic):
    repo = clinic.repo
    morning = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(morning.id, "97110", "PT", T0)
    repo.pause_visit(morning.id, T0 + minutes(10))
    repo.set_diagnoses(morning.id, ["R26.89"], validate=False)
    first = repo.finalize_visit(morning.id, None, "avery", T0 + minutes(11))
    assert [(ln.code, ln.units) for ln in first] == [("97110", 1)]
    later = T0 + timedelta(hours=4)
    evening = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, later)
    repo.start_interval(evening.id, "97110", "PT", later)
    repo.pause_visit(evening.id, later + minutes(14))
    billing = repo.bill_visit(evening.id, later + minutes(15))
    assert billing.total_timed_minutes == 24 and billing.total_units == 2
    repo.set_diagnoses(evening.id, ["R26.89"], validate=False)
    second = repo.finalize_visit(evening.id, None, "avery", later + minutes(15))
    assert [(ln.code, ln.units, ln.minutes) for ln in second] == [("97110", 1, 14)]
    # An OT visit the same day is a different discipline: not pooled.
    ot = repo.start_visit(clinic.patient.id, clinic.ot.id, clinic.ot_plan.id, later)
    repo.start_interval(ot.id, "97535", "OT", later + minutes(20))
    assert repo.bill_visit(ot.id, later + minutes(28)).total_timed_minutes == 8


def test_kx_year_to_date_and_visit_list(clinic):
    repo = clinic.repo
    repo.set_prior_kx(clinic.patient.id, 2026, "PT+SLP", 245000)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.start_interval(visit.id, "97110", "PT", T0)
    repo.pause_visit(visit.id, T0 + minutes(30))
    billing = repo.bill_visit(visit.id, T0 + minutes(31))
    assert any(s.modifier == "KX" for s in billing.suggestions)  # $2,450 + $60 > $2,480
    repo.set_diagnoses(visit.id, ["R26.89"], validate=False)
    repo.finalize_visit(visit.id, None, "avery", T0 + minutes(31))
    assert repo.kx_year_to_date(clinic.patient.id, 2026, "PT+SLP") == 245000 + 2 * 3000
    assert repo.kx_year_to_date(clinic.patient.id, 2026, "OT") == 0
    rows = repo.visits_on(visit.day)
    assert [(r.patient_name, r.provider_name, r.units, r.status.value) for r in rows] == [
        ("Patienta, Testa", "Avery Stone", 2, "finalized")]


def test_missing_records_raise_not_found(repo):
    with pytest.raises(NotFoundError):
        repo.get_visit(99)
    with pytest.raises(NotFoundError):
        repo.start_visit(1, 1, None, T0)


def test_saving_a_record_that_is_gone_names_it_and_adds_nothing(clinic):
    """Updating a provider, patient, payer, policy or plan another window deleted (or an id
    that never existed) says which record is missing instead of inserting a stray row."""
    import dataclasses

    repo = clinic.repo
    policy = repo.policies_for(clinic.patient.id)[0]
    for record, save, name in [
        (clinic.pt, repo.save_provider, "provider 999"),
        (clinic.patient, repo.save_patient, "patient 999"),
        (clinic.medicare, repo.save_payer, "payer 999"),
        (policy, repo.save_policy, "insurance policy 999"),
        (clinic.plan, repo.save_plan, "plan of care 999"),
    ]:
        before = repo.conn.total_changes
        with pytest.raises(NotFoundError, match=name):
            save(dataclasses.replace(record, id=999))
        assert repo.conn.total_changes == before  # the whole save rolled back


@pytest.mark.parametrize(("sql", "index"), [
    ("SELECT * FROM visits WHERE day = '2026-11-20'", "visits_by_day"),
    ("SELECT * FROM visits WHERE patient_id = 1 ORDER BY day DESC", "visits_by_patient_day"),
    ("SELECT * FROM visits v JOIN charge_lines c ON c.visit_id = v.id WHERE v.patient_id = 1"
     " AND v.day >= '2026-01-01' AND v.day <= '2026-12-31'", "charge_lines_by_visit"),
    ('SELECT * FROM intervals WHERE "end" IS NULL', "intervals_running"),
    ("SELECT * FROM intervals WHERE visit_id = 3 ORDER BY start", "intervals_by_visit"),
])
def test_real_queries_use_indexes(repo, sql, index):
    plan = query_plan(repo.conn, sql)
    assert index in plan, plan


def test_closing_a_session_that_only_read_writes_nothing(store_target):
    """Opening to look, or a --check, writes nothing: on the file, PRAGMA optimize (which may
    rewrite the planner's statistics, with fsyncs) runs on close only when the session changed
    something; on the server (whose autovacuum keeps the statistics) nothing is sent."""
    from therapy_timer.storage.repository import open_repository

    from .conftest import build_clinic

    path = store_target
    first = open_repository(path)
    clinic = build_clinic(first)
    first.close()
    for write in (False, True):
        repo = open_repository(path)
        statements: list[str] = []
        repo.conn.set_trace_callback(statements.append)
        repo.visits_on(T0.date(), now=T0)
        if write:
            repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
        repo.close()
        writes = [s for s in statements if s.lstrip().upper().startswith(
            ("INSERT", "UPDATE", "DELETE", "PRAGMA OPTIMIZE"))]
        assert bool(writes) is write, writes
        if not str(path).startswith("postgresql://"):
            assert any("PRAGMA optimize" in s for s in statements) is write


def test_the_store_loads_the_billing_engine_only_to_bill(store_target):
    """Opening the store and listing a day of finalized visits (the app's first screen) does
    not import the billing engine; billing a visit does."""
    import subprocess
    import sys

    from therapy_timer.storage.repository import open_repository

    from .conftest import build_clinic

    path = store_target
    repo = open_repository(path)
    clinic = build_clinic(repo)
    visit = repo.start_visit(clinic.patient.id, clinic.pt.id, clinic.plan.id, T0)
    repo.close()
    code = (
        "import sys\n"
        "from datetime import datetime, timezone\n"
        "from therapy_timer.storage.repository import open_repository\n"
        f"repo = open_repository({str(path)!r})\n"
        f"now = datetime.fromisoformat({T0.isoformat()!r})\n"
        "repo.visits_on(now.date(), now=now)\n"
        "print('therapy_timer.core.billing' in sys.modules)\n"
        f"repo.bill_visit({visit.id}, now)\n"
        "print('therapy_timer.core.billing' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]


def test_a_pin_changes_only_with_itself_or_the_administrator_pin(store_target):
    from therapy_timer.storage.errors import PinRequiredError

    repo = open_repository(store_target)
    try:
        dana = repo.save_provider(Provider("Dana Cole", Discipline.PT, Performer.PT),
                                  pin="2468")
        lee = repo.save_provider(Provider("Lee Park", Discipline.PT, Performer.PTA))
        repo.save_provider(lee, pin="1357")  # no PIN yet: nothing of Lee's to protect
        for attempt in (None, "", "1357", "0000"):
            with pytest.raises(PinRequiredError, match="Dana Cole's PIN changes or goes only"):
                repo.save_provider(dana, pin="", current_pin=attempt)
        with pytest.raises(PinRequiredError):
            repo.save_provider(dana, pin="1111", current_pin="1357")
        assert repo.verify_pin(dana.id, "2468")
        repo.save_provider(dana)  # other details save without a PIN (pin=None keeps it)
        assert repo.verify_pin(dana.id, "2468")
        repo.save_provider(dana, pin="8642", current_pin="2468")
        assert repo.verify_pin(dana.id, "8642")
        # The clinic administrator PIN: set once freely, then only with itself.
        assert not repo.has_admin_pin()
        repo.set_admin_pin("9753", user="owner")
        with pytest.raises(PinRequiredError, match="administrator PIN changes or goes only"):
            repo.set_admin_pin("1111")
        with pytest.raises(PinRequiredError):
            repo.set_admin_pin("", current="8642")
        repo.save_provider(dana, pin="", current_pin="9753")
        assert not repo.get_provider(dana.id).has_pin
        stored = repo.conn.execute("SELECT pin_hash FROM admin_pin").fetchone()[0]
        assert stored.startswith("scrypt$16384$8$1$") and "9753" not in stored
        repo.set_admin_pin("", current="9753")
        assert not repo.has_admin_pin()
    finally:
        repo.close()


def test_wrong_pins_in_settings_wait_like_the_lock_screen(store_target):
    # Issue 11, item 9: the "current PIN" field must not be a free oracle for guessing a
    # colleague's 4-digit PIN; the count lives in the audit log, so a restart keeps it.
    from datetime import UTC, datetime

    from therapy_timer.storage.errors import PinRequiredError

    now = [datetime(2026, 11, 20, 15, 0, tzinfo=UTC)]
    path = store_target
    repo = open_repository(path)
    repo.clock = lambda: now[0]
    dana = repo.save_provider(Provider("Dana Cole", Discipline.PT, Performer.PT), pin="2468")
    repo.save_provider(dana, user="desk")  # an ordinary save does not reset the count
    for guess in ("0000", "1111", "2222", "3333"):
        with pytest.raises(PinRequiredError, match="matches neither"):
            repo.save_provider(dana, pin="", current_pin=guess)
        repo.save_provider(dana, user="desk")
    repo.close()
    repo = open_repository(path)  # restarted
    repo.clock = lambda: now[0]
    with pytest.raises(PinRequiredError, match="matches neither"):
        repo.save_provider(dana, pin="", current_pin="4444")
    with pytest.raises(PinRequiredError, match="5 wrong PINs in a row for Dana Cole's PIN: "
                                               "wait 30 s and try again"):
        repo.save_provider(dana, pin="", current_pin="2468")  # even the right one waits
    now[0] += timedelta(seconds=29)
    with pytest.raises(PinRequiredError, match="wait 1 s"):
        repo.save_provider(dana, pin="", current_pin="2468")
    now[0] += timedelta(seconds=1)
    with pytest.raises(PinRequiredError, match="matches neither"):
        repo.save_provider(dana, pin="", current_pin="5555")
    with pytest.raises(PinRequiredError, match="6 wrong PINs in a row"):
        repo.save_provider(dana, pin="", current_pin="2468")
    now[0] += timedelta(seconds=30)
    repo.save_provider(dana, pin="1357", current_pin="2468")
    with pytest.raises(PinRequiredError, match="matches neither"):
        repo.save_provider(dana, pin="", current_pin="0000")  # counting starts again
    assert repo.verify_pin(dana.id, "1357")
    repo.close()
