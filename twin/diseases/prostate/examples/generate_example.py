"""Regenerate the prostate pack's example patient, synthetic from the pack's own model.

Run ``python -m twin.diseases.prostate.examples.generate_example``.

Patient PC-001: mCRPC, abiraterone acetate 1,000 mg daily from day 0; PSA (ng/mL) at day -7 (the
pre-treatment value), then every 4 weeks: days 21, 49, 77, 105 and 133 (the decision day). The next
check (day 161) and the abiraterone given until then go to a separate file for ``twin update``.
The true parameters (:data:`TRUTH`) are the model's, so a calibration can be checked against them;
measurement noise: PSA log-normal with SD ``sd_psa``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
PATIENT = "PC-001"
TRUTH = {
    "psa0": 24.0,  # ng/mL before abiraterone
    "relative_burden0": 0.6,  # PSA relative to the untreated equilibrium (Strobl's n0 = 0.6 x 0.7 = 0.42)
    "resistant_fraction0": 0.01,
    "resistant_growth": 0.2,  # 1 - cost - turnover: Strobl's cost 0.5 and turnover 0.3
    "turnover_share": 0.375,  # turnover / (cost + turnover)
    "sd_psa": 0.1,
}
CHECKS = (-7.0, 21.0, 49.0, 77.0, 105.0, 133.0)
NEXT_CHECK = 161.0


def main(seed: int = 20261205) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from twin.diseases.prostate.model import ProstateModel
    from twin.io import write_long_csv
    from twin.record import Dose, Observation, PatientRecord

    model = ProstateModel()
    doses = [Dose(float(t), "abiraterone", 1000.0) for t in range(int(NEXT_CHECK))]
    times = np.asarray([*CHECKS, NEXT_CHECK])
    dose_table = PatientRecord(PATIENT, doses=doses).to_dose_table()
    params = {k: jnp.asarray(v) for k, v in {**TRUTH, **model.fixed}.items()}
    pred = np.asarray(model.predict(dose_table, t0=CHECKS[0])(params, jnp.asarray(times))["psa"])
    rng = np.random.default_rng(seed)
    obs = [
        Observation(float(t), "psa", round(float(p * np.exp(TRUTH["sd_psa"] * rng.normal())), 2), "ng/mL")
        for t, p in zip(times, pred, strict=True)
    ]
    decision = CHECKS[-1]
    record = PatientRecord(PATIENT, [o for o in obs if o.time <= decision], [d for d in doses if d.time < decision])
    write_long_csv(HERE / "prostate_patient.csv", record)
    later = PatientRecord(PATIENT, [o for o in obs if o.time > decision], [d for d in doses if d.time >= decision])
    write_long_csv(HERE / "prostate_next_psa.csv", later)
    print("truth:", TRUTH)
    print("noise-free PSA (ng/mL):", dict(zip(times.tolist(), np.round(pred, 2).tolist(), strict=True)))


if __name__ == "__main__":
    main()
