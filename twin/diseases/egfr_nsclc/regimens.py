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

import math
from typing import NoReturn

from twin.dose_limits import DOSE_LIMITS, canonical_drug, check_dose, daily_totals, unknown_drug_message

SCAN_EVERY = 56  # day: 8-weekly scans decide adaptive regimens and switches
STANDARD = ("continuous", "pulsed", "at50", "switch", "osimertinib")
AT50 = {"at50": "pretreatment", "at50-now": "first_decision"}
"""The AT50 spellings and their baselines (``scenarios.regimen.BASELINES``): ``at50`` holds below
50% of the pre-treatment burden (Zhang et al. 2017), ``at50-now`` below 50% of the burden on the
decision day (the what-if's first decision)."""
SYNTAX = (
    f"a standard name ({', '.join(STANDARD)}, at50-now), DRUG:MG (daily), DRUG:MG:ON:OFF (intermittent), "
    "DRUG:MG:at50 (adaptive AT50 against the pre-treatment burden), DRUG:MG:at50-now (AT50 against the burden on "
    "the decision day) or DRUG:MG>DRUG2:MG2 (switch at progression), e.g. erlotinib:100"
)


class RegimenSyntaxError(ValueError):
    """A regimen text that :func:`parse_regimen` cannot read; the message quotes the whole text."""


def standard_regimens(days: int, names=STANDARD) -> list:
    """The named standard regimens over ``days`` days (see the module docstring)."""
    return [parse_regimen(name, days) for name in names]


def parse_regimen(text: str, days: int, *, allow_above_limit: bool = False):
    """A ``scenarios.Regimen`` from a standard name or the one-line syntax (module docstring).

    Raises :class:`RegimenSyntaxError` quoting the whole ``text`` and saying what is wrong, and
    :class:`twin.dose_limits.DoseLimitError` for a dose above the drug's hard limit unless
    ``allow_above_limit``.
    """
    whole = str(text).strip()
    regimen = _parse(whole, days, whole)
    for drug, mg, per in _largest_doses(regimen):
        check_dose(drug, mg, where=f"regimen {whole!r}", confirm=allow_above_limit, per=per)
    return regimen


def _fail(whole: str, part: str, problem: str) -> NoReturn:
    where = f"regimen {whole!r}" + (f", part {part!r}" if part != whole else "")
    raise RegimenSyntaxError(f"{where}: {problem}; valid: {SYNTAX}")


def _parse(text: str, days: int, whole: str):
    import scenarios as sc

    erlotinib = sc.continuous("erlotinib", 150.0, days)
    standard = {
        "continuous": lambda: erlotinib,
        "pulsed": lambda: sc.pulsed("erlotinib", 1200.0, 2, 50.0, 7, days),
        **{name: (lambda b=baseline: _at50(erlotinib, b)) for name, baseline in AT50.items()},
        "switch": lambda: sc.switch_on_progression(
            erlotinib, sc.continuous("osimertinib", 80.0, days), decision_every=SCAN_EVERY
        ),
        "osimertinib": lambda: sc.continuous("osimertinib", 80.0, days),
    }
    if text.lower() in standard:
        return standard[text.lower()]()
    if ">" in text:
        first, _, second = text.partition(">")
        if ">" in second:
            _fail(whole, text, "a switch joins two regimens (one '>')")
        a, b = _parse(first.strip(), days, whole), _parse(second.strip(), days, whole)
        if a.adaptive or b.adaptive:
            _fail(whole, text, "a switch joins two fixed regimens, not adaptive ones")
        try:
            return sc.switch_on_progression(a, b, decision_every=SCAN_EVERY)
        except ValueError as e:
            _fail(whole, text, str(e))
    parts = [p.strip() for p in text.split(":")]
    if not parts[0]:
        _fail(whole, text, "the drug name is missing")
    drug = canonical_drug(parts[0])
    if drug is None:
        _fail(whole, text, unknown_drug_message(parts[0]))
    if len(parts) == 1:
        _fail(whole, text, f"{drug} needs a dose: write {drug}:MG (e.g. {drug}:{DOSE_LIMITS[drug].label_mg:g})")
    mg = _mg(parts[1], whole, text)
    if len(parts) == 2:
        return sc.continuous(drug, mg, days)
    if len(parts) == 3 and parts[2].lower() in AT50:
        return _at50(sc.continuous(drug, mg, days), AT50[parts[2].lower()])
    if len(parts) == 3:
        _fail(whole, text, f"{parts[2]!r} is not an adaptive rule; valid: {', '.join(AT50)}")
    if len(parts) == 4:
        on, off = _whole_days(parts[2], "ON", whole, text), _whole_days(parts[3], "OFF", whole, text)
        try:
            return sc.intermittent(drug, mg, on, off, days)
        except ValueError as e:
            _fail(whole, text, str(e))
    _fail(whole, text, f"{len(parts)} ':'-separated fields is not a form this syntax has")


def _at50(base, baseline: str):
    import scenarios as sc

    return sc.adaptive_threshold(base, 0.5, 1.0, decision_every=SCAN_EVERY, baseline=baseline)


def _mg(text: str, whole: str, part: str) -> float:
    try:
        value = float(text.lower().removesuffix("mg").strip())
    except ValueError:
        _fail(whole, part, f"the dose {text!r} is not a number of mg")
    if not (math.isfinite(value) and value > 0):
        _fail(whole, part, f"the dose {text!r} must be > 0 mg")
    return value


def _whole_days(text: str, what: str, whole: str, part: str) -> int:
    try:
        return int(text)
    except ValueError:
        _fail(whole, part, f"{what} days {text!r} must be a whole number of days")


def _largest_doses(regimen) -> list[tuple[str, float, str]]:
    """``(drug, mg, per)`` for each drug of the regimen: its largest single dose
    (``per="administration"``) and its largest total on one calendar day (``per="day"``), scaled by
    the largest level a dose-modulating policy may reach. Drugs outside the dose table are skipped."""
    import numpy as np

    doses = regimen.doses
    time, amount, index = (np.asarray(a) for a in (doses.time, doses.amount, doses.drug))
    level = float(getattr(regimen.policy, "max_level", 1.0) or 1.0)
    out = []
    for j, name in enumerate(doses.drugs):
        drug = canonical_drug(name)
        given = (index == j) & (amount > 0)
        if drug is None or not given.any():
            continue
        _, per_day, _ = daily_totals(time[given], amount[given])
        out.append((drug, level * float(amount[given].max()), "administration"))
        out.append((drug, level * float(per_day.max()), "day"))
    return out


def above_label(regimen) -> list[str]:
    """One line per drug of ``regimen`` (a ``scenarios.Regimen``) given above its label dose, per
    dose or per day (e.g. the standard ``pulsed`` regimen: "erlotinib 1200 mg per dose is above the
    label dose (150 mg once daily, ...)"); empty where every dose is within the label. Doses above
    the hard limit (parsed with ``allow_above_limit``) are listed too."""
    lines: dict[str, str] = {}
    for drug, mg, per in _largest_doses(regimen):
        verdict = check_dose(drug, mg, confirm=True, per=per)  # confirm: report, never raise
        if verdict.above_label and drug not in lines:
            lines[drug] = verdict.message
    return list(lines.values())
