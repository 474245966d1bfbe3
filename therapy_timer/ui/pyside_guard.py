"""Works around a reference-count bug of the PySide6 6.12 abi3 wheel on Python 3.11.

The wheel is built for the stable ABI and its generated wrappers return ``None`` (and some
booleans) without taking a reference, which is harmless from Python 3.12 on (``None``, ``True``
and ``False`` are immortal there) but on 3.11 each call of a void Qt method (``setText``,
``setEnabled``, ``beginResetModel``, ...) drops one reference to ``None``. ``None`` starts with
about 5,000 references, so after a few thousand calls the interpreter aborts with "Fatal
Python error: none_dealloc". Reproduce::

    from PySide6.QtCore import QObject
    o = QObject()
    for _ in range(10_000):
        o.setObjectName("x")   # aborts on Python 3.11

``install()`` gives the three singletons a huge reference count, so they behave as immortal as
they do on 3.12. It runs on import of this module (imported by ``therapy_timer.ui`` modules);
calling it again is harmless. On Python 3.12+ it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_FLOOR = 1 << 39


def install() -> None:
    """Makes ``None``, ``True`` and ``False`` effectively immortal on Python < 3.12."""
    if sys.version_info >= (3, 12) or not hasattr(sys, "getrefcount"):
        return
    if sys.implementation.name != "cpython":
        return
    for obj in (None, True, False):
        if sys.getrefcount(obj) < _FLOOR:
            # ob_refcnt is the first field (Py_ssize_t) of every object in CPython 3.11.
            ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST


install()
