"""The compact ICD-10-CM index: built once per package version, searched by code or words."""

from __future__ import annotations

import pytest

from therapy_timer.storage import icd_index
from therapy_timer.storage.icd_index import IcdIndex, IndexDescriber, ensure_index, index_path

pytestmark = pytest.mark.sqlite_only(
    "the ICD-10-CM index is a cache file of each computer's, never the clinic's database")


@pytest.fixture
def index(icd_cache):
    ix = IcdIndex(index_path(icd_cache))
    yield ix
    ix.close()


def test_index_file_is_named_by_package_version(icd_cache):
    path = index_path(icd_cache)
    assert path.is_file()
    assert icd_index.package_version() in path.name


def test_second_ensure_does_not_rebuild(icd_cache, monkeypatch):
    def fail(_path):
        raise AssertionError("rebuilt an index that was already there")

    monkeypatch.setattr(icd_index, "build_index", fail)
    assert ensure_index(icd_cache) == index_path(icd_cache)


def test_damaged_index_is_rebuilt(tmp_path, monkeypatch):
    path = index_path(tmp_path)
    path.write_bytes(b"not a database")
    built = []

    def fake_build(target):
        import sqlite_utils

        db = sqlite_utils.Database(str(target))
        db["meta"].insert({"key": "schema", "value": str(icd_index.SCHEMA)}, pk="key")
        db["codes"].insert({"code": "R26.89", "compact": "R2689", "description": "x",
                            "billable": 1}, pk="code")
        db.close()
        built.append(target)
        return 1

    monkeypatch.setattr(icd_index, "build_index", fake_build)
    assert ensure_index(tmp_path) == path
    assert len(built) == 1
    assert IcdIndex(path).lookup("R26.89").billable
    assert list(tmp_path.glob("*.tmp")) == []


def test_missing_index_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no complete ICD-10-CM index"):
        IcdIndex(tmp_path / "nothing.sqlite")


def test_code_search_finds_gait_code(index):
    results = index.search("R26.89")
    assert results[0].code == "R26.89"
    assert results[0].description == "Other abnormalities of gait and mobility"
    assert results[0].billable


def test_code_search_without_dot_and_lowercase(index):
    codes = [e.code for e in index.search("r268")]
    assert codes == ["R26.81", "R26.89"]


def test_billable_only_leaves_out_categories(index):
    assert "R26.8" not in [e.code for e in index.search("R26.8")]
    everything = [e.code for e in index.search("R26.8", billable_only=False)]
    assert everything[0] == "R26.8"


def test_lookup_knows_a_category_is_not_billable(index):
    entry = index.lookup("r26.8")
    assert entry is not None and entry.code == "R26.8" and not entry.billable
    assert [e.code for e in index.children("R26.8")] == ["R26.81", "R26.89"]
    assert index.lookup("R99.99") is None


def test_word_search_needs_every_word(index):
    results = index.search("abnormal gait")
    codes = [e.code for e in results]
    assert "R26.89" in codes
    for entry in results:
        text = entry.description.lower()
        assert "abnormal" in text and "gait" in text


def test_word_search_ranks_and_limits(index):
    results = index.search("low back pain", limit=3)
    assert len(results) == 3
    assert {"M54.50", "M54.59"} <= {e.code for e in results}


def test_punctuation_and_quotes_do_not_break_search(index):
    assert index.search('gait "') != []
    assert index.search("()*") == []
    assert index.search("   ") == []


def test_describer_reads_the_index_and_never_the_package(icd_cache, tmp_path):
    # Issue 11: printing must not load the ICD-10-CM package (2 s); without the index a visit
    # recorded before descriptions were kept prints its codes alone.
    from therapy_timer.storage.icd_index import describer

    from_index = describer(icd_cache)
    assert from_index("R26.89") == "Other abnormalities of gait and mobility"
    assert from_index("Z99.999") == ""
    no_index = describer(tmp_path / "no-index-here")
    assert no_index("R26.89") == ""
    assert no_index("not a code") == ""


def test_the_index_describer_reads_the_built_index(icd_cache, tmp_path):
    describe = IndexDescriber(icd_cache)
    try:
        assert describe("M54.50") == "Low back pain, unspecified"
        assert describe("m5450") == "Low back pain, unspecified"
        assert describe("Q99.999") == ""
    finally:
        describe.close()
    missing = IndexDescriber(tmp_path / "no-index-here")
    assert missing("M54.50") == ""  # no index: no description, and no slow package load
