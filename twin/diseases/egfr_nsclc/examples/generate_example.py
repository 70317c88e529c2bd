"""Regenerate the shipped example patient, synthetic from the twin's own model.

Run ``python -m twin.diseases.egfr_nsclc.examples.generate_example``.

Patient EX-001: EGFR L858R NSCLC (tissue VAF 42%) with a T790M subclone at VAF 0.1% and a TP53
mutation (not modelled); erlotinib 150 mg daily from day 0; CT scans (longest diameter of the
target lesion, mm) at day -10 (baseline), 42, 98 and 154 (a response; the decision day); ctDNA
T790M share of the tumour at day -10 (below the assay's 0.5% limit) and 154 (rising).
The true parameters (below) are the model's, so a calibration can be checked against them.
The next scan (day 210, with a ctDNA sample) and the erlotinib given until then go to a separate
file for ``twin update``.
Measurement noise: diameters Normal(sd sqrt(1.5^2 + (0.05 d)^2)) mm, ctDNA log-normal sd 0.3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
PATIENT = "EX-001"
TRUTH = {
    "volume0": 3.5e4,  # mm^3: a 40.6 mm lesion
    "resistant_fraction0": 0.001,
    "growth_rate": 0.01,  # 1/day
    "max_kill": 0.04,  # 1/day
    "sd_add": 1.5,  # mm
    # mm^3 (a 73 mm sphere): the value the model fixed when the example was made; the capacity now has
    # a prior (twin.diseases.egfr_nsclc.model.DEFAULT_PRIORS) with this value below its 5th percentile
    "capacity": 2.0e5,
    "cv": 0.05,
    "sd_ctdna": 0.3,
}
SCANS = (-10.0, 42.0, 98.0, 154.0)
CTDNA = (-10.0, 154.0)
CTDNA_LIMIT = 0.005  # below it the assay reports "TOO SMALL TO MEASURE"
NEXT_SCAN = 210.0
LAST_DOSE = 209  # erlotinib daily through the day before the next scan


def main(seed: int = 20261123) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from twin.diseases.egfr_nsclc.model import TwinModel
    from twin.io import write_long_csv, write_mutations
    from twin.record import Dose, Observation, PatientRecord, VariantCall

    calls = [
        VariantCall("EGFR", "L858R", 0.42),
        VariantCall("EGFR", "T790M", 0.001),
        VariantCall("TP53", "R273H", 0.39),
    ]
    model = TwinModel.from_mutations(calls)
    doses = [Dose(float(t), "erlotinib", 150.0) for t in range(LAST_DOSE + 1)]
    times = np.asarray(sorted({*SCANS, *CTDNA, NEXT_SCAN}))
    dose_table = PatientRecord(PATIENT, doses=doses).to_dose_table()
    params = {k: jnp.asarray(v) for k, v in {**TRUTH, **model.fixed}.items()}
    pred = model.predict(dose_table, t0=SCANS[0])(params, jnp.asarray(times))
    rng = np.random.default_rng(seed)
    obs = []
    for i, t in enumerate(times):
        if t in SCANS or t == NEXT_SCAN:
            d = float(pred["diameter"][i])
            sd = np.hypot(TRUTH["sd_add"], TRUTH["cv"] * d)
            obs.append(Observation(float(t), "diameter", round(d + sd * rng.normal(), 1), "mm"))
        if t in CTDNA or t == NEXT_SCAN:
            f = float(pred["resistant_fraction"][i]) * np.exp(TRUTH["sd_ctdna"] * rng.normal())
            if f < CTDNA_LIMIT:
                obs.append(Observation(float(t), "resistant_fraction", CTDNA_LIMIT, "1", "below_detection"))
            else:
                obs.append(Observation(float(t), "resistant_fraction", round(min(f, 1.0), 4), "1"))
    past = [o for o in obs if o.time < NEXT_SCAN]
    decision = max(o.time for o in past)
    given = [d for d in doses if d.time < decision]
    record = PatientRecord(PATIENT, past, given, {"body_weight": (68.0, "kg")}, calls)
    write_long_csv(HERE / "egfr_patient.csv", record)
    write_mutations(HERE / "egfr_mutations.csv", record)
    since = [d for d in doses if decision <= d.time < NEXT_SCAN]  # erlotinib continued to the next scan
    write_long_csv(HERE / "egfr_next_scan.csv", PatientRecord(PATIENT, [o for o in obs if o.time == NEXT_SCAN], since))
    for o in obs:
        print(f"day {o.time:6.0f} {o.observable:20s} {o.value}")


if __name__ == "__main__":
    main()
