"""The clinician's billing choices of an open visit (``visits.choices``): read, save (audited),
and the visit billed with them.

The shape and its rules are ``core.choices``. Choices are saved as they are made (each tick on
the review, each tie choice), so leaving the review, saving Diagnoses or reopening the visit
keeps them; a finalized visit's choices are frozen with it (schema triggers).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from therapy_timer.core.choices import (
    Choices,
    choices_from_text,
    choices_text,
    parse_choices,
    reconcile,
)
from therapy_timer.core.model import BillingError
from therapy_timer.core.records import VisitStatus
from therapy_timer.storage.errors import FrozenVisitError, InvalidDataError

if TYPE_CHECKING:
    from therapy_timer.core.choices import Reconciled

log = logging.getLogger(__name__)


class ChoicesMixin:
    """``visit_choices``, ``save_choices`` and ``billing_with_choices``."""

    def visit_choices(self, visit_id: int) -> Choices:
        """The visit's stored choices (empty when none were made).

        An unreadable stored value is logged and read as no choices (it is not overwritten
        until the clinician chooses again).
        """
        row = self._one("SELECT choices FROM visits WHERE id = ?", (visit_id,),
                        f"visit {visit_id}")
        try:
            return choices_from_text(row["choices"])
        except BillingError as exc:
            log.warning("visit %s: stored billing choices ignored: %s", visit_id, exc)
            return Choices()

    def save_choices(self, visit_id: int, choices: Choices | dict, user: str | None,
                     now: datetime, *, reset: list[str] | tuple[str, ...] = ()) -> Choices:
        """Stores the visit's choices (the whole set), audited with who and when.

        Args:
            choices: a ``Choices`` or its JSON shape (validated and normalised).
            reset: notes saying which choices were dropped and why (kept in the audit).

        Raises:
            FrozenVisitError: the visit is not open (amend a finalized visit to correct it).
            InvalidDataError: the choices are malformed (the message names the part).
        """
        try:
            normal = parse_choices(choices)
        except BillingError as exc:
            raise InvalidDataError(f"billing choices not saved: {exc}") from None
        visit = self.get_visit(visit_id)
        if visit.status is not VisitStatus.OPEN:
            raise FrozenVisitError(
                f"visit {visit_id} is {visit.status}: its billing choices cannot change"
                + (" (amend it to correct it)" if visit.status is VisitStatus.FINALIZED
                   else ""))
        text = choices_text(normal)
        with self._write() as conn:
            cur = conn.execute("UPDATE visits SET choices = ? WHERE id = ? AND status = 'open'",
                               (text, visit_id))
            if cur.rowcount != 1:
                raise FrozenVisitError(f"visit {visit_id} was finalized meanwhile: its billing "
                                       "choices were not changed")
            detail: dict = {"choices": normal.to_json()}
            if reset:
                detail["reset"] = list(reset)
            self._audit(now, user, "save_choices", "visit", visit_id, detail)
        return normal

    def billing_with_choices(self, visit_id: int, now: datetime | None = None, *,
                             user: str | None = None, save: bool = False) -> Reconciled:
        """The visit billed with its stored choices, those still holding, and notes naming
        any that were reset because their reason is gone (see ``core.choices.reconcile``).

        Args:
            save: store the choices that still hold when some were reset (the review does,
                so the reset is said once and audited); only for an open visit.

        Raises:
            BillingError: the engine refuses the intervals.
            StorageError: the visit cannot be read (or the reset not saved).
        """
        now = now or self.clock()
        visit = self.get_visit(visit_id)
        choices = self.visit_choices(visit_id)
        billing = self.bill_visit(visit_id, now, untimed_ok=choices.untimed_ok)
        result = reconcile(choices, billing, visit.diagnoses)
        if save and result.changed and visit.status is VisitStatus.OPEN:
            self.save_choices(visit_id, result.choices, user, now, reset=result.notes)
        return result
