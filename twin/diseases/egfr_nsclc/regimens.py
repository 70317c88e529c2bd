"""The flagship's standard regimens and a one-line regimen syntax for the command line.

Standard regimens (first-line EGFR TKIs; doses from the product labels):

- ``continuous``: erlotinib 150 mg daily;
- ``pulsed``: erlotinib 1200 mg on days 1-2 + 50 mg on days 3-7, weekly (Yu et al., Ann Oncol 2017);
- ``at50``: erlotinib 150 mg daily under adaptive therapy AT50 as clinicians define it: hold when
  the burden falls below 50% of the *pre-treatment* burden, resume when it is back at 100% (Zhang
  et al., Nat Commun 2017: PSA against its pre-treatment value), decisions at 8-weekly scans. The
  pre-treatment burden is the twin's estimate at the patient's first dose (each posterior draw's
  own volume then; :meth:`twin.DigitalTwin.compare`). ``at50-now`` is the same rule against the
  burden on the decision day (the what-if's first scan) instead;
- ``switch``: erlotinib 150 mg daily, then osimertinib 80 mg daily from the first progression
  (+20% over nadir at an 8-weekly scan; AURA3, Mok et al., NEJM 2017);
- ``osimertinib``: osimertinib 80 mg daily (FLAURA, Soria et al., NEJM 2018).

:func:`parse_regimen` reads those names or ``DRUG:MG`` (daily), ``DRUG:MG:ON:OFF`` (intermittent
ON days on, OFF days off), ``DRUG:MG:at50`` (adaptive AT50 against the pre-treatment burden),
``DRUG:MG:at50-now`` (AT50 against the burden on the decision day) and ``DRUG:MG>DRUG2:MG2``
(switch at progression). DRUG is any drug of :data:`twin.dose_limits.DOSE_LIMITS` (every drug of the EGFR drug
table with PK; any case, brand names too). Doses are checked by :func:`twin.dose_limits.check_dose`:
above the hard limit a regimen is refused unless ``allow_above_limit=True``; above the label dose
it is allowed, and :func:`above_label` says so (the standard ``pulsed`` regimen is: 1200 mg is 8x
erlotinib's label dose), for tables and reports to mark.
"""

from __future__ import annotations

from twin.diseases.regimen_syntax import RegimenSyntaxError, above_label, syntax, threshold_rule
from twin.diseases.regimen_syntax import parse_regimen as _parse_syntax

SCAN_EVERY = 56  # day: 8-weekly scans decide adaptive regimens and switches
STANDARD = ("continuous", "pulsed", "at50", "switch", "osimertinib")
AT50 = {"at50": "pretreatment", "at50-now": "first_decision"}
"""The AT50 spellings and their baselines (``scenarios.regimen.BASELINES``): ``at50`` holds below
50% of the pre-treatment burden (Zhang et al. 2017), ``at50-now`` below 50% of the burden on the
decision day (the what-if's first decision)."""
SYNTAX = syntax((*STANDARD, "at50-now"), "erlotinib:100")
__all__ = ["AT50", "SCAN_EVERY", "STANDARD", "SYNTAX", "RegimenSyntaxError", "above_label", "parse_regimen",
           "standard_regimens"]  # fmt: skip


def standard_regimens(days: int, names=STANDARD) -> list:
    """The named standard regimens over ``days`` days (see the module docstring)."""
    return [parse_regimen(name, days) for name in names]


def _standard() -> dict:
    import scenarios as sc

    def erlotinib(days):
        return sc.continuous("erlotinib", 150.0, days)

    return {
        "continuous": erlotinib,
        "pulsed": lambda days: sc.pulsed("erlotinib", 1200.0, 2, 50.0, 7, days),
        "at50": lambda days: threshold_rule(erlotinib(days), 50, "", SCAN_EVERY),
        "at50-now": lambda days: threshold_rule(erlotinib(days), 50, "-now", SCAN_EVERY),
        "switch": lambda days: sc.switch_on_progression(
            erlotinib(days), sc.continuous("osimertinib", 80.0, days), decision_every=SCAN_EVERY
        ),
        "osimertinib": lambda days: sc.continuous("osimertinib", 80.0, days),
    }


def parse_regimen(text: str, days: int, *, allow_above_limit: bool = False):
    """A ``scenarios.Regimen`` from a standard name or the one-line syntax (module docstring;
    :func:`twin.diseases.regimen_syntax.parse_regimen`), adaptive decisions at 8-weekly scans.

    Raises :class:`RegimenSyntaxError` quoting the whole ``text`` and saying what is wrong, and
    :class:`twin.dose_limits.DoseLimitError` for a dose above the drug's hard limit unless
    ``allow_above_limit``.
    """
    return _parse_syntax(text, days, standard=_standard(), decision_every=SCAN_EVERY, example="erlotinib:100",
                         allow_above_limit=allow_above_limit)  # fmt: skip
