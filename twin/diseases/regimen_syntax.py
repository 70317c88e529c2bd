"""The one-line regimen syntax every disease pack reads (the CLI's ``--regimen``), and the marking
of doses above the label.

``DRUG:MG`` (daily), ``DRUG:MG:ON:OFF`` (intermittent: ON days on, OFF days off), ``DRUG:MG:atNN``
(threshold adaptive therapy AT-NN against the pre-treatment burden: hold below (100 - NN)% of it,
resume at 100%; Zhang et al. Nat Commun 2017 for AT50), ``DRUG:MG:atNN-now`` (the same against the
burden on the decision day), ``DRUG:MG>DRUG2:MG2`` (switch at progression),
``DRUG:MG+DRUG2:MG2`` (given together; each part a fixed regimen, e.g.
``erlotinib:150+capmatinib:400``; not yet inside a switch), or a pack's standard name.
DRUG is any drug of :data:`twin.dose_limits.DOSE_LIMITS` (any case, brand names too) that the pack
allows. Doses are checked by :func:`twin.dose_limits.check_dose`: above the hard limit a
regimen is refused unless ``allow_above_limit=True``; above the label dose it is allowed, and
:func:`above_label` says so, for tables and reports to mark.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

from twin.dose_limits import DOSE_LIMITS, canonical_drug, check_dose, daily_totals, unknown_drug_message

BASELINE_SUFFIX = {"": "pretreatment", "-now": "first_decision"}
"""``atNN`` decides against the pre-treatment burden, ``atNN-now`` against the burden on the
decision day (``scenarios.regimen.BASELINES``)."""


class RegimenSyntaxError(ValueError):
    """A regimen text that :func:`parse_regimen` cannot read; the message quotes the whole text."""


def syntax(standard: Sequence[str], example: str) -> str:
    """The syntax in words (error messages, CLI help), with the pack's ``standard`` names."""
    return (
        f"a standard name ({', '.join(standard)}), DRUG:MG (daily), DRUG:MG:ON:OFF (intermittent), "
        "DRUG:MG:atNN (adaptive AT-NN against the pre-treatment burden, e.g. at50), DRUG:MG:atNN-now (against the "
        f"burden on the decision day), DRUG:MG>DRUG2:MG2 (switch at progression) or DRUG:MG+DRUG2:MG2 (together), "
        f"e.g. {example}"
    )


def parse_regimen(
    text: str,
    days: int,
    *,
    standard: Mapping[str, Callable[[int], object]],
    decision_every: float,
    drugs: Sequence[str] | None = None,
    example: str = "erlotinib:100",
    allow_above_limit: bool = False,
):
    """A ``scenarios.Regimen`` from a name of ``standard`` (name -> ``f(days)``) or the one-line
    syntax (module docstring); adaptive rules and switches decide every ``decision_every`` days;
    ``drugs``: the drugs the pack models (None: any of ``DOSE_LIMITS``).

    Raises :class:`RegimenSyntaxError` quoting the whole ``text`` and saying what is wrong, and
    :class:`twin.dose_limits.DoseLimitError` for a dose above the drug's hard limit unless
    ``allow_above_limit``.
    """
    whole = str(text).strip()
    grammar = _Grammar(whole, days, standard, float(decision_every), drugs, syntax(tuple(standard), example))
    regimen = grammar.parse(whole)
    for drug, mg, per in _largest_doses(regimen):
        check_dose(drug, mg, where=f"regimen {whole!r}", confirm=allow_above_limit, per=per)
    return regimen


class _Grammar:
    def __init__(self, whole, days, standard, decision_every, drugs, words):
        self.whole, self.days, self.standard, self.every, self.drugs, self.words = (
            whole, days, standard, decision_every, drugs, words
        )  # fmt: skip

    def fail(self, part: str, problem: str) -> NoReturn:
        where = f"regimen {self.whole!r}" + (f", part {part!r}" if part != self.whole else "")
        raise RegimenSyntaxError(f"{where}: {problem}; valid: {self.words}")

    def parse(self, text: str):
        import scenarios as sc

        if text.lower() in self.standard:
            return self.standard[text.lower()](self.days)
        if ">" in text:
            first, _, second = text.partition(">")
            if ">" in second:
                self.fail(text, "a switch joins two regimens (one '>')")
            a, b = self.parse(first.strip()), self.parse(second.strip())
            if a.adaptive or b.adaptive:
                self.fail(text, "a switch joins two fixed regimens, not adaptive ones")
            try:
                return sc.switch_on_progression(a, b, decision_every=self.every)
            except ValueError as e:
                self.fail(text, str(e))
        if "+" in text:
            regimens = [self.parse(part.strip()) for part in text.split("+")]
            if any(r.adaptive for r in regimens):
                self.fail(text, "a combination joins fixed regimens (DRUG:MG or DRUG:MG:ON:OFF), not adaptive ones")
            drugs = [d for r in regimens for d in r.drugs]
            if len(set(drugs)) < len(drugs):
                self.fail(
                    text,
                    f"a combination names each drug once; {sorted({d for d in drugs if drugs.count(d) > 1})} twice",
                )
            combined = regimens[0]
            for r in regimens[1:]:
                combined = sc.combination(combined, r)
            return combined
        parts = [p.strip() for p in text.split(":")]
        if not parts[0]:
            self.fail(text, "the drug name is missing")
        drug = canonical_drug(parts[0])
        if drug is None:
            self.fail(text, unknown_drug_message(parts[0]))
        if self.drugs is not None and drug not in self.drugs:
            self.fail(text, f"{drug} is not a drug this disease pack models; it gives {', '.join(self.drugs)}")
        if len(parts) == 1:
            self.fail(text, f"{drug} needs a dose: write {drug}:MG (e.g. {drug}:{DOSE_LIMITS[drug].label_mg:g})")
        mg = self.mg(parts[1], text)
        if len(parts) == 2:
            return sc.continuous(drug, mg, self.days)
        if len(parts) == 3:
            rule = re.fullmatch(r"at(\d{1,2})(-now)?", parts[2].lower())
            if rule is None or not 0 < int(rule.group(1)) < 100:
                self.fail(text, f"{parts[2]!r} is not an adaptive rule; valid: atNN or atNN-now, NN in 1..99 (at50)")
            base = sc.continuous(drug, mg, self.days)
            return threshold_rule(base, int(rule.group(1)), rule.group(2) or "", self.every)
        if len(parts) == 4:
            on, off = self.whole_days(parts[2], "ON", text), self.whole_days(parts[3], "OFF", text)
            try:
                return sc.intermittent(drug, mg, on, off, self.days)
            except ValueError as e:
                self.fail(text, str(e))
        self.fail(text, f"{len(parts)} ':'-separated fields is not a form this syntax has")

    def mg(self, text: str, part: str) -> float:
        try:
            value = float(text.lower().removesuffix("mg").strip())
        except ValueError:
            self.fail(part, f"the dose {text!r} is not a number of mg")
        if not (math.isfinite(value) and value > 0):
            self.fail(part, f"the dose {text!r} must be > 0 mg")
        return value

    def whole_days(self, text: str, what: str, part: str) -> int:
        try:
            return int(text)
        except ValueError:
            self.fail(part, f"{what} days {text!r} must be a whole number of days")


def threshold_rule(base, percent: int, suffix: str, decision_every: float):
    """``base`` under AT-``percent``: hold below (100 - percent)% of the baseline of ``suffix``
    (:data:`BASELINE_SUFFIX`), resume at 100%, deciding every ``decision_every`` days."""
    import scenarios as sc

    return sc.adaptive_threshold(
        base, 1.0 - percent / 100.0, 1.0, decision_every=decision_every, baseline=BASELINE_SUFFIX[suffix]
    )


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
