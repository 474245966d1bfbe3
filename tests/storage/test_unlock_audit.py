"""The audit log notes each unlock of the lock screen (whoever unlocked acts from then on)
and each refused one (never under the name tried: nobody was proven)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from therapy_timer.storage.errors import NotFoundError

AT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_unlock_and_refusals_are_audited(clinic):
    repo = clinic.repo
    repo.record_unlock(clinic.pt.id, AT, ok=False, why="wrong PIN")
    repo.record_unlock(clinic.pt.id, AT)
    refused, unlocked = sorted(repo.audit_entries("provider", limit=2), key=lambda e: e.seq)
    assert (unlocked.action, unlocked.user, unlocked.entity_id) == (
        "unlock", clinic.pt.name, clinic.pt.id)
    assert (refused.action, refused.user, refused.entity_id) == (
        "unlock_refused", "system", clinic.pt.id)
    assert json.loads(refused.detail) == {"why": "wrong PIN"}
    assert repo.audit_verify() is None  # the chain still holds


def test_unlock_by_nobody_when_no_provider_is_set_up(repo):
    repo.record_unlock(None, AT)
    entry = repo.audit_entries("provider", limit=1)[0]
    assert (entry.action, entry.user, entry.entity_id) == ("unlock", "system", None)


def test_unknown_provider_is_refused_by_name(repo):
    with pytest.raises(NotFoundError, match="provider 99"):
        repo.record_unlock(99, AT)
