"""The prostate pack: metastatic castration-resistant prostate cancer under abiraterone, followed
by PSA (:class:`~twin.diseases.prostate.model.ProstateModel`, the Strobl et al. 2021 model with the
Bruchovsky population as prior), the adaptive-therapy regimens of Zhang et al. 2017
(:mod:`~twin.diseases.prostate.regimens`), PCWG3 PSA progression on the record and in forecasts,
and a synthetic example patient (:mod:`~twin.diseases.prostate.example`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.diseases.pack import DiseasePack, RecordResponse
from twin.diseases.prostate.regimens import CHECK_EVERY

ON_TREATMENT_SHARE = 0.9
"""An interval between two PSA checks counts as on treatment when abiraterone was taken on at least
this share of its days (missed doses happen)."""


@dataclass(frozen=True)
class Prostate(DiseasePack):
    """mCRPC under abiraterone, adaptive therapy and PSA."""

    name: str = "prostate"
    version: str = "2"  # 2: priors of resistant_growth / turnover_share and sd_psa (benchmarks/README.md)
    title: str = "metastatic castration-resistant prostate cancer under abiraterone"
    fit_observables: tuple[str, ...] = ("psa",)
    primary: str = "time_to_psa_progression"
    scan_every: int = CHECK_EVERY  # day: 4-weekly PSA checks decide adaptive regimens
    response_criteria: str = "PCWG3 (PSA)"
    target_accept: float = 0.99  # 17 of 20 synthetic patients pass at 0.99 (benchmarks/README.md)

    def model_for(self, record):
        from twin.diseases.prostate.model import ProstateModel

        return ProstateModel()

    def model_from_json(self, text: str):
        from twin.diseases.prostate.model import ProstateModel

        return ProstateModel.from_json(text)

    def standard_regimens(self, days: int) -> list:
        from twin.diseases.prostate.regimens import standard_regimens

        return standard_regimens(days)

    def parse_regimen(self, text: str, days: int, *, allow_above_limit: bool = False):
        from twin.diseases.prostate.regimens import parse_regimen

        return parse_regimen(text, days, allow_above_limit=allow_above_limit)

    def record_response(self, record) -> RecordResponse:
        """PCWG3 PSA progression of the record (``scenarios.psa_progression``): a rise of >= 25% and
        >= 2 ng/mL over the nadir on treatment, confirmed at the next check, not before 12 weeks of
        treatment. Baseline: the last PSA on or before the first dose."""
        from scenarios.endpoints import psa_progression

        rows = sorted(
            (o.time, o.value) for o in record.observations if o.observable == "psa" and o.status != "not_evaluable"
        )
        frame = pd.DataFrame(rows, columns=["time", "psa"])
        dose_days = np.unique(np.floor([d.time for d in record.doses if d.amount > 0]))
        if not len(dose_days):
            frame["category"] = ""
            return RecordResponse(frame, None, False, "no abiraterone in the record: no PSA response to assess",
                                  float(frame.psa.iloc[-1]) if len(frame) else None)  # fmt: skip
        first = dose_days[0]
        frame = frame[frame.time >= frame.time[frame.time <= first].max()] if (frame.time <= first).any() else frame
        frame = frame.reset_index(drop=True)
        if len(frame) < 3:
            frame["category"] = ""
            return RecordResponse(frame, None, False, "fewer than three PSA values on treatment: no PCWG3 assessment",
                                  float(frame.psa.iloc[-1]) if len(frame) else None)  # fmt: skip
        t = frame.time.to_numpy(float)
        on = [False] + [
            np.sum((dose_days >= a) & (dose_days < b)) >= ON_TREATMENT_SHARE * (b - a)
            for a, b in zip(t[:-1], t[1:], strict=True)
        ]
        event = psa_progression(t - first, frame.psa.to_numpy(float), np.asarray(on))
        frame["category"] = ["baseline"] + ["on treatment" if x else "off treatment" for x in on[1:]]
        last = float(frame.psa.iloc[-1])
        if bool(event.observed):
            day = float(event.time) + first
            frame.loc[frame.time == day, "category"] = "PSA progression"
            now = day >= t[-2]  # the rise at the second-to-last check, confirmed by the last
            text = (f"the record meets PCWG3 PSA progression (confirmed) at day {day:g}; the last PSA is "
                    f"{last:.3g} ng/mL")  # fmt: skip
            return RecordResponse(frame, day, now, text, last)
        nadir = float(frame.psa.min())
        return RecordResponse(
            frame, None, False, f"no PCWG3 PSA progression in the record (nadir {nadir:.3g} ng/mL, last {last:.3g})",
            last,
        )  # fmt: skip

    def model_notes(self, model) -> list[str]:
        return [
            "Model: two cell populations (androgen-sensitive, castration-resistant) in Lotka-Volterra competition "
            "(Strobl et al. Cancer Res 2021), PSA proportional to the tumour burden; abiraterone inhibits the "
            "sensitive cells' growth in proportion to the daily dose relative to 1,000 mg.",
            "Priors: the cells' parameters from Strobl's fits to 67 patients of an intermittent androgen-suppression "
            "trial (Bruchovsky et al. 2006; cyproterone + leuprolide in hormone-sensitive, biochemically recurrent "
            "disease): a different setting from abiraterone in mCRPC, assumed to carry over.",
            "Ranking: the restricted mean time to PCWG3 PSA progression (a confirmed rise of >= 25% and >= 2 ng/mL "
            "over the nadir while on treatment, checks every 4 weeks), censored at the horizon; rises during an "
            "adaptive or scheduled holiday are the schedule, not progression. Radiographic progression is not "
            "modelled; '+20% over pre-treatment' (Strobl's own failure criterion: the burden, here PSA, 20% above "
            "its value at the first dose) is shown alongside.",
            "Calibration of absolute times: on virtual patients from this prior (twin.diseases.prostate."
            "virtual_trial) half progress within about 7 years on continuous abiraterone, several-fold slower than "
            "in the adaptive-therapy trial's control arm (median 14.3 months; Zhang et al. eLife 2022): read the "
            "times as a comparison of regimens for this patient, not as calibrated predictions.",
        ]

    def example_files(self) -> dict:
        from twin.diseases.prostate.example import example_files

        return example_files()

    def example_patient(self, part: str = "record"):
        from twin.diseases.prostate.example import example_patient

        return example_patient(part)
