"""The audit chain's anchor: a key kept outside the database, and checkpoints of the head.

Someone holding only the database file can rewrite an entry and re-hash every entry after
it, delete the newest entries, or append entries of their own: the SHA-256 chain alone still
links. Two things they do not hold stop that:

- the anchor key (32 random bytes, one per database), in an owner-only file (0600) in the
  user's config folder (``<config>/audit-anchors/<key id>.key``). Every audit entry carries
  ``mac`` = HMAC-SHA256(key, entry hash); without the key nobody can make a valid one, so a
  forged, rewritten or re-hashed entry fails the check. The database names only the key's id.
- checkpoints of the chain head (entry number and hash), appended to
  ``<config>/audit-anchors/<key id>.checkpoints`` when the database opens and closes, every
  ``CHECKPOINT_EVERY`` entries, and whenever a day sheet is made (which prints it): the newest
  entries cannot be cut off below a checkpoint kept outside the file.

A backup's companion file (``<backup>.anchor``) carries the key and the checkpoints, to keep
apart from the backup; ``verify --key`` reads either file.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KEY_HEADER = "therapy-timer audit anchor key v1"
COMPANION_FORMAT = "therapy-timer audit anchor v1"
#: A checkpoint is written after this many new entries (besides open, close and day sheets).
CHECKPOINT_EVERY = 200
FOLDER_NAME = "audit-anchors"
#: HMAC's key pads (RFC 2104) as translation tables: each key byte XOR 0x36, XOR 0x5c.
_INNER_PAD = bytes(b ^ 0x36 for b in range(256))
_OUTER_PAD = bytes(b ^ 0x5C for b in range(256))


class AnchorError(Exception):
    """An anchor file that cannot be read or written (the message names it)."""


@dataclass(frozen=True, slots=True)
class AnchorKey:
    key: bytes
    key_id: str
    source: str = ""  # where it was read from, for messages

    def mac(self, digest: str) -> str:
        return hmac.digest(self.key, digest.encode("ascii"), "sha256").hex()  # one C call

    def macs(self, digests) -> list[str]:
        """``mac`` of each digest (bytes), as ``verify`` checks a whole chain: HMAC-SHA256
        from the key's inner and outer pads hashed once, about twice as fast per entry as
        ``hmac.digest`` (which sets the key up again for every entry)."""
        key = self.key if len(self.key) <= 64 else hashlib.sha256(self.key).digest()
        key = key.ljust(64, b"\0")
        inner = hashlib.sha256(key.translate(_INNER_PAD)).copy
        outer = hashlib.sha256(key.translate(_OUTER_PAD)).copy
        out: list[str] = []
        append = out.append
        for digest in digests:
            step = inner()
            step.update(digest)
            last = outer()
            last.update(step.digest())
            append(last.hexdigest())
        return out


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain head at one moment: entry ``seq`` had hash ``hash``."""

    seq: int
    hash: str
    at: str = ""
    source: str = ""
    #: The database file it was taken of; a restore there supersedes it (an older chain
    #: came back on purpose).
    db: str = ""
    superseded: bool = False

    @property
    def short(self) -> str:
        """The hash as printed on paper: 16 hex digits in groups of four."""
        return " ".join(self.hash[i:i + 4] for i in range(0, 16, 4))

    @property
    def token(self) -> str:
        """What ``verify --checkpoint`` takes: ``SEQ:HASH16``."""
        return f"{self.seq}:{self.hash[:16]}"


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"therapy-timer audit key id\0" + key).hexdigest()[:16]


def new_key() -> AnchorKey:
    key = secrets.token_bytes(32)
    return AnchorKey(key, key_id_of(key), "new")


def anchor_dir() -> Path:
    from therapy_timer.paths import config_dir

    return config_dir() / FOLDER_NAME


def _private_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    except OSError as exc:
        raise AnchorError(f"cannot create the folder {folder}: {exc.strerror}") from exc


def _write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` owner-only (0600), whole or not at all."""
    _private_folder(path.parent)
    temp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise AnchorError(f"cannot write {path}: {exc.strerror}") from exc


def key_path(key_id: str, folder: Path | None = None) -> Path:
    return (folder or anchor_dir()) / f"{key_id}.key"


def checkpoints_path(key_id: str, folder: Path | None = None) -> Path:
    return (folder or anchor_dir()) / f"{key_id}.checkpoints"


def save_key(key: AnchorKey, folder: Path | None = None) -> Path:
    path = key_path(key.key_id, folder)
    _write_private(path, f"{KEY_HEADER}\n{key.key.hex()}\n")
    return path


def find_key(key_id: str, folder: Path | None = None) -> AnchorKey | None:
    """This computer's key ``key_id``, or None when it is not here."""
    path = key_path(key_id, folder)
    if not path.is_file():
        return None
    return load_key_file(path)[0]


def load_key_file(path: Path | str) -> tuple[AnchorKey, list[Checkpoint]]:
    """A key file, or a backup's companion file (key and checkpoints).

    Raises:
        AnchorError: the file is missing or not one of those (the message names it).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not an anchor key file"
        raise AnchorError(f"cannot read the anchor key {path}: {reason}") from None
    lines = text.split("\n")
    checkpoints: list[Checkpoint] = []
    if lines[0].strip() == KEY_HEADER and len(lines) > 1:
        hex_key = lines[1].strip()
    else:
        try:
            data = json.loads(text)
            if data.get("format") != COMPANION_FORMAT:
                raise ValueError
            hex_key = str(data["key"])
            checkpoints = _parse([json.dumps(c) for c in data.get("checkpoints", [])],
                                 str(path))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise AnchorError(f"{path} is not a Therapy Timer anchor key or companion file"
                              ) from None
    try:
        key = bytes.fromhex(hex_key)
    except ValueError:
        raise AnchorError(f"{path}: the key is not hexadecimal") from None
    if len(key) != 32:
        raise AnchorError(f"{path}: the key must be 32 bytes, it has {len(key)}")
    return AnchorKey(key, key_id_of(key), str(path)), checkpoints


def _parse(lines: list[str], source: str) -> list[Checkpoint]:
    """Checkpoint lines, in order; a ``restored`` line supersedes the earlier ones of its
    database file, a ``retired`` line drops them (a new database took that name)."""
    out: list[Checkpoint] = []
    for line in lines:
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                continue
            db = str(data.get("db", ""))
            if "restored" in data or "retired" in data:
                keep = "restored" in data
                out = [c if c.db != db else Checkpoint(c.seq, c.hash, c.at, c.source, c.db,
                                                       True)
                       for c in out if keep or c.db != db]
                continue
            out.append(Checkpoint(int(data["seq"]), str(data["hash"]), str(data.get("at", "")),
                                  source, db))
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
    return out


def read_checkpoints(key_id: str, folder: Path | None = None) -> list[Checkpoint]:
    """The checkpoints this computer kept for key ``key_id`` (unreadable lines skipped)."""
    path = checkpoints_path(key_id, folder)
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    return _parse(text.splitlines(), str(path))


def last_checkpoint(key_id: str, db: str, folder: Path | None = None) -> int:
    """The entry number of the newest checkpoint kept of ``db`` (read from the file's tail
    only), or 0."""
    path = checkpoints_path(key_id, folder)
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - 4096))
            tail = stream.read().decode("ascii", errors="replace").splitlines()
    except OSError:
        return 0
    for point in reversed(_parse(tail[1:] if len(tail) > 1 else tail, str(path))):
        if point.db == db:
            return point.seq
    return 0


def checkpoints_naming(db: str, folder: Path | None = None) -> dict[str, list[Checkpoint]]:
    """Key id -> checkpoints this computer kept of the database file ``db`` (by its path):
    finds the anchor of a database whose anchor record was removed or replaced."""
    folder = folder or anchor_dir()
    found: dict[str, list[Checkpoint]] = {}
    with contextlib.suppress(OSError):
        for path in sorted(folder.glob("*.checkpoints")):
            points = [c for c in read_checkpoints(path.stem, folder) if c.db == db]
            if points:
                found[path.stem] = points
    return found


def mark_file(db: str, mark: str, at: str, folder: Path | None = None) -> None:
    """Appends a ``restored`` or ``retired`` line for the database file ``db`` to every
    checkpoints file that names it (a backup restored there on purpose; a new database
    created under that name)."""
    folder = folder or anchor_dir()
    for key_id in checkpoints_naming(db, folder):
        path = checkpoints_path(key_id, folder)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            with os.fdopen(fd, "a", encoding="ascii") as out:
                out.write(json.dumps({"db": db, mark: at}, sort_keys=True) + "\n")
        except OSError as exc:
            log.warning("checkpoints %s not marked %s: %s", path, mark, exc.strerror)


def append_checkpoint(key_id: str, checkpoint: Checkpoint, db: str,
                      folder: Path | None = None) -> None:
    path = checkpoints_path(key_id, folder)
    _private_folder(path.parent)
    line = json.dumps({"seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at,
                       "db": db}, sort_keys=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as out:
            out.write(line + "\n")
    except OSError as exc:
        raise AnchorError(f"cannot write {path}: {exc.strerror}") from exc


def write_companion(key: AnchorKey, checkpoints: list[Checkpoint], out: Path | str) -> Path:
    """Writes a backup's companion file (key and checkpoints), owner-only."""
    out = Path(out)
    data = {"format": COMPANION_FORMAT, "key_id": key.key_id, "key": key.key.hex(),
            "checkpoints": [{"seq": c.seq, "hash": c.hash, "at": c.at, "db": c.db}
                            for c in checkpoints]}
    _write_private(out, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return out
