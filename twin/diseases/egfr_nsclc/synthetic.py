"""Synthetic patients drawn from a twin model's prior: records with known true parameters, for
checking that a calibration recovers what generated the data (``benchmarks/nuts_replicates.py``,
the slow test of the default calibration).

A synthetic patient takes ``drug`` at ``mg`` daily from day 0, has CT scans (longest diameter, mm)
at ``scans`` and ctDNA (resistant share of the tumour) at ``ctdna`` (days; the first scan is the
model's time origin), with measurement noise from the model's own error models: a diameter rounded
to 0.1 mm (at least 1 mm), a ctDNA share clipped to [``ctdna_limit``, 1] and reported below
detection under the limit. Defaults: the shipped example's schedule
(:mod:`twin.diseases.egfr_nsclc.examples.generate_example`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twin.diseases.egfr_nsclc.examples.generate_example import CTDNA, CTDNA_LIMIT, SCANS
from twin.record import Dose, Observation, PatientRecord, VariantCall

__all__ = ["CALLS", "CTDNA", "CTDNA_LIMIT", "SCANS", "synthetic_patient"]

CALLS = (VariantCall("EGFR", "L858R", 0.42), VariantCall("EGFR", "T790M", 0.001))


def synthetic_patient(
    model, key, patient_id: str, *, drug: str = "erlotinib", mg: float = 150.0, scans: Sequence[float] = SCANS,
    ctdna: Sequence[float] = CTDNA, ctdna_limit: float = CTDNA_LIMIT, calls: Sequence[VariantCall] = CALLS,
) -> tuple[PatientRecord, dict[str, float]]:  # fmt: skip
    """``(record, truth)``: a record simulated from ``model`` (a ``twin.diseases.egfr_nsclc.model.TwinModel``) with its
    free parameters drawn from their priors with the PRNG ``key``; ``truth`` ``{name: value}``."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(key, len(model.priors) + 2)
    truth = {name: float(p.distribution().sample(k)) for (name, p), k in zip(model.priors.items(), keys, strict=False)}
    t0, last = min(scans), max(scans)
    doses = [Dose(float(t), drug, float(mg)) for t in range(int(last))]
    times = np.asarray(sorted({*scans, *ctdna}))
    params = {k: jnp.asarray(v) for k, v in {**truth, **model.fixed}.items()}
    table = PatientRecord(patient_id, doses=doses).to_dose_table()
    pred = model.predict(table, t0=t0)(params, jnp.asarray(times))
    errors = model.errors(("diameter", "resistant_fraction"))
    noisy = {name: np.asarray(errors[name].sample(k, params, pred[name]))
             for name, k in zip(errors, keys[-2:], strict=True)}  # fmt: skip
    obs = []
    for j, t in enumerate(times):
        if t in scans:
            obs.append(Observation(float(t), "diameter", round(max(float(noisy["diameter"][j]), 1.0), 1), "mm"))
        if t in ctdna:
            f = float(noisy["resistant_fraction"][j])
            status = "below_detection" if f < ctdna_limit else "measured"
            obs.append(Observation(float(t), "resistant_fraction", max(min(f, 1.0), ctdna_limit), "1", status))
    return PatientRecord(patient_id, obs, doses, {}, list(calls)), truth
