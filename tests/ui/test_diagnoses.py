"""The ICD-10-CM picker: the index builds off the UI thread; search, order, letters, refusals."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from tests.ui.shots import saved_shot
from therapy_timer.ui import diagnoses as diagnoses_module
from therapy_timer.ui.diagnoses import DiagnosisPicker, IcdIndexSource
from therapy_timer.ui.models import DiagnosisListModel, IcdResultsModel
from therapy_timer.ui.workers import Worker

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")



@pytest.fixture
def worker(qtbot):
    w = Worker()
    yield w
    w.shutdown()


@pytest.fixture
def source(qtbot, worker, icd_cache):
    src = IcdIndexSource(worker, icd_cache)
    with qtbot.waitSignal(src.ready, timeout=20000):
        src.start()
    yield src
    src.index().close()


@pytest.fixture
def picker(qtbot, source):
    widget = DiagnosisPicker(source)
    qtbot.addWidget(widget)
    widget.resize(640, 520)
    widget.show()
    return widget


def _type(qtbot, picker, text):
    picker.search.clear()
    qtbot.keyClicks(picker.search, text)


def _result_codes(picker):
    model = picker.results_model
    return [model.cell_text(r, 0) for r in range(model.rowCount())]


def _chosen_rows(picker):
    model = picker.chosen_model
    return [tuple(model.cell_text(r, c) for c in range(3)) for r in range(model.rowCount())]


def test_index_is_built_on_the_worker_thread(qtbot, worker, icd_cache, monkeypatch):
    threads = []
    real = diagnoses_module.ensure_index

    def spy(cache_dir):
        threads.append(threading.get_ident())
        return real(cache_dir)

    monkeypatch.setattr(diagnoses_module, "ensure_index", spy)
    src = IcdIndexSource(worker, icd_cache)
    picker = DiagnosisPicker(src)
    qtbot.addWidget(picker)
    assert "Loading" in picker.status.text()
    assert not picker.add_button.isEnabled()
    with qtbot.waitSignal(src.ready, timeout=20000):
        pass
    assert threads and threads[0] != threading.get_ident()
    assert picker.add_button.isEnabled()
    assert picker.status.text() == ""
    src.index().close()


def test_failed_build_is_shown(qtbot, worker, monkeypatch):
    def broken(_cache_dir):
        raise OSError("disk full")

    monkeypatch.setattr(diagnoses_module, "ensure_index", broken)
    src = IcdIndexSource(worker, "/nonexistent")
    picker = DiagnosisPicker(src)
    qtbot.addWidget(picker)
    with qtbot.waitSignal(src.failed, timeout=5000):
        pass
    assert "could not be loaded" in picker.status.text()
    assert "disk full" in picker.status.text()


def test_search_by_code_and_add_with_enter(qtbot, picker):
    _type(qtbot, picker, "R26.89")
    assert _result_codes(picker) == ["R26.89"]
    qtbot.keyClick(picker.search, Qt.Key.Key_Return)
    assert _chosen_rows(picker) == [("A", "R26.89", "Other abnormalities of gait and mobility")]
    assert picker.diagnoses() == ["R26.89"]
    assert picker.pointer("R26.89") == "A"
    assert picker.search.text() == ""


def test_search_by_words_and_double_click(qtbot, picker):
    _type(qtbot, picker, "gait mobility")
    codes = _result_codes(picker)
    assert "R26.89" in codes
    row = codes.index("R26.89")
    view = picker.results
    rect = view.visualRect(picker.results_model.index(row, 1))
    with qtbot.waitSignal(picker.changed, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [["R26.89"]]


def test_non_billable_category_refused_with_reason(qtbot, picker):
    _type(qtbot, picker, "R26.8")
    assert "R26.8" not in _result_codes(picker)  # categories never listed
    assert picker.add_code("R26.8") is False
    message = picker.status.text()
    assert "R26.8" in message and "not a billable code" in message
    assert "R26.81" in message and "R26.89" in message
    assert picker.diagnoses() == []


def test_unknown_code_refused(qtbot, picker):
    assert picker.add_code("R99.99") is False
    assert "R99.99 is not in the ICD-10-CM code set" in picker.status.text()


def test_order_letters_move_and_remove(qtbot, picker):
    for code in ("M54.50", "R26.89", "M62.81"):
        assert picker.add_code(code)
    assert [r[:2] for r in _chosen_rows(picker)] == [("A", "M54.50"), ("B", "R26.89"),
                                                     ("C", "M62.81")]
    picker.chosen.selectRow(1)
    qtbot.mouseClick(picker.up_button, Qt.MouseButton.LeftButton)
    assert picker.diagnoses() == ["R26.89", "M54.50", "M62.81"]
    assert picker.pointer("R26.89") == "A"
    picker.chosen.selectRow(0)
    qtbot.mouseClick(picker.remove_button, Qt.MouseButton.LeftButton)
    assert [r[:2] for r in _chosen_rows(picker)] == [("A", "M54.50"), ("B", "M62.81")]
    assert "Removed R26.89" in picker.status.text()


def test_duplicate_and_thirteenth_refused(qtbot, picker):
    assert picker.add_code("R26.89")
    assert not picker.add_code("r2689")
    assert "already on this visit (A)" in picker.status.text()
    index = picker._source.index()
    more = [e.code for e in index.search("M54", limit=30) if e.code != "R26.89"][:11]
    for code in more:
        assert picker.add_code(code), picker.status.text()
    assert len(picker.diagnoses()) == 12
    assert _chosen_rows(picker)[-1][0] == "L"
    assert not picker.add_code("M62.81")
    assert "at most 12" in picker.status.text()


def test_stored_list_shows_descriptions(qtbot, picker):
    picker.set_diagnoses(["M62.81", "R26.89"])
    assert _chosen_rows(picker) == [
        ("A", "M62.81", "Muscle weakness (generalized)"),
        ("B", "R26.89", "Other abnormalities of gait and mobility"),
    ]


def test_screenshot(qtbot, picker, shots):
    picker.add_code("R26.89")
    picker.add_code("M62.81")
    _type(qtbot, picker, "gait")
    saved_shot(picker, shots / "diagnosis-picker.png", texts=["gait"])


def test_models_pass_qtmodeltester(qtmodeltester, source):
    results = IcdResultsModel()
    results.set_rows(source.index().search("gait"))
    qtmodeltester.check(results)
    chosen = DiagnosisListModel()
    chosen.set_entries(source.index().search("back pain", limit=5))
    qtmodeltester.check(chosen)
    assert chosen.cell_text(4, 0) == "E"
