"""Process set-up pieces of the app: Qt messages to the log, the excepthook."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QtMsgType

from therapy_timer.ui import app as app_module


class _Context:
    file = "widget.cpp"
    line = 12


def test_qt_messages_go_to_the_log(caplog):
    with caplog.at_level(logging.DEBUG, logger="qt"):
        app_module.qt_message_handler(QtMsgType.QtWarningMsg, _Context(), "a real warning")
        app_module.qt_message_handler(QtMsgType.QtWarningMsg, _Context(),
                                      "This plugin does not support propagateSizeHints()")
    levels = {r.getMessage().split(" (")[0]: r.levelno for r in caplog.records}
    assert levels["a real warning"] == logging.WARNING
    assert levels["This plugin does not support propagateSizeHints()"] == logging.DEBUG


def test_excepthook_logs_and_reports_in_check_mode(caplog, capsys, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(app_module.QApplication, "instance", staticmethod(lambda: None))
    app_module.install_excepthook(check=True)
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        with caplog.at_level(logging.CRITICAL):
            sys.excepthook(*sys.exc_info())
    assert "boom in a slot" in caplog.text
    assert "RuntimeError: boom in a slot" in capsys.readouterr().err
