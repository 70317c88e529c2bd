"""The flagship's standard regimens and a one-line regimen syntax for the command line.

Standard regimens (first-line EGFR TKIs; doses from the product labels):

- ``continuous``: erlotinib 150 mg daily;
- ``pulsed``: erlotinib 1200 mg on days 1-2 + 50 mg on days 3-7, weekly (Yu et al., Ann Oncol 2017);
- ``at50``: erlotinib 150 mg daily under adaptive therapy AT50: hold below 50% of the burden at
  the decision day, resume at 100% (Zhang et al., Nat Commun 2017), scans every 8 weeks;
- ``switch``: erlotinib 150 mg daily, then osimertinib 80 mg daily from the first progression
  (+20% over nadir at an 8-weekly scan; AURA3, Mok et al., NEJM 2017);
- ``osimertinib``: osimertinib 80 mg daily (FLAURA, Soria et al., NEJM 2018).

:func:`parse_regimen` reads those names or ``DRUG:MG`` (daily), ``DRUG:MG:ON:OFF`` (intermittent
ON days on, OFF days off), ``DRUG:MG:at50`` (adaptive AT50) and ``DRUG:MG>DRUG2:MG2`` (switch at
progression).
"""

from __future__ import annotations

SCAN_EVERY = 56  # day: 8-weekly scans decide adaptive regimens and switches
STANDARD = ("continuous", "pulsed", "at50", "switch", "osimertinib")
SYNTAX = (
    f"a standard name ({', '.join(STANDARD)}), DRUG:MG (daily), DRUG:MG:ON:OFF (intermittent), "
    "DRUG:MG:at50 (adaptive AT50) or DRUG:MG>DRUG2:MG2 (switch at progression), e.g. erlotinib:100"
)


def standard_regimens(days: int, names=STANDARD) -> list:
    """The named standard regimens over ``days`` days (see the module docstring)."""
    return [parse_regimen(name, days) for name in names]


def parse_regimen(text: str, days: int):
    """A ``scenarios.Regimen`` from a standard name or the one-line syntax (module docstring)."""
    import scenarios as sc

    text = str(text).strip()
    erlotinib = sc.continuous("erlotinib", 150.0, days)
    standard = {
        "continuous": lambda: erlotinib,
        "pulsed": lambda: sc.pulsed("erlotinib", 1200.0, 2, 50.0, 7, days),
        "at50": lambda: sc.adaptive_threshold(erlotinib, 0.5, 1.0, decision_every=SCAN_EVERY),
        "switch": lambda: sc.switch_on_progression(
            erlotinib, sc.continuous("osimertinib", 80.0, days), decision_every=SCAN_EVERY
        ),
        "osimertinib": lambda: sc.continuous("osimertinib", 80.0, days),
    }
    if text in standard:
        return standard[text]()
    if ">" in text:
        first, _, second = text.partition(">")
        a, b = parse_regimen(first, days), parse_regimen(second, days)
        if a.adaptive or b.adaptive:
            raise ValueError(f"regimen {text!r}: a switch joins two fixed regimens; valid: {SYNTAX}")
        return sc.switch_on_progression(a, b, decision_every=SCAN_EVERY)
    parts = text.split(":")
    try:
        if len(parts) == 2:
            return sc.continuous(parts[0], _mg(parts[1]), days)
        if len(parts) == 3 and parts[2].lower() == "at50":
            return sc.adaptive_threshold(
                sc.continuous(parts[0], _mg(parts[1]), days), 0.5, 1.0, decision_every=SCAN_EVERY
            )
        if len(parts) == 4:
            return sc.intermittent(parts[0], _mg(parts[1]), int(parts[2]), int(parts[3]), days)
    except ValueError as e:
        raise ValueError(f"regimen {text!r}: {e}; valid: {SYNTAX}") from None
    raise ValueError(f"regimen {text!r} is not understood; give {SYNTAX}")


def _mg(text: str) -> float:
    value = float(text.removesuffix("mg").strip())
    if not value > 0:
        raise ValueError(f"amount {text!r} must be > 0 mg")
    return value
