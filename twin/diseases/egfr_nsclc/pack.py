"""The EGFR-mutant NSCLC pack (the default): the flagship model personalised by the tumour's
mutations (:class:`~twin.diseases.egfr_nsclc.model.TwinModel`), the EGFR TKI regimens
(:mod:`~twin.diseases.egfr_nsclc.regimens`) with their label doses (:mod:`twin.dose_limits`),
RECIST 1.1 on the record's diameters, the EGFR drug panel screened on the twin's clones and the
shipped example patient EX-001 (:mod:`~twin.diseases.egfr_nsclc.example`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.diseases.egfr_nsclc.regimens import SCAN_EVERY
from twin.diseases.pack import DiseasePack, RecordResponse, sphere_volume

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
        from twin.diseases.egfr_nsclc.model import TwinModel

        model = TwinModel.from_mutations(record.mutations)
        return model.with_drugs(d for d in record.drugs if d in EGFR_DRUG_PK)

    def model_from_json(self, text: str):
        from twin.diseases.egfr_nsclc.model import TwinModel

        return TwinModel.from_json(text)

    def standard_regimens(self, days: int) -> list:
        from twin.diseases.egfr_nsclc.regimens import standard_regimens

        return standard_regimens(days)

    def parse_regimen(self, text: str, days: int, *, allow_above_limit: bool = False):
        from twin.diseases.egfr_nsclc.regimens import parse_regimen

        return parse_regimen(text, days, allow_above_limit=allow_above_limit)

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

    def model_notes(self, model) -> list[str]:
        """The clones and drug responses from the mutations, osimertinib's borrowed potency, the
        ranking endpoint, the bypass clone and what the model leaves out."""
        notes = [
            "Clones and drug responses come from the tumour's mutations through the EGFR network: "
            + "; ".join(model.describe())
            + ".",
            "Osimertinib's potency is the drug table's cellular IC50 scaled by erlotinib's plasma-to-cell factor, and "
            "its maximal kill equals erlotinib's: neither is informed by this patient's data.",
            "Ranking: the restricted mean time until the tumour volume doubles from the decision day (+26% in "
            "diameter), censored at the horizon; RECIST progression on 8-weekly scans (PD: +20% and +5 mm over the "
            "nadir) is shown alongside.",
        ]
        if model.has_bypass:
            notes.append(
                f"Every twin carries a '{model.clones[-1]}' clone: EGFR-independent resistance (MET amplification,"
                " other bypass tracks, unknown mechanisms) present below detection at the first scan, at the share "
                f"{model.fixed['bypass_fraction0']:.2g} fitted to FLAURA's published results "
                "(twin.studies.flaura2018); no drug is assumed to act on it, so every regimen can fail."
            )
        return notes + [f"Not modelled: {x}" for x in model.ignored]

    def screen(self, twin, *, pairs: bool = True):
        """Every EGFR-panel drug (and pair) on the twin's clones' networks
        (:func:`~twin.diseases.egfr_nsclc.screen.screen_twin`)."""
        from twin.diseases.egfr_nsclc.screen import screen_twin

        return screen_twin(twin, pairs=pairs)

    def example_files(self) -> dict:
        from twin.diseases.egfr_nsclc.example import example_files

        return example_files()

    def example_patient(self, part: str = "record"):
        from twin.diseases.egfr_nsclc.example import example_patient

        return example_patient(part)
