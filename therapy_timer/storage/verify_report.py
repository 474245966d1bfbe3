"""What ``verify`` reports: what it checked (with counts), what it found, what it could not
check, and what no check can see."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from therapy_timer.core.records import AuditBreak

log = logging.getLogger(__name__)

#: What verify cannot detect, printed with every report.
LIMITS = (
    "someone who holds the anchor key (this computer's account, or a companion file) can "
    "rewrite the log and re-sign it",
    "entries added after the newest checkpoint kept outside the file can be cut off unseen",
    "an older copy of the whole file put back is caught only by a checkpoint newer than it",
    "patients, payers, fees and open visits are audited but not compared with the log",
    "entries written before the database had its anchor (by a version without it) carry no "
    "keyed hash: only the chain and the checkpoints cover them",
)
CLI_SOURCE = "the checkpoint given"
#: How many findings of one kind are listed (the count says how many there are).
SHOWN = 20



@dataclass
class VerifyReport:
    """What verify checked (with counts), what it found, what it could not check."""

    checked: list[str] = field(default_factory=list)
    problems: list[AuditBreak] = field(default_factory=list)
    cannot: list[str] = field(default_factory=list)
    limits: tuple[str, ...] = LIMITS

    @property
    def ok(self) -> bool:
        return not self.problems

    def first(self) -> AuditBreak | None:
        return self.problems[0] if self.problems else None


def _problem(report: VerifyReport, seq: int, reason: str) -> None:
    report.problems.append(AuditBreak(seq, reason))
