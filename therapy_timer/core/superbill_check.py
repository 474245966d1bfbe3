"""Is a superbill usable? What a payer would reject it for, and where the clinic sets each.

A new clinic that has not filled in Settings prints superbills with $0.00 charges, no group NPI
or Tax ID and no rendering NPI: a payer cannot process them. ``superbill_gaps`` names each
missing item and the Settings tab that fixes it. The review (before Finalize), the front desk
(before Print and Save) and the ``superbill`` command all call this one function; it only
reads plain records (no Qt, no SQL).

What counts as missing follows the superbill contents payers read (billing-rules.md section f:
billing provider NPI and Tax ID, items 25 and 33; rendering NPI, item 24J; a charge per line,
item 24F). A $0.00 line is left alone when it is a Medicare-bundled code billed to Medicare
(97010: documented, not paid separately, listed at $0 on purpose).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from therapy_timer.core import records as rec
from therapy_timer.core.codes import Catalog, default_catalog
from therapy_timer.core.model import BillingError

PRACTICE_TAB = "Settings > Practice"
PROVIDERS_TAB = "Settings > Providers"
FEES_TAB = "Settings > Fee schedule"
PATIENT_TAB = "the patient's Insurance tab"


@dataclass(frozen=True, slots=True)
class Gap:
    """One thing a superbill lacks (``what``) and where the clinic sets it (``where``)."""

    what: str
    where: str

    def __str__(self) -> str:
        return f"{self.what}: set it in {self.where}"


def superbill_gaps(practice: rec.Practice | None, provider: rec.Provider | None,
                   line_fees: Iterable[tuple[str, int]], payer: rec.Payer | None = None,
                   policy: rec.InsurancePolicy | None = None,
                   catalog: Catalog | None = None) -> tuple[Gap, ...]:
    """What a visit's superbill would lack, in the order a payer reads the form.

    Args:
        practice: the billing practice (None: not set up yet).
        provider: the rendering provider.
        line_fees: (code, charge per unit in cents) of each billed line.
        payer: the primary payer (None or self-pay: no insurance items are checked).
        policy: the patient's policy with that payer (its member ID is checked).

    Returns:
        The gaps; empty when the superbill is usable.
    """
    catalog = catalog or default_catalog()
    gaps: list[Gap] = []
    if practice is None or not practice.name.strip():
        gaps.append(Gap("The practice's name and address are not set up", PRACTICE_TAB))
    if practice is None or not practice.npi.strip():
        gaps.append(Gap("No group NPI for the practice", PRACTICE_TAB))
    if practice is None or not practice.tax_id.strip():
        gaps.append(Gap("No Tax ID (EIN) for the practice", PRACTICE_TAB))
    if provider is not None and not provider.npi.strip():
        gaps.append(Gap(f"No NPI for {provider.name}, the rendering provider", PROVIDERS_TAB))
    medicare = payer is not None and payer.medicare
    unpriced: list[str] = []
    for code, cents in line_fees:
        if cents > 0 or code in unpriced:
            continue
        if medicare and _bundled(catalog, code):
            continue  # documented, not paid separately by Medicare: $0 on purpose
        unpriced.append(code)
    gaps.extend(Gap(f"No fee for {code}", FEES_TAB) for code in unpriced)
    insured = payer is not None and not payer.self_pay
    if insured and (policy is None or not policy.member_id.strip()):
        gaps.append(Gap(f"No member ID for {payer.name}", PATIENT_TAB))
    return tuple(gaps)


def _bundled(catalog: Catalog, code: str) -> bool:
    try:
        return catalog.get(code).medicare_bundled
    except BillingError:
        return False


def describe_gaps(gaps: Iterable[Gap]) -> str:
    """The gaps as one message: "No fee for 97110: set it in Settings > Fee schedule; ..."."""
    return "; ".join(str(gap) for gap in gaps)
