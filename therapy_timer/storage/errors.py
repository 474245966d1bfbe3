"""Storage errors: each names the problem in words a clinic can act on."""

from __future__ import annotations


class StorageError(Exception):
    """Anything the visit store refuses or cannot do. Nothing was written."""


class DatabaseLockedError(StorageError):
    """Another program holds the database longer than the busy timeout."""


class ReadOnlyError(StorageError):
    """The database or its folder cannot be written."""


class DiskFullError(StorageError):
    """The disk (or the database's size limit) is full."""


class CorruptDatabaseError(StorageError):
    """The file is damaged or is not an SQLite database."""


class ForeignDatabaseError(StorageError):
    """An SQLite database, but not a Therapy Timer one."""


class SchemaTooNewError(StorageError):
    """Written by a newer Therapy Timer than this one."""


class ConnectionLostError(StorageError):
    """The clinic server cannot be reached (down, restarting, the network dropped)."""


class CommitOutcomeUnknownError(ConnectionLostError):
    """The connection dropped while the server was committing a change: it may or may not
    have been saved (the store never sends it twice). Look before entering it again."""


class UnsupportedServerError(StorageError):
    """The clinic server runs a PostgreSQL release older than the store supports."""


class NotFoundError(StorageError, LookupError):
    """No record with that id."""


class InvalidDataError(StorageError, ValueError):
    """Input the store will not save (a bad code, an empty reason, an end before a start)."""


class FrozenVisitError(StorageError):
    """The visit is finalized, amended or void: it cannot change in place."""


class ProviderBusyError(StorageError):
    """The provider already runs a one-on-one timer for another patient.

    ``suggested_code`` is the group code the UI may offer instead.
    """

    def __init__(self, message: str, *, other_visit_id: int, suggested_code: str = "97150"):
        super().__init__(message)
        self.other_visit_id = other_visit_id
        self.suggested_code = suggested_code


class EarlierDayError(InvalidDataError):
    """A timer asked to run on a visit of an earlier day: its minutes would bill under that
    date of service. ``day`` is the visit's date."""

    def __init__(self, message: str, *, day):
        super().__init__(message)
        self.day = day


class PinRequiredError(InvalidDataError):
    """A provider's PIN changes or goes only with that PIN (or the clinic administrator's)."""


class VisitHeldElsewhereError(StorageError):
    """Another station times this visit: a tap here changes it only when the caller says
    ``take_over`` (the clinician answered "take it over").

    ``station`` holds it, ``since`` is when it took hold of the visit (None when not known),
    ``last_alive`` its timers' last heartbeat, ``silent`` True when that heartbeat is older
    than ``storage.stations.STALE_SECONDS`` (its app may be closed or off the network),
    ``codes`` what runs there.
    """

    def __init__(self, message: str, *, station: str, since=None, last_alive=None,
                 silent: bool = False, codes: tuple[str, ...] = ()):
        super().__init__(message)
        self.station = station
        self.since = since
        self.last_alive = last_alive
        self.silent = silent
        self.codes = tuple(codes)


#: Why the store refuses a second running interval of one code on one visit (the database's
#: own index ``intervals_one_running`` says so, whichever station got there second).
RUNNING_TWICE = ("this code's timer is already running on this visit (started a moment ago, "
                 "perhaps on another station); nothing was saved. The visit screen shows it "
                 "once it is read again.")
