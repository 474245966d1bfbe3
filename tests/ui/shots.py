"""Screenshot checks: a saved picture is read back and asserted on, not only written.

``saved_shot`` saves ``widget.grab()`` to ``path``, loads the file again and checks what the
picture shows: its size is the widget's, it is not one flat colour (something was painted), a
known region (the widget's top-left corner, its window background) has the palette's window
colour, and every text in ``texts`` is on a visible child widget that lies inside the picture.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QApplication, QWidget


def visible_texts(widget: QWidget) -> dict[str, QWidget]:
    """The text of every visible child (labels, buttons, line edits, combo boxes)."""
    found: dict[str, QWidget] = {}
    for child in widget.findChildren(QWidget):
        if not child.isVisibleTo(widget):
            continue
        for attr in ("text", "currentText", "title"):
            getter = getattr(child, attr, None)
            if callable(getter):
                try:
                    value = getter()
                except TypeError:
                    continue
                if isinstance(value, str) and value:
                    found.setdefault(value, child)
    return found


def saved_shot(widget: QWidget, path, texts=()) -> QImage:
    # Layouts asked for by the last changes (a button's new text) are done first, as the
    # event loop does before a screen shows them: else the grab shows the old sizes.
    QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    QApplication.processEvents()
    pixmap = widget.grab()
    assert pixmap.save(str(path))
    image = QImage(str(path))
    assert not image.isNull(), f"{path} was not written as an image"
    ratio = pixmap.devicePixelRatio()
    assert (image.width(), image.height()) == (round(widget.width() * ratio),
                                               round(widget.height() * ratio))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 8, f"{path} is (nearly) one flat colour: nothing was painted"
    window = widget.palette().color(QPalette.ColorRole.Window)
    corner = image.pixelColor(1, 1)
    assert abs(corner.lightness() - window.lightness()) <= 24, (
        f"{path}: the top-left corner is {corner.name()}, not the window colour "
        f"{window.name()}")
    shown = visible_texts(widget)
    for text in texts:
        holder = next((w for t, w in shown.items() if text in t), None)
        assert holder is not None, f"{text!r} is not on any visible widget of {path}"
        inside = holder.mapTo(widget, holder.rect().center())
        assert widget.rect().contains(inside), f"{text!r} is outside the picture"
    return image
