"""Validation of identifiers: CPT/HCPCS codes, modifiers, ICD-10-CM diagnoses and NPIs.

Each check returns the normalised value or raises ``ValidationError`` with a message naming the
value and what is wrong. ICD-10-CM existence and billability come from the simple-icd-10-cm data
package (the April 2026 ICD-10-CM release); it takes about two seconds to load, so it is loaded on
first use only (``icd10_data()``), never at import.
"""

from __future__ import annotations

import re
import warnings
from datetime import date
from functools import cache
from types import ModuleType

from therapy_timer.core.model import BillingError


class ValidationError(BillingError):
    """A value in the wrong format or not found in the reference data."""


_CPT = re.compile(r"^(\d{5}|\d{4}[FT]|[A-Z]\d{4})$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_ICD10 = re.compile(r"^[A-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def validate_code(text: str) -> str:
    """A CPT (5 digits; 4 digits + F or T) or HCPCS Level II (letter + 4 digits) code."""
    code = str(text).strip().upper()
    if not _CPT.match(code):
        raise ValidationError(
            f"{text!r} is not a CPT/HCPCS code: expected 5 characters such as 97110 or G0283"
        )
    return code


def validate_modifier(text: str) -> str:
    """A two-character modifier such as GP, CQ, 59, XU or KX."""
    modifier = str(text).strip().upper()
    if not _MODIFIER.match(modifier):
        raise ValidationError(f"{text!r} is not a modifier: expected 2 letters or digits, e.g. GP")
    return modifier


@cache
def icd10_data() -> ModuleType:
    """The ICD-10-CM data package, loaded once (about 2 s; call it off the UI thread)."""
    with warnings.catch_warnings():
        # The package reads its data with a deprecated importlib.resources call.
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


def normalise_icd10(text: str) -> str:
    """Upper-cases and places the dot after the third character (format only, no lookup)."""
    raw = str(text).strip().upper()
    if not _ICD10.match(raw):
        raise ValidationError(
            f"{text!r} is not an ICD-10-CM code: expected a letter, a digit, then 1 to 5 more "
            "letters or digits (e.g. R26.89)"
        )
    compact = raw.replace(".", "")
    return compact if len(compact) == 3 else f"{compact[:3]}.{compact[3:]}"


def validate_icd10(text: str) -> str:
    """An ICD-10-CM code that exists and is billable (a leaf) in the current release."""
    code = normalise_icd10(text)
    data = icd10_data()
    if not data.is_valid_item(code):
        raise ValidationError(f"{code} is not in the ICD-10-CM code set")
    if not data.is_leaf(code):
        raise ValidationError(
            f"{code} is a category, not a billable code: choose a more specific code under it"
        )
    return code


def icd10_description(code: str) -> str:
    """The official short description of an ICD-10-CM code."""
    return icd10_data().get_description(normalise_icd10(code))


def npi_check_digit(first_nine: str) -> int:
    """The NPI check digit: Luhn over the digits with the 80840 prefix (which adds 24)."""
    total = 24
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def validate_npi(text: str) -> str:
    """A 10-digit NPI starting with 1 or 2 whose last digit is the Luhn check digit."""
    npi = str(text).strip().replace(" ", "")
    if not (len(npi) == 10 and npi.isdigit()):
        raise ValidationError(f"NPI {text!r} must be exactly 10 digits")
    if npi[0] not in "12":
        raise ValidationError(f"NPI {npi} must start with 1 or 2")
    expected = npi_check_digit(npi[:9])
    if int(npi[9]) != expected:
        raise ValidationError(
            f"NPI {npi} fails its check digit (the last digit should be {expected}): "
            "look for a mistyped digit"
        )
    return npi


#: A NUCC health care provider taxonomy code: 10 characters, letters and digits, ending in X
#: (225100000X physical therapist, 225X00000X occupational therapist, 235Z00000X speech).
_TAXONOMY = re.compile(r"^[0-9A-Z]{9}X$")
#: A payer ID (the electronic payer number a clearinghouse files claims under).
_PAYER_CODE = re.compile(r"^[0-9A-Z][0-9A-Z-]{0,19}$")


def validate_taxonomy(text: str) -> str:
    """A NUCC taxonomy code: 10 letters and digits ending in X (upper-cased)."""
    code = str(text).strip().upper()
    if len(code) != 10:
        raise ValidationError(f"taxonomy code {text.strip()!r} must be 10 characters, "
                              "e.g. 225100000X")
    if not _TAXONOMY.match(code):
        raise ValidationError(f"taxonomy code {code} must be letters and digits ending in X, "
                              "e.g. 225100000X")
    return code


def validate_payer_code(text: str) -> str:
    """A payer ID: letters, digits and hyphens, at most 20 (upper-cased)."""
    code = str(text).strip().upper()
    if not _PAYER_CODE.match(code):
        raise ValidationError(f"payer ID {text.strip()!r} must be letters and digits (at most "
                              "20), e.g. 04412")
    return code


_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
OLDEST_AGE_YEARS = 130


def parse_birth_date(text: str, today: date) -> date:
    """A date of birth typed as MM/DD/YYYY (US) or YYYY-MM-DD.

    Raises:
        ValidationError: empty, not a real date, in the future, or over 130 years ago.
    """
    raw = str(text).strip()
    if not raw:
        raise ValidationError("enter the date of birth (MM/DD/YYYY)")
    try:
        us = _US_DATE.match(raw)
        if us:
            month, day, year = (int(part) for part in us.groups())
            born = date(year, month, day)
        else:
            born = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            f"{raw!r} is not a date: type it as MM/DD/YYYY, e.g. 04/12/1958"
        ) from None
    if born > today:
        raise ValidationError(f"date of birth {born:%m/%d/%Y} is in the future")
    if today.year - born.year > OLDEST_AGE_YEARS:
        raise ValidationError(f"date of birth {born:%m/%d/%Y} is over {OLDEST_AGE_YEARS} "
                              "years ago: check the year")
    return born

