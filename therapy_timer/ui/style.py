"""Colours, sizes and the application style sheet: high contrast, big type, touch-sized.

The visit screen must read from two metres away, so the numbers that matter use the large
sizes here. Colours pass WCAG AA contrast against their backgrounds.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

INK = "#111827"  # near-black text
MUTED = "#4b5563"  # secondary text (7:1 on white)
PAPER = "#ffffff"
CANVAS = "#eef1f5"  # window background
LINE = "#9ca3af"
DISABLED_BG = "#e5e7eb"  # a tile that cannot be tapped (a finalized visit)
RUNNING = "#05603a"  # a one-on-one timer running (white text: 7.9:1)
ALONGSIDE = "#1e40af"  # a supervised modality running alongside (white text: 8.6:1)
DONE = "#d1fae5"  # a code with recorded time, not running
PAUSED = "#92400e"  # paused (white text: 7:1)
WARN_BG = "#fef3c7"
WARN_INK = "#78350f"
INFO_BG = "#dbeafe"
INFO_INK = "#1e3a8a"
ERROR_BG = "#fee2e2"
ERROR_INK = "#7f1d1d"
ACCENT = "#1d4ed8"

TOUCH = 56  # minimum height of a touch target in px (at 96 dpi)
TILE_W, TILE_H = 220, 150

# One sheet for the whole app: a widget's own style sheet costs a parse and a style of its own
# on every start.
APP_STYLE = f"""
QWidget {{ font-size: 15px; color: {INK}; }}
QMainWindow, QStackedWidget > QWidget {{ background: {CANVAS}; }}
QPushButton {{
    min-height: {TOUCH - 16}px; padding: 6px 16px; border-radius: 8px;
    border: 2px solid {LINE}; background: {PAPER}; font-size: 16px; font-weight: 600;
}}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:focus {{ border-color: {ACCENT}; }}
QPushButton:disabled {{ color: #9ca3af; border-color: #d1d5db; }}
QPushButton[primary="true"] {{ background: {ACCENT}; color: white; border-color: {ACCENT}; }}
QPushButton[danger="true"] {{ background: {ERROR_INK}; color: white; border-color: {ERROR_INK}; }}
QPushButton[primary="true"]:disabled, QPushButton[danger="true"]:disabled {{
    background: #e5e7eb; color: #9ca3af; border-color: #d1d5db;
}}
QLineEdit, QComboBox, QDateTimeEdit, QTimeEdit, QSpinBox {{
    min-height: 36px; padding: 2px 8px; border: 2px solid {LINE}; border-radius: 6px;
    background: {PAPER}; font-size: 16px;
}}
QLineEdit:focus, QComboBox:focus {{ border-color: {ACCENT}; }}
QTableView {{ background: {PAPER}; gridline-color: #e5e7eb; font-size: 15px; }}
QHeaderView::section {{ background: #e5e7eb; padding: 6px; border: none; font-weight: 600; }}
QLabel[role="title"] {{ font-size: 26px; font-weight: 700; }}
QLabel[role="subtitle"] {{ font-size: 17px; color: {MUTED}; }}
QLabel[role="caption"] {{ font-size: 14px; color: {MUTED}; font-weight: 600; }}
QLabel[role="big"] {{ font-size: 46px; font-weight: 800; }}
QTableView#todayVisits, QTableView#todayVisits QHeaderView {{ font-size: 17px; }}
QListWidget#patientMatches {{ font-size: 17px; }}
QListWidget#patientMatches::item {{
    min-height: 40px; padding: 2px 4px; border-bottom: 1px solid #e5e7eb;
}}
QListWidget#patientMatches::item:selected {{ background: {ACCENT}; color: white; }}
QToolBar#navigate {{ spacing: 6px; padding: 4px; background: #1f2937; }}
QToolBar#navigate QToolButton {{
    color: white; font-size: 17px; font-weight: 700; padding: 8px 18px; border-radius: 6px;
}}
QToolBar#navigate QToolButton:hover {{ background: #374151; }}
QToolBar#navigate QToolButton:disabled {{ color: #6b7280; }}
QFrame[role="card"] {{ background: {PAPER}; border-radius: 12px; border: 1px solid #d1d5db; }}
"""


def polish(widget, **properties) -> None:
    """Sets dynamic properties used by the style sheet and re-applies the style.

    A widget not yet polished (still being built) picks the properties up when it is first
    shown, so only a polished one is re-polished.
    """
    for name, value in properties.items():
        widget.setProperty(name, value)
    if widget.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):
        widget.style().unpolish(widget)
        widget.style().polish(widget)
