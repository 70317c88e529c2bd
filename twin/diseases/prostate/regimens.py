"""The prostate pack's standard regimens and its regimen syntax.

PSA is checked every 4 weeks (:data:`CHECK_EVERY`: the monthly visits of the adaptive trial,
Zhang et al. Nat Commun 2017;8:1816); adaptive rules decide at those checks. Standard regimens
(abiraterone acetate 1,000 mg once daily is the label dose):

- ``continuous``: 1,000 mg daily;
- ``at50``: AT50 as in the trial (Zhang et al. 2017; eLife 2022;11:e76284): hold when PSA falls
  below 50% of the pre-treatment value, resume when it is back at that value;
- ``intermittent``: a fixed schedule, 8 weeks on, 4 weeks off;
- ``modulated``: dose modulation at each check (halved after a >= 10% PSA fall, x1.5 after a >= 10%
  rise, up to 1,000 mg).

Other thresholds and doses through the syntax of :mod:`twin.diseases.regimen_syntax`, e.g.
``abiraterone:1000:at30`` (hold below 70% of the pre-treatment PSA) or ``abiraterone:500``.
"""

from __future__ import annotations

from twin.diseases.regimen_syntax import above_label, syntax, threshold_rule
from twin.diseases.regimen_syntax import parse_regimen as _parse_syntax

DRUG = "abiraterone"
LABEL_MG = 1000.0
CHECK_EVERY = 28  # day: 4-weekly PSA checks decide adaptive regimens
STANDARD = ("continuous", "at50", "intermittent", "modulated")
SYNTAX = syntax(STANDARD, "abiraterone:1000:at30")
__all__ = ["CHECK_EVERY", "STANDARD", "SYNTAX", "above_label", "parse_regimen", "standard_regimens"]


def _standard() -> dict:
    import scenarios as sc

    def continuous(days):
        return sc.continuous(DRUG, LABEL_MG, days)

    return {
        "continuous": continuous,
        "at50": lambda days: threshold_rule(continuous(days), 50, "", CHECK_EVERY),
        "intermittent": lambda days: sc.intermittent(DRUG, LABEL_MG, 56, 28, days),
        "modulated": lambda days: sc.dose_modulation(continuous(days), decision_every=CHECK_EVERY),
    }


def standard_regimens(days: int, names=STANDARD) -> list:
    """The named standard regimens over ``days`` days (module docstring)."""
    return [parse_regimen(name, days) for name in names]


def parse_regimen(text: str, days: int, *, allow_above_limit: bool = False):
    """A ``scenarios.Regimen`` from a standard name or the one-line syntax; abiraterone only (another
    drug is refused naming the pack's drugs)."""
    return _parse_syntax(text, days, standard=_standard(), decision_every=CHECK_EVERY, drugs=(DRUG,),
                         example="abiraterone:1000:at30", allow_above_limit=allow_above_limit)  # fmt: skip
