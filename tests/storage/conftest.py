"""Fixtures for the visit store: a throw-away repository and a small synthetic clinic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from hypothesis import settings

from tests.conftest import STORES
from therapy_timer.core.model import Discipline, Performer, Rule
from therapy_timer.core.records import (
    InsurancePolicy,
    Patient,
    Payer,
    PlanOfCare,
    Practice,
    Provider,
)
from therapy_timer.storage.repository import Repository, open_repository

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 09:00 in Chicago


@dataclass
class Clinic:
    repo: Repository
    pt: Provider
    pta: Provider
    ot: Provider
    ota: Provider
    patient: Patient
    other: Patient
    medicare: Payer
    commercial: Payer
    plan: PlanOfCare
    other_plan: PlanOfCare
    ot_plan: PlanOfCare


def build_clinic(repo: Repository) -> Clinic:
    repo.save_practice(Practice("Riverside Therapy (synthetic)", timezone="America/Chicago"))
    pt = repo.save_provider(Provider("Avery Stone", Discipline.PT, Performer.PT, "PT, DPT"))
    pta = repo.save_provider(Provider("Blake Reed", Discipline.PT, Performer.PTA, "PTA",
                                      supervisor_id=pt.id))
    ot = repo.save_provider(Provider("Casey Moor", Discipline.OT, Performer.OT, "OTR/L"))
    ota = repo.save_provider(Provider("Drew Vale", Discipline.OT, Performer.OTA, "COTA",
                                      supervisor_id=ot.id))
    medicare = repo.save_payer(Payer(
        "Medicare Part B", Rule.CMS, medicare=True, assistant_modifiers=True, kx_applies=True,
        allowed_cents={"97110": 3000, "97140": 2800, "97530": 3300, "97112": 3200}))
    commercial = repo.save_payer(Payer("Acme Health", Rule.PER_CODE))
    patient = repo.save_patient(Patient("Testa", "Patienta", date(1950, 3, 4), "F",
                                        chart_number="S-0001"))
    other = repo.save_patient(Patient("Testb", "Patientb", date(1960, 5, 6), "M",
                                      chart_number="S-0002"))
    repo.save_policy(InsurancePolicy(patient.id, medicare.id, "1EG4TE5MK73"))
    repo.save_policy(InsurancePolicy(other.id, commercial.id, "ACM123"))
    for code, cents in {"97110": 4500, "97140": 5000, "97530": 5200, "97112": 4800,
                        "97150": 3000, "97010": 1500, "97535": 4700}.items():
        repo.save_fee(code, cents, date(2026, 1, 1))
    plan = repo.save_plan(PlanOfCare(patient.id, Discipline.PT, pt.id, date(2026, 11, 1),
                                     date(2027, 1, 30), 20))
    other_plan = repo.save_plan(PlanOfCare(other.id, Discipline.PT, pt.id, date(2026, 11, 1)))
    ot_plan = repo.save_plan(PlanOfCare(patient.id, Discipline.OT, ot.id, date(2026, 11, 1)))
    return Clinic(repo, pt, pta, ot, ota, patient, other, medicare, commercial, plan,
                  other_plan, ot_plan)


@pytest.fixture
def repo(store_target):
    """A new clinic's store, on each database (SQLite file and PostgreSQL server)."""
    repository = open_repository(store_target)
    yield repository
    repository.close()


@pytest.fixture
def clinic(repo) -> Clinic:
    return build_clinic(repo)


class StoreMaker:
    """New, empty clinics on one database, as many as a test asks for: ``maker()`` gives a
    target (an SQLite database in memory, or a fresh database on the session's server),
    ``maker.kind`` says which. For properties that want a new store per example."""

    #: A property's examples on the server: each example copies the template database
    #: (about 0.1 s), so the server runs fewer of them than the file does.
    SERVER_EXAMPLES = 8

    def __init__(self, kind: str, server=None, template=None) -> None:
        self.kind = kind
        self._server = server
        self._template = template
        self.made: list[str] = []

    def __call__(self):
        if self.kind == "sqlite":
            return ":memory:"  # what the properties always used: the same SQL, no fsync
        self.made.append(self._server.new_database(template=self._template))
        return self.made[-1]

    def drop_all(self) -> None:
        for uri in self.made:
            self._server.drop_database(uri)

    def settings(self, examples: int, **options) -> settings:
        """Hypothesis settings for a property run on this database: ``examples`` on the
        file, at most SERVER_EXAMPLES on the server; capped further by the loaded profile
        (the mutation profile's few examples)."""
        if self.kind != "sqlite":
            examples = min(examples, self.SERVER_EXAMPLES)
        examples = min(examples, settings.default.max_examples)
        return settings(settings.default, max_examples=examples, deadline=None, **options)


@pytest.fixture(params=STORES)
def store_maker(request) -> StoreMaker:
    """A maker of new clinics, on each database (see StoreMaker)."""
    if request.param == "sqlite":
        yield StoreMaker("sqlite")
        return
    maker = StoreMaker("postgresql", request.getfixturevalue("pg_server"),
                       request.getfixturevalue("pg_template"))
    yield maker
    maker.drop_all()


@pytest.fixture(scope="module", params=STORES)
def module_target(request, tmp_path_factory):
    """As ``store_target``, but one per module and database: for tests that only read a
    scene, or attack it and check that nothing changed (a scene built once is cheaper)."""
    if request.param == "sqlite":
        yield tmp_path_factory.mktemp("module-clinic") / "clinic.db"
        return
    server = request.getfixturevalue("pg_server")
    uri = server.new_database(template=request.getfixturevalue("pg_template"))
    yield uri
    server.drop_database(uri)
