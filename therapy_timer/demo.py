"""A synthetic demo clinic, deterministic for a seed and an end date.

Maple Grove Therapy (fictional): 2 PTs, 1 PTA, 1 OT, 1 OTA; Medicare (CMS rule, CQ/CO, KX), a
commercial payer (per-code rule) and self-pay; 40 synthetic patients with plans of care; three
months of visits ending at the end date, each billed and finalized through the real engine. The
last three days (end date and the two before) each hold a CQ/CO line, a 97140/97530 pair with
XU from distinct intervals, a KX crossing and a tie, so every rule shows at work. The paths a
real day takes are there too (``hard_cases``): a code split between PT and PTA beside Medicare's
bundled hot pack, two visits of one patient on the end date, a tie beside an untimed
re-evaluation, last week's visit amended, a self-pay visit, a visit left open the day before and
a plan of care about to expire.

Everything is written in one transaction (seconds, not minutes). No real person's data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from therapy_timer.core.model import Discipline, Performer, Rule
from therapy_timer.core.records import (
    InsurancePolicy,
    Patient,
    Payer,
    PlanOfCare,
    Practice,
    Provider,
)
from therapy_timer.core.rules_data import kx_for_year
from therapy_timer.core.validation import npi_check_digit

ZONE = "America/Chicago"
DAYS = 91
USER = "demo"

FIRST = ["Avery", "Jordan", "Morgan", "Riley", "Quinn", "Rowan", "Sage", "Emerson", "Finley",
         "Hayden", "Reese", "Parker", "Dakota", "Skyler", "Marlow", "Ellis", "Lennox", "Arden",
         "Blair", "Corin", "Devon", "Harlow", "Jules", "Kendall", "Linden", "Merritt", "Noel",
         "Oakley", "Peyton", "Remy"]
LAST = ["Ashgrove", "Birchfield", "Calloway", "Dunmore", "Elmswood", "Fairbrook", "Glenhaven",
        "Hollins", "Ironwood", "Juniper", "Kestrel", "Larkspur", "Marsden", "Northcott",
        "Oakhurst", "Pembrook", "Quarry", "Redfern", "Stillwater", "Thornbury", "Underhill",
        "Valewood", "Westbrook", "Yarrow", "Zephyr", "Brightmoor", "Cobbleton", "Dovecote",
        "Everly", "Foxglove"]
STREETS = ["Maple Ave", "Cedar Ln", "Willow Ct", "Aspen Dr", "Linden St", "Harbor Rd"]
#: Billable ICD-10-CM codes (checked against the release by the tests).
PT_DX = ["M54.50", "M25.561", "M25.511", "M17.11", "R26.89", "M62.81", "S83.511D", "M75.121"]
OT_DX = ["M25.531", "M79.641", "S62.101D", "G56.01", "R27.8", "M19.041"]
#: Their ICD-10-CM descriptions, documented with each visit's diagnoses (the tests check them
#: against the release); the demo never loads the ICD-10-CM package.
DX_DESCRIPTIONS = {
    "M54.50": "Low back pain, unspecified",
    "M25.561": "Pain in right knee",
    "M25.511": "Pain in right shoulder",
    "M17.11": "Unilateral primary osteoarthritis, right knee",
    "R26.89": "Other abnormalities of gait and mobility",
    "M62.81": "Muscle weakness (generalized)",
    "S83.511D": "Sprain of anterior cruciate ligament of right knee, subsequent encounter",
    "M75.121": "Complete rotator cuff tear or rupture of right shoulder, not specified as "
               "traumatic",
    "M25.531": "Pain in right wrist",
    "M79.641": "Pain in right hand",
    "S62.101D": "Fracture of unspecified carpal bone, right wrist, subsequent encounter for "
                "fracture with routine healing",
    "G56.01": "Carpal tunnel syndrome, right upper limb",
    "R27.8": "Other lack of coordination",
    "M19.041": "Primary osteoarthritis, right hand",
}

FEES = {  # the clinic's charge per unit, cents
    "97110": 4500, "97112": 4800, "97116": 4500, "97140": 4600, "97530": 5200, "97535": 4900,
    "97035": 2500, "97010": 2000, "97014": 2200, "G0283": 2200, "97150": 3500, "97161": 15000,
    "97162": 17500, "97163": 20000, "97164": 12000, "97165": 16000, "97166": 18000,
    "97167": 21000, "97168": 12500, "97129": 5000, "97130": 4200,
}
MEDICARE_ALLOWED = {  # roughly 2026 national amounts per unit, cents (synthetic)
    "97110": 2980, "97112": 3390, "97116": 2960, "97140": 2720, "97530": 3530, "97535": 3210,
    "97035": 1330, "97010": 0, "G0283": 1040, "97150": 1830, "97161": 10270, "97162": 10270,
    "97163": 10270, "97164": 7040, "97165": 10960, "97166": 10960, "97167": 10960,
    "97168": 7530, "97129": 2790, "97130": 2620,
}
PT_CODES = ["97110", "97112", "97116", "97140", "97530", "97035"]
OT_CODES = ["97110", "97530", "97535", "97140", "97112"]


class DemoError(Exception):
    """The demo cannot be built (an existing clinic in the file, an end date without rules)."""


@dataclass(frozen=True)
class DemoSummary:
    patients: int
    visits: int
    intervals: int
    charge_lines: int
    first_day: date
    end_date: date

    def __str__(self) -> str:
        return (f"{self.patients} patients, {self.visits} finalized visits, {self.intervals} "
                f"intervals, {self.charge_lines} charge lines, {self.first_day} to "
                f"{self.end_date}")


#: Technique and body region recorded with a demo 97140.
MANUAL = (("Soft tissue mobilization", "Lumbar spine"), ("Joint mobilization, grade III",
                                                         "Right shoulder"),
          ("Myofascial release", "Cervical spine"))
#: Made-up referring physicians (valid check digits, not real NPIs' owners).
REFERRING = (("Dr. Morgan Ellis (demo)", "1234567893"), ("Dr. Sam Okafor (demo)", "1558598797"))


def _npi(rng: random.Random, first: str = "1") -> str:
    body = first + "".join(str(rng.randrange(10)) for _ in range(8))
    return body + str(npi_check_digit(body))


def build_demo_file(path: Path | str, seed: int = 1, end_date: date | None = None) -> DemoSummary:
    """Creates the demo clinic in a new (or empty) database file."""
    from therapy_timer.storage.repository import open_repository

    end_date = end_date or date.today()
    demo_days(end_date)  # a bad end date creates no file
    repo = open_repository(path)
    try:
        return build_demo(repo, seed=seed, end_date=end_date)
    finally:
        repo.close()


def demo_days(end_date: date) -> date:
    """The demo's first day for ``end_date``.

    A year with no KX threshold on file no longer stops it (issue 12: the latest year on file
    stands in, and the visits say so).

    Raises:
        DemoError: the three months before it, or the plans of care running past it, leave
            the calendar.
    """
    try:
        first_day = end_date - timedelta(days=DAYS - 1)
    except OverflowError:
        raise DemoError(f"cannot build the demo ending {end_date}: its {DAYS} days would start "
                        "before the year 1; give a recent --end-date") from None
    try:
        end_date + timedelta(days=DAYS)  # plans of care are certified past the end date
    except OverflowError:
        raise DemoError(f"cannot build the demo ending {end_date}: its plans of care would run "
                        "past the year 9999; give a recent --end-date") from None
    return first_day


def build_demo(repo, seed: int = 1, end_date: date | None = None) -> DemoSummary:
    """Fills an empty repository with the demo clinic (one transaction)."""
    end_date = end_date or date.today()
    first_day = demo_days(end_date)
    if repo.search_patients("", limit=1) or repo.get_practice() is not None:
        raise DemoError("the database already holds a clinic; give the demo a new file")
    moment = datetime.combine(end_date, time(18, 0), ZoneInfo(ZONE)).astimezone(UTC)
    previous_clock, repo.clock = repo.clock, lambda: moment
    try:
        with repo._write():
            return _Builder(repo, random.Random(seed), first_day, end_date).run()
    finally:
        repo.clock = previous_clock


class _Builder:
    def __init__(self, repo, rng: random.Random, first_day: date, end_date: date) -> None:
        self.repo = repo
        self.rng = rng
        self.first_day = first_day
        self.end_date = end_date
        self.zone = ZoneInfo(ZONE)
        self.visits = 0
        self.slots: dict[tuple[int, date], int] = {}

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), self.zone).astimezone(UTC)

    # --- reference data ---

    def run(self) -> DemoSummary:
        repo, rng = self.repo, self.rng
        repo.save_practice(Practice(
            "Maple Grove Therapy (demo)", "100 Example Way, Springfield, IL 62700",
            "(555) 010-0100", _npi(rng, "1"), "00-0000001", "225100000X", ZONE), user=USER)
        self.pt1 = repo.save_provider(Provider("Jamie Alder", Discipline.PT, Performer.PT,
                                               "PT, DPT", _npi(rng), "PT-000101",
                                               taxonomy="225100000X"), user=USER)
        self.pt2 = repo.save_provider(Provider("Robin Hale", Discipline.PT, Performer.PT,
                                               "PT, DPT", _npi(rng), "PT-000102",
                                               taxonomy="225100000X"), user=USER)
        self.pta = repo.save_provider(Provider("Casey Brook", Discipline.PT, Performer.PTA,
                                               "PTA", _npi(rng), "PTA-000201",
                                               supervisor_id=self.pt1.id,
                                               taxonomy="225200000X"), user=USER)
        self.ot = repo.save_provider(Provider("Taylor Wren", Discipline.OT, Performer.OT,
                                              "OTR/L", _npi(rng), "OT-000301",
                                              taxonomy="225X00000X"), user=USER)
        self.ota = repo.save_provider(Provider("Alex Moss", Discipline.OT, Performer.OTA,
                                               "COTA", _npi(rng), "OTA-000401",
                                               supervisor_id=self.ot.id,
                                               taxonomy="224Z00000X"), user=USER)
        self.medicare = repo.save_payer(Payer(
            "Medicare Part B (demo)", Rule.CMS, medicare=True, assistant_modifiers=True,
            kx_applies=True, allowed_cents=MEDICARE_ALLOWED, payer_code="DEMO1",
            address="Part B Claims (demo)\nPO Box 0001, Springfield, IL 62700"), user=USER)
        self.commercial = repo.save_payer(Payer(
            "Blue Prairie Health (demo)", Rule.PER_CODE, distinct_modifier="59",
            allowed_cents={c: v * 12 // 10 for c, v in MEDICARE_ALLOWED.items()},
            payer_code="BPH01", address="Claims (demo)\nPO Box 0002, Springfield, IL 62700"),
            user=USER)
        self.self_pay = repo.save_payer(Payer("Self-pay", Rule.CMS, therapy_modifiers=True,
                                              self_pay=True), user=USER)
        for code, cents in sorted(FEES.items()):
            repo.save_fee(code, cents, date(self.first_day.year - 1, 1, 1), user=USER)
        patients = [self.patient(n) for n in range(40)]
        for n, (patient, plan) in enumerate(patients):
            self.schedule(n, patient, plan)
        self.specials(patients)
        self.hard_cases(patients)
        counts = repo.conn.execute(
            "SELECT (SELECT count(*) FROM visits WHERE status = 'finalized'),"
            " (SELECT count(*) FROM intervals), (SELECT count(*) FROM charge_lines)").fetchone()
        return DemoSummary(len(patients), counts[0], counts[1], counts[2], self.first_day,
                           self.end_date)

    def patient(self, n: int):
        repo, rng = self.repo, self.rng
        first = FIRST[n % len(FIRST)]
        last = LAST[(n * 7 + 3) % len(LAST)]
        born = date(1940 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
        patient = repo.save_patient(Patient(
            first, last, born, rng.choice("FM"),
            f"{100 + rng.randrange(900)} {rng.choice(STREETS)}, Springfield, IL 62700",
            f"(555) 01{rng.randrange(10)}-{rng.randrange(10000):04d}", f"MG-{n + 1:04d}"),
            user=USER)
        # Patients 0-19 Medicare, 20-33 commercial, 34-39 self-pay.
        payer = self.medicare if n < 20 else self.commercial if n < 34 else self.self_pay
        if payer is not self.self_pay:
            member = (f"{rng.randrange(1, 10)}EG{rng.randrange(10)}TE{rng.randrange(10)}MK"
                      f"{rng.randrange(10, 100)}" if payer is self.medicare
                      else f"BPH{rng.randrange(10**8):08d}")
            repo.save_policy(InsurancePolicy(patient.id, payer.id, member,
                                             "" if payer is self.medicare else "GRP-4410",
                                             f"{last}, {first}", "self", 1), user=USER)
        ot = n % 10 in (3, 7, 9)  # 12 OT plans, 28 PT plans
        therapist = self.ot if ot else (self.pt1 if n % 2 else self.pt2)
        start = self.first_day - timedelta(days=rng.randrange(-30, 30))
        plan = repo.save_plan(PlanOfCare(
            patient.id, Discipline.OT if ot else Discipline.PT, therapist.id, start,
            start + timedelta(days=89), 24, referring_name=REFERRING[n % len(REFERRING)][0],
            referring_npi=REFERRING[n % len(REFERRING)][1],
            onset_date=start - timedelta(days=14 + n % 20)), user=USER)
        return patient, plan

    # --- ordinary visits ---

    def schedule(self, n: int, patient: Patient, plan: PlanOfCare) -> None:
        days = (0, 2) if n % 2 == 0 else (1, 3)  # Mon/Wed or Tue/Thu
        day = max(self.first_day, plan.start)
        first = True
        last = self.end_date - timedelta(days=3)  # the last three days are the showcase
        while day <= last:
            if day.weekday() in days and self.rng.random() < 0.92:
                self.ordinary_visit(patient, plan, day, evaluation=first and day == plan.start)
                first = False
            day += timedelta(days=1)

    def slot(self, provider_id: int, day: date) -> datetime:
        """The next free hour in the provider's day (07:00 onwards)."""
        taken = self.slots.get((provider_id, day), 0)
        self.slots[(provider_id, day)] = taken + 1
        return self.at(day, 7 + taken % 11, 5 * (taken // 11))

    def ordinary_visit(self, patient: Patient, plan: PlanOfCare, day: date,
                       evaluation: bool) -> None:
        rng = self.rng
        pt = plan.discipline is Discipline.PT
        assistant = Performer.PTA if pt else Performer.OTA
        therapist = Performer.PT if pt else Performer.OT
        codes = PT_CODES if pt else OT_CODES
        steps = []
        if evaluation:
            steps.append((rng.choice(["97161", "97162"] if pt else ["97165", "97166"]),
                          therapist, rng.randrange(25, 41)))
        for code in rng.sample(codes, rng.randrange(1, 4)):
            who = assistant if rng.random() < 0.3 else therapist
            steps.append((code, who, rng.randrange(6, 24)))
        if pt and rng.random() < 0.2:
            steps.append(("97010", therapist, 10))
        dx = rng.sample(PT_DX if pt else OT_DX, rng.randrange(1, 3))
        self.visit(patient, plan, day, steps, dx)

    def visit(self, patient: Patient, plan: PlanOfCare, day: date,
              steps: list[tuple[str, Performer, int]], dx: list[str],
              confirmed=None, choice=None, when: datetime | None = None) -> int:
        repo = self.repo
        now = when or self.slot(plan.therapist_id, day)
        visit = repo.start_visit(patient.id, plan.therapist_id, plan.id, now, user=USER)
        for code, performer, minutes in steps:
            # Manual therapy documents its technique and region (no draw: the rest of the
            # demo stays the same whatever is added here).
            manual = MANUAL[visit.id % len(MANUAL)] if code == "97140" else (None, None)
            # The assistant on the clock is named, as the PT | PTA switch asks in the app.
            assistant = {Performer.PTA: self.pta.id, Performer.OTA: self.ota.id}.get(performer)
            repo.start_interval(visit.id, code, performer, now, technique=manual[0],
                                body_region=manual[1], provider_id=assistant, user=USER)
            now += timedelta(minutes=minutes, seconds=self.rng.randrange(0, 50))
            repo.pause_visit(visit.id, now, user=USER)
        repo.set_diagnoses(visit.id, dx, user=USER, validate=False,
                           descriptions=DX_DESCRIPTIONS)
        repo.finalize_visit(visit.id, confirmed, USER, now + timedelta(minutes=3), choice)
        self.visits += 1
        return visit.id

    # --- the showcase: every rule at work on each of the last three days ---

    def specials(self, patients) -> None:
        by_kind = {
            "medicare_pt": [p for n, p in enumerate(patients)
                            if n < 20 and p[1].discipline is Discipline.PT],
            "medicare_ot": [p for n, p in enumerate(patients)
                            if n < 20 and p[1].discipline is Discipline.OT],
        }
        for offset, day in enumerate(self.end_date - timedelta(days=k) for k in (2, 1, 0)):
            pt_patients = by_kind["medicare_pt"]
            cq_patient, pair_patient, kx_patient, tie_patient = (
                pt_patients[(offset * 4 + k) % len(pt_patients)] for k in range(4))
            # CQ: the PTA furnishes 23 min of 97110, the PT 15 min of 97140.
            self.visit(*cq_patient, day, [("97140", Performer.PT, 15),
                                          ("97110", Performer.PTA, 23)], ["M54.50"],
                       when=self.at(day, 8, 0))
            # CO: the OTA furnishes 97530.
            ot_patient = by_kind["medicare_ot"][offset % len(by_kind["medicare_ot"])]
            self.visit(*ot_patient, day, [("97535", Performer.OT, 12),
                                          ("97530", Performer.OTA, 20)], ["M25.531"],
                       when=self.at(day, 8, 0))
            # 59/XU: 97140 then 97530 in distinct intervals.
            self.visit(*pair_patient, day, [("97140", Performer.PT, 12),
                                            ("97530", Performer.PT, 18)], ["M25.511"],
                       when=self.at(day, 9, 0))
            # KX: prior spend elsewhere puts the patient just under the threshold.
            patient, plan = kx_patient
            # The threshold the visit bills with (a year not on file uses the latest one).
            threshold = kx_for_year(day.year, self.repo.kx_thresholds()).threshold_cents
            spent = self.repo.kx_year_to_date(patient.id, day.year, "PT+SLP", through=day)
            gap = 2000  # this visit's allowed amount (about $89) crosses it
            if spent < threshold - gap:
                self.repo.set_prior_kx(patient.id, day.year, "PT+SLP",
                                       threshold - gap - spent + self._prior(patient.id, day),
                                       note="therapy at another clinic (demo)", user=USER)
            self.visit(patient, plan, day, [("97110", Performer.PT, 24),
                                            ("97112", Performer.PT, 16)], ["M17.11"],
                       when=self.at(day, 10, 0))
            # Tie: 20 + 20 minutes under the CMS rule = 3 units; the last one is a choice.
            choice = {"97110": 1, "97112": 2} if offset == 1 else None
            self.visit(*tie_patient, day, [("97110", Performer.PT, 20),
                                           ("97112", Performer.PT, 20)], ["R26.89"],
                       choice=choice, when=self.at(day, 11, 0))

    # --- the paths a real day takes, so screens, superbills and tests all see them ---

    def hard_cases(self, patients) -> None:
        """Each on a patient the showcase days leave alone, so no day pools them by chance."""
        end, repo = self.end_date, self.repo
        medicare_pt = [p for n, p in enumerate(patients)
                       if n < 20 and p[1].discipline is Discipline.PT][12:]
        commercial_pt = [p for n, p in enumerate(patients)
                         if 20 <= n < 34 and p[1].discipline is Discipline.PT]
        self_pay = [p for n, p in enumerate(patients) if n >= 34]
        # A code split between therapist and assistant (97110: 10 min PT + 15 min PTA), with
        # the hot pack Medicare bundles.
        self.visit(*medicare_pt[0], end, [("97010", Performer.PT, 10),
                                          ("97110", Performer.PT, 10),
                                          ("97110", Performer.PTA, 15),
                                          ("97140", Performer.PT, 9)], ["M54.50"],
                   when=self.at(end, 13, 0))
        # Two visits of one patient on one day (morning and afternoon, billed as one day).
        patient, plan = medicare_pt[1]
        self.visit(patient, plan, end, [("97110", Performer.PT, 12)], ["M25.561"],
                   when=self.at(end, 8, 30))
        self.visit(patient, plan, end, [("97112", Performer.PT, 11)], ["M25.561"],
                   when=self.at(end, 15, 30))
        # A tie beside an untimed code: a re-evaluation, then 20 + 20 minutes (3 units).
        self.visit(*self_pay[0], end, [("97164", Performer.PT, 20),
                                       ("97110", Performer.PT, 20),
                                       ("97112", Performer.PT, 20)], ["M17.11"],
                   when=self.at(end, 14, 0))
        # An amendment: last week's visit corrected with a reason and finalized again.
        patient, plan = commercial_pt[0]
        week_ago = end - timedelta(days=7)
        original = self.visit(patient, plan, week_ago, [("97110", Performer.PT, 23)],
                              ["M62.81"], when=self.at(week_ago, 16, 0))
        amended = repo.amend_visit(original, "97140 was done but not timed (demo)", USER,
                                   self.at(week_ago, 18, 0))
        repo.add_interval(amended.id, "97140", Performer.PT, self.at(week_ago, 16, 25),
                          self.at(week_ago, 16, 38), reason="timed on paper (demo)",
                          user=USER, technique="STM", body_region="Lumbar",
                          now=self.at(week_ago, 18, 1))
        repo.finalize_visit(amended.id, None, USER, self.at(week_ago, 18, 2))
        # A self-pay patient's ordinary visit today.
        self.visit(*self_pay[1], end, [("97110", Performer.PT, 30)], ["M54.50"],
                   when=self.at(end, 12, 0))
        # A visit left open yesterday: 97110 timed, never finished.
        yesterday = end - timedelta(days=1)
        patient, plan = commercial_pt[1]
        start = self.at(yesterday, 17, 0)
        left = repo.start_visit(patient.id, plan.therapist_id, plan.id, start, user=USER)
        repo.start_interval(left.id, "97110", Performer.PT, start, user=USER)
        repo.pause_visit(left.id, start + timedelta(minutes=18), user=USER)
        repo.set_diagnoses(left.id, ["R26.89"], user=USER, validate=False,
                           descriptions=DX_DESCRIPTIONS)
        # A plan of care about to expire (certified through four days after the end date).
        patient, plan = commercial_pt[2]
        repo.save_plan(PlanOfCare(plan.patient_id, plan.discipline, plan.therapist_id,
                                  end - timedelta(days=86), end + timedelta(days=4),
                                  plan.visits_authorized, id=plan.id), user=USER)
        # Cognitive intervention under an OT plan: the OT the first 15 minutes (97129), the
        # OTA the next 30 (97130 x2 with CO; 97129 without: the OT furnished it).
        medicare_ot = [p for n, p in enumerate(patients)
                       if n < 20 and p[1].discipline is Discipline.OT]
        self.visit(*medicare_ot[3], end, [("97129", Performer.OT, 15),
                                          ("97130", Performer.OTA, 31)], ["R41.844"],
                   when=self.at(end, 13, 30))

    def _prior(self, patient_id: int, day: date) -> int:
        row = self.repo.conn.execute(
            "SELECT cents FROM prior_kx WHERE patient_id = ? AND year = ? AND bucket = 'PT+SLP'",
            (patient_id, day.year)).fetchone()
        return row[0] if row else 0
