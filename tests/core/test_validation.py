"""Validation messages name the value and what is wrong."""

from __future__ import annotations

import pytest

from therapy_timer.core.validation import (
    ValidationError,
    icd10_description,
    normalise_icd10,
    npi_check_digit,
    parse_birth_date,
    validate_code,
    validate_icd10,
    validate_modifier,
    validate_npi,
)


@pytest.mark.parametrize("code", ["97110", "G0283", "0001F", "0591T", " 97140 ", "g0283"])
def test_valid_codes(code):
    assert validate_code(code) == code.strip().upper()


@pytest.mark.parametrize("code", ["9711", "971100", "97.11", "GG283", "", "0001X"])
def test_invalid_codes_name_the_value(code):
    with pytest.raises(ValidationError, match=repr(code).replace(".", r"\.")):
        validate_code(code)


def test_modifiers():
    assert validate_modifier("gp") == "GP"
    assert validate_modifier("59") == "59"
    for bad in ["G", "GPX", "G-", ""]:
        with pytest.raises(ValidationError, match="not a modifier"):
            validate_modifier(bad)


def test_npi_check_digit_examples():
    assert npi_check_digit("123456789") == 3
    assert validate_npi("1234567893") == "1234567893"
    assert validate_npi("1558598797") == "1558598797"


@pytest.mark.parametrize(
    ("npi", "message"),
    [("1234567890", "check digit .* should be 3"), ("123456789", "exactly 10 digits"),
     ("3234567893", "start with 1 or 2"), ("12345678a3", "exactly 10 digits")],
)
def test_bad_npi_messages(npi, message):
    with pytest.raises(ValidationError, match=message):
        validate_npi(npi)


def test_icd10_format_and_normalisation():
    assert normalise_icd10("r2689") == "R26.89"
    assert normalise_icd10("M54") == "M54"
    with pytest.raises(ValidationError, match="not an ICD-10-CM code"):
        normalise_icd10("26.89")


def test_icd10_exists_and_is_billable():
    assert validate_icd10("R26.89") == "R26.89"
    assert icd10_description("R26.89") == "Other abnormalities of gait and mobility"
    assert validate_icd10("s72001a") == "S72.001A"
    with pytest.raises(ValidationError, match="R26.8 is a category"):
        validate_icd10("R26.8")
    with pytest.raises(ValidationError, match="Z99.999 is not in the ICD-10-CM code set"):
        validate_icd10("Z99.999")


def test_birth_dates_typed_us_or_iso():
    from datetime import date

    today = date(2026, 11, 23)
    assert parse_birth_date("04/12/1958", today) == date(1958, 4, 12)
    assert parse_birth_date("4/2/1958", today) == date(1958, 4, 2)
    assert parse_birth_date(" 1958-04-12 ", today) == date(1958, 4, 12)
    for bad, message in [("", "enter the date of birth"), ("13/01/1958", "not a date"),
                         ("02/30/1990", "not a date"), ("1958", "not a date"),
                         ("01/01/2027", "in the future"), ("01/01/1890", "over 130 years")]:
        with pytest.raises(ValidationError, match=message):
            parse_birth_date(bad, today)

