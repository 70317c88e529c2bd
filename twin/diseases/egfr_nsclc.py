"""The EGFR-mutant NSCLC pack (the default): the flagship model personalised by the tumour's
mutations (:class:`twin.flagship.TwinModel`), the EGFR TKI regimens (:mod:`twin.regimens`) with
their label doses (:mod:`twin.dose_limits`), RECIST 1.1 on the record's diameters and the
shipped example patient EX-001 (:mod:`twin.examples_data`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.diseases.pack import DiseasePack, RecordResponse, sphere_volume
from twin.regimens import SCAN_EVERY

TOO_SMALL_MM = 5.0
"""Diameter (mm) RECIST 1.1 assigns a lesion reported as below detection ("too small to measure")."""
CAPACITY_WARNING = 0.8
"""A scan above this share of the diameter of the model's carrying capacity is reported: the
forecasts are then shaped by that limit."""


@dataclass(frozen=True)
class EgfrNsclc(DiseasePack):
    """EGFR-mutant non-small-cell lung cancer under EGFR tyrosine-kinase inhibitors."""

    name: str = "egfr_nsclc"
    version: str = "1"
    title: str = "EGFR-mutant non-small-cell lung cancer"
    fit_observables: tuple[str, ...] = ("diameter", "resistant_fraction")
    primary: str = "time_to_2x_baseline"  # volume doubling from the decision day: measures a switch's second line too
    scan_every: int = SCAN_EVERY  # day: 8-weekly scans decide adaptive regimens and switches
    response_criteria: str = "RECIST 1.1"

    def model_for(self, record):
        """The flagship model with the clones of ``record``'s mutations and the drugs (with PK) it was given."""
        from mechanistic.egfr_network import EGFR_DRUG_PK
        from twin.flagship import TwinModel

        model = TwinModel.from_mutations(record.mutations)
        return model.with_drugs(d for d in record.drugs if d in EGFR_DRUG_PK)

    def model_from_json(self, text: str):
        from twin.flagship import TwinModel

        return TwinModel.from_json(text)

    def standard_regimens(self, days: int) -> list:
        from twin.regimens import standard_regimens

        return standard_regimens(days)

    def parse_regimen(self, text: str, days: int, *, allow_above_limit: bool = False):
        from twin.regimens import parse_regimen

        return parse_regimen(text, days, allow_above_limit=allow_above_limit)

    def label_daily_mg(self, drugs) -> dict[str, float]:
        from twin.dose_limits import DOSE_LIMITS

        return {d: DOSE_LIMITS[d].label_per_day_mg for d in drugs if d in DOSE_LIMITS}

    def above_label(self, regimen) -> list[str]:
        from twin.regimens import above_label

        return above_label(regimen)

    def record_response(self, record) -> RecordResponse:
        """RECIST 1.1 of the record's diameters: baseline the first, PD +20% and +5 mm over the
        nadir; a lesion below detection counts as :data:`TOO_SMALL_MM`."""
        from scenarios.endpoints import RESPONSE_NAMES, recist

        scans = sorted(
            (o.time, TOO_SMALL_MM if o.status == "below_detection" else o.value)
            for o in record.observations
            if o.observable == "diameter" and o.status != "not_evaluable"
        )
        frame = pd.DataFrame(scans, columns=["time", "diameter"])
        if len(frame) < 2:
            frame["category"] = "NE"
            return RecordResponse(frame, None, False, "fewer than two diameter scans: no RECIST assessment")
        codes = np.asarray(recist(np.asarray(frame.diameter, dtype=float)))
        frame["category"] = [RESPONSE_NAMES[c] for c in codes]
        pd_days = frame.time[frame.category == "PD"]
        first = float(pd_days.iloc[0]) if len(pd_days) else None
        now = bool(frame.category.iloc[-1] == "PD")
        last = float(frame.diameter.iloc[-1])
        if now:
            nadir = frame.diameter.iloc[:-1].min()
            text = (
                f"the record meets RECIST progression at day {frame.time.iloc[-1]:g}: {last:.3g} mm is "
                f"{100 * (last / nadir - 1):+.0f}% and {last - nadir:+.3g} mm over the nadir {nadir:.3g} mm"
            )
        elif first is not None:
            text = f"the record met RECIST progression at day {first:g}; the last scan is {frame.category.iloc[-1]}"
        else:
            text = f"no RECIST progression in the record; the last scan is {frame.category.iloc[-1]}"
        return RecordResponse(frame, first, now, text, sphere_volume(last))

    def model_problems(self, record, posterior, model) -> list[str]:
        """A diameter scan above :data:`CAPACITY_WARNING` of the diameter of the carrying capacity
        (its 5th posterior percentile where it is free)."""
        diameters = [o.value for o in record.observations if o.observable == "diameter" and o.status == "measured"]
        if "capacity" in posterior:
            capacity, which = float(np.quantile(posterior["capacity"].values, 0.05)), "5th posterior percentile of the "
        else:  # fixed in models saved before it had a prior
            capacity, which = model.fixed.get("capacity"), ""
        if capacity is None or not diameters:
            return []
        cap_mm = (6.0 * capacity / np.pi) ** (1 / 3)
        if max(diameters) <= CAPACITY_WARNING * cap_mm:
            return []
        return [
            f"the largest scan ({max(diameters):.3g} mm) is {max(diameters) / cap_mm:.0%} of the diameter of the "
            f"{which}model's carrying capacity ({capacity:.3g} mm^3, {cap_mm:.3g} mm): its forecasts are shaped by "
            "that limit"
        ]

    def example_patient(self, part: str = "record"):
        from twin.examples_data import example_patient

        return example_patient(part)
