"""What ``verify`` says of a clinic server that it does not say of a file.

A file's audit log is also signed with a keyed hash (the anchor key, kept outside the file),
because whoever can write the file can rewrite its log and recompute the plain hash chain. On
a server no station can rewrite the log at all: the station role may only INSERT and SELECT
``audit_log`` (never UPDATE or DELETE it), and the guard triggers refuse changes besides; so
no key is handed to every station (where it would protect nothing), and the entries written
there carry none. The chain itself, the checkpoints given, the records against the log and the
guard triggers are checked as on a file.
"""

from __future__ import annotations

#: Why a server's audit entries carry no keyed hash (printed by verify and anchor).
NO_KEY = ("keyed hashes are not used on a clinic server: its stations cannot rewrite the "
          "audit log (the station role may only INSERT and SELECT it, never UPDATE or DELETE, "
          "and the guard triggers refuse changes), so there is no anchor key to hold")

#: What verify cannot detect on a server (replaces the file's list).
LIMITS = (
    "the server's owner or a superuser can rewrite the log and recompute its chain: only a "
    "checkpoint kept apart (a day sheet's, verify --checkpoint) shows that",
    "entries added after the newest checkpoint given can be cut off unseen",
    "patients, payers, fees and open visits are audited but not compared with the log",
)


def server_anchor(report) -> None:
    """Notes on ``report`` that the server's chain is not keyed, and why."""
    report.cannot.append(f"the keyed hashes: {NO_KEY}")
    report.limits = LIMITS
