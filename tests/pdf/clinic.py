"""A small synthetic clinic in a real repository: one finalized Medicare PT visit with CQ, XU
and KX lines, a self-pay visit, and one visit still open (for builder, PDF and CLI tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from therapy_timer.core.model import Discipline, Performer, Rule
from therapy_timer.core.records import (
    InsurancePolicy,
    Patient,
    Payer,
    PlanOfCare,
    Practice,
    Provider,
)

DAY = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
DIAGNOSES = ("M54.50", "R26.89", "M62.81")


def t(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class DemoClinic:
    repo: object
    main_visit: int
    self_pay_visit: int
    open_visit: int
    pt: Provider
    ot: Provider


def build(repo) -> DemoClinic:
    repo.save_practice(Practice("Smith & Jones PT", "100 Main St, Suite 2\nSpringfield, IL 62701",
                                "(217) 555-0100", "1234567893", "12-3456789",
                                timezone="America/Chicago"))
    pt = repo.save_provider(Provider("Zoë Núñez", Discipline.PT, Performer.PT, "PT, DPT",
                                     "1558598797", "IL 070-012345"))
    repo.save_provider(Provider("Blake Reed", Discipline.PT, Performer.PTA, "PTA",
                                supervisor_id=pt.id))
    ot = repo.save_provider(Provider("Casey Moor", Discipline.OT, Performer.OT, "OTR/L",
                                     "1234567893"))
    medicare = repo.save_payer(Payer(
        "Medicare Part B", Rule.CMS, medicare=True, assistant_modifiers=True, kx_applies=True,
        allowed_cents={"97110": 3000, "97140": 2800, "97530": 3300}))
    self_pay = repo.save_payer(Payer("Self-pay", Rule.PER_CODE, self_pay=True))
    lee = repo.save_patient(Patient("小龙", "李", date(1958, 4, 12), "M",
                                    "42 Oak Ave\nSpringfield, IL 62704", "(217) 555-0142",
                                    "C-000123"))
    ann = repo.save_patient(Patient("Ann", "O'Hara & Co", date(1970, 1, 2), "F",
                                    chart_number="C-000124"))
    repo.save_policy(InsurancePolicy(lee.id, medicare.id, "1EG4TE5MK73", "GRP-77", "",
                                     "self"))
    repo.save_policy(InsurancePolicy(ann.id, self_pay.id))
    for code, cents in {"97110": 4500, "97140": 5000, "97530": 5200, "97165": 12000,
                        "97535": 4700}.items():
        repo.save_fee(code, cents, date(2026, 1, 1))
    repo.set_prior_kx(lee.id, 2026, "PT+SLP", 245000)
    plan = repo.save_plan(PlanOfCare(lee.id, Discipline.PT, pt.id, date(2026, 11, 1)))
    ot_plan = repo.save_plan(PlanOfCare(ann.id, Discipline.OT, ot.id, date(2026, 11, 1)))

    main = repo.start_visit(lee.id, pt.id, plan.id, t(0))
    add = dict(reason="entered in test", user="test", now=t(600))
    repo.add_interval(main.id, "97140", "PT", t(0), t(15), **add)
    repo.add_interval(main.id, "97530", "PT", t(16), t(31), **add)
    repo.add_interval(main.id, "97110", "PTA", t(32), t(42), **add)
    repo.add_interval(main.id, "97110", "PT", t(42), t(55), **add)
    repo.set_diagnoses(main.id, DIAGNOSES, validate=False)
    repo.finalize_visit(main.id, None, "Zoë Núñez", t(60))

    other = repo.start_visit(ann.id, ot.id, ot_plan.id, t(60))
    repo.add_interval(other.id, "97165", "OT", t(60), t(90), **add)
    repo.add_interval(other.id, "97535", "OT", t(90), t(115), **add)
    repo.set_diagnoses(other.id, ("R26.89",), validate=False)
    repo.finalize_visit(other.id, None, "Casey Moor", t(120))

    still_open = repo.start_visit(ann.id, ot.id, ot_plan.id, t(200))
    repo.add_interval(still_open.id, "97535", "OT", t(200), t(210), **add)
    return DemoClinic(repo, main.id, other.id, still_open.id, pt, ot)
