"""Finds the bundled ``resources/`` folder in a checkout, an installed wheel or a frozen app."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path


@cache
def resources_dir() -> Path:
    """Returns the folder holding the code catalog, NCCI pairs, KX thresholds and fonts.

    Raises:
        FileNotFoundError: when no candidate holds ``codes.toml`` (a broken install).
    """
    here = Path(__file__).resolve().parent
    candidates = [
        here / "resources",  # installed wheel (force-include)
        here.parent / "resources",  # source checkout / editable install
    ]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.insert(0, Path(frozen) / "resources")
    for candidate in candidates:
        if (candidate / "codes.toml").is_file():
            return candidate
    raise FileNotFoundError(
        "Therapy Timer's resources folder is missing (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "); reinstall the app."
    )


def resource_path(name: str) -> Path:
    """Returns the path of one bundled resource file."""
    return resources_dir() / name
