"""Helpers for the PDF tests: render to bytes and read the text back with pypdf."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace collapsed to one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", " ", page.extract_text() or "").strip() for page in reader.pages]


def fonts_used(pdf: bytes) -> set[str]:
    """Base font names of every font the pages use (subset prefixes stripped)."""
    reader = PdfReader(io.BytesIO(pdf))
    names = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.get_object().values():
            name = str(ref.get_object()["/BaseFont"]).lstrip("/")
            names.add(name.split("+", 1)[-1])
    return names


@pytest.fixture
def render():
    """``render(fn, data) -> bytes``: runs a renderer into memory."""
    def run(fn, data) -> bytes:
        stream = io.BytesIO()
        fn(data, stream)
        return stream.getvalue()
    return run


@pytest.fixture
def demo():
    """An in-memory repository holding the synthetic clinic of ``tests/pdf/clinic.py``."""
    from tests.pdf.clinic import build
    from therapy_timer.storage.repository import open_repository

    repo = open_repository(":memory:")
    yield build(repo)
    repo.close()
