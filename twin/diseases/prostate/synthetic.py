"""Synthetic prostate patients from the pack's own prior (calibration checks: coverage over
replicates, ``benchmarks/nuts_replicates.py --disease prostate``)."""

from __future__ import annotations

import numpy as np

CHECKS = (-7.0, 21.0, 49.0, 77.0, 105.0, 133.0)
"""PSA days of a synthetic patient: before abiraterone (day 0), then every 4 weeks (6 values)."""


def synthetic_patient(key, patient_id: str = "SYN", checks=CHECKS):
    """``(record, truth)``: parameters drawn from the pack's priors (``truth``, the free ones), PSA at
    ``checks`` under abiraterone 1,000 mg daily from day 0 with log-normal noise ``sd_psa``."""
    import jax
    import jax.numpy as jnp

    from twin.diseases.prostate.model import ProstateModel
    from twin.record import Dose, Observation, PatientRecord

    model = ProstateModel()
    k_params, k_noise = jax.random.split(key)
    truth = {name: float(v) for name, v in model.sample_priors(k_params).items()}
    doses = [Dose(float(t), "abiraterone", 1000.0) for t in range(int(max(checks)))]
    table = PatientRecord(patient_id, doses=doses).to_dose_table()
    params = {k: jnp.asarray(v) for k, v in {**truth, **model.fixed}.items()}
    psa = np.asarray(model.predict(table, t0=checks[0])(params, jnp.asarray(checks))["psa"])
    noise = np.exp(truth["sd_psa"] * np.asarray(jax.random.normal(k_noise, (len(checks),))))
    obs = [Observation(float(t), "psa", float(v), "ng/mL") for t, v in zip(checks, psa * noise, strict=True)]
    return PatientRecord(patient_id, obs, doses), truth
