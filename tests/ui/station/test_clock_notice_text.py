"""The words of the clock notice and its log line: how an offset reads (literal tables)."""

from __future__ import annotations

import pytest

from therapy_timer.ui.station.clock_notice import notice_text
from therapy_timer.ui.station.server_clock import amount, behind_or_ahead

AMOUNTS = [
    (0.0, "0 s"),
    (0.4, "0 s"),
    (4.4, "4 s"),
    (-4.6, "5 s"),
    (59.4, "59 s"),
    (59.6, "1 min"),
    (133.0, "2 min 13 s"),
    (-200.0, "3 min 20 s"),
    (3600.0, "1 h"),
    (3723.2, "1 h 2 min 3 s"),
    (7203.0, "2 h 3 s"),
]


@pytest.mark.parametrize(("seconds", "text"), AMOUNTS)
def test_amount(seconds, text):
    assert amount(seconds) == text


def test_the_sign_says_which_clock_is_ahead():
    assert behind_or_ahead(133.0) == "2 min 13 s behind"  # the server's clock is ahead
    assert behind_or_ahead(-90.0) == "1 min 30 s ahead of"


NOTICES = [
    (None, ""),  # not measured (or the embedded file's 0)
    (0.0, ""),
    (5.0, ""),  # the threshold itself: no notice
    (-5.4, ""),  # shows as 5 s: no notice either
    (5.6, "This computer's clock is 6 s behind the clinic server's; times are recorded by the "
          "server's clock"),
    (-90.0, "This computer's clock is 1 min 30 s ahead of the clinic server's; times are "
            "recorded by the server's clock"),
    (133.2, "This computer's clock is 2 min 13 s behind the clinic server's; times are "
            "recorded by the server's clock"),
]


@pytest.mark.parametrize(("offset", "text"), NOTICES)
def test_notice_text(offset, text):
    assert notice_text(offset) == text
