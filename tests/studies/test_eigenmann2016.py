"""Eigenmann et al. 2016 (Mol Cancer Ther 15(12): 3110-3119), erlotinib in the LXF A677 NSCLC
patient-derived xenograft (../shared/refdata/eigenmann2016_erlotinib_lxf_mouse): a hierarchical
PK -> tumour-growth-inhibition model calibrated across all dose groups (control, 6.25, 25 and
100 mg/kg daily, plus the sparse single-dose PK group) predicts held-out mice.

Model (time in days): one-compartment oral PK with first-order absorption (population ka, ke and
apparent volume V/F; the dose column in mg per mouse, the concentration column read as mg/L = ug/mL,
since 100 mg/kg gives values of a few units, far above ng/mL scale); tumour
ln V(t) = ln V0 + (lambda/beta)(1 - exp(-beta t)) - kappa AUC(t) (Gompertz-type decelerating
growth, kill proportional to concentration; AUC in closed form), with log-normal random effects on
V0 and lambda per mouse (non-centred; NUTS from the prior medians: a MAP start is degenerate for a
hierarchical model); proportional
(log-normal) error on both observables. Held out: the two highest-numbered mice of each tumour
group (8 mice); their 90% population predictive intervals (new random effects, residual error)
must cover their measured volumes at close to the nominal rate.
"""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest

import mechanistic as m
from inference import (
    Cohort,
    Observations,
    Parameter,
    ParameterSpec,
    Proportional,
    diagnose,
    nuts,
    population_model,
    to_inference_data,
)

FILES = ("control_growth", "low_erlotinib_dose", "medium_erlotinib_dose", "high_erlotinib_dose",
         "single_erlotinib_dose")  # fmt: skip
UNITS = {"volume": "cm^3", "concentration": "mg/L"}
SPEC = ParameterSpec(
    [
        Parameter("v0", "cm^3", dist.LogNormal(np.log(0.15), 1.0), level="individual"),
        Parameter("lam", "1/day", dist.LogNormal(np.log(0.1), 1.0), level="individual"),
        Parameter("beta", "1/day", dist.LogNormal(np.log(0.05), 1.0)),
        Parameter("kappa", "L/(mg day)", dist.LogNormal(np.log(0.05), 1.5)),
        # ka is not identifiable from these samples (free, its posterior runs into the prior's upper tail
        # with R-hat > 1.01): fixed at 48/day, an absorption half-life of ~20 min
        Parameter("ka", "1/day", value=48.0),
        Parameter("ke", "1/day", dist.LogNormal(np.log(5.0), 1.0)),  # t_1/2 ~ 3 h in mice
        Parameter("v", "L", dist.LogNormal(np.log(0.05), 1.0)),  # ~1-2 L/kg x 0.03 kg
        Parameter("sigma_volume", "1", dist.HalfNormal(0.5)),
        Parameter("sigma_pk", "1", dist.HalfNormal(0.5)),
    ]
)
ERRORS = {"volume": Proportional("sigma_volume"), "concentration": Proportional("sigma_pk")}


def concentration_and_auc(p, t, dose_time, dose_mg):
    """1-compartment oral concentration (mg/L) and its integral from 0 (mg day/L) at ``t`` (T,),
    by superposition over the padded doses (zero amounts are padding)."""
    tau = t[:, None] - dose_time[None, :]
    after = tau > 0
    tau = jnp.where(after, tau, 0.0)
    ka, ke, scale = p["ka"], p["ke"], dose_mg[None, :] / p["v"] * p["ka"] / (p["ka"] - p["ke"])
    c = jnp.where(after, scale * (jnp.exp(-ke * tau) - jnp.exp(-ka * tau)), 0.0).sum(axis=1)
    auc = jnp.where(after, scale * (-jnp.expm1(-ke * tau) / ke + jnp.expm1(-ka * tau) / ka), 0.0).sum(axis=1)
    return c, auc


def predict(p, t, doses):
    c, auc = concentration_and_auc(p, t, *doses)
    growth = p["lam"] / p["beta"] * -jnp.expm1(-p["beta"] * t)
    return {"volume": p["v0"] * jnp.exp(growth - p["kappa"] * auc), "concentration": c}


@pytest.fixture(scope="module")
def mice(refdata):
    folder = refdata / "eigenmann2016_erlotinib_lxf_mouse"
    out = []
    for group in FILES:
        d = pd.read_csv(folder / f"lxf_{group}.csv")
        for mouse, g in d.groupby("ID"):
            rows = [(float(t), "volume" if o == "Tumour volume" else "concentration", v)
                    for t, o, v in zip(g.Time, g.Observable, g.Value, strict=True)
                    if o in ("Tumour volume", "Plasma concentration") and np.isfinite(v)]  # fmt: skip
            doses = g[g.Dose.notna()] if "Dose" in g else pd.DataFrame({"Time": [], "Dose": []})  # control: none
            # two single-dose mice (12, 30) were sampled at the dose time itself, where the model's
            # concentration is 0: those samples are dropped
            rows = [r for r in rows if r[1] == "volume" or np.any(doses.Time.to_numpy() < r[0])]
            rows.sort(key=lambda r: (r[1], r[0]))
            if not rows:
                continue
            out.append((group, Observations.from_rows(f"{group}/{mouse}", rows, units=UNITS),
                        doses.Time.to_numpy(float), doses.Dose.to_numpy(float)))  # fmt: skip
    return out


def padded_doses(mice):
    width = max(len(d[2]) for d in mice)
    times, amounts = np.zeros((len(mice), width)), np.zeros((len(mice), width))
    for i, (_, _, t, a) in enumerate(mice):
        times[i, : len(t)], amounts[i, : len(a)] = t, a
    return jnp.asarray(times), jnp.asarray(amounts)


def test_closed_form_pk_matches_the_library():
    p = {"ka": 20.0, "ke": 5.0, "v": 0.05}
    t = jnp.linspace(0.0, 6.0, 6001)
    doses = (jnp.array([0.0, 1.0, 2.0, 4.0]), jnp.array([0.7, 0.7, 0.7, 0.0]))
    c, auc = concentration_and_auc(p, t, *doses)
    table = m.concat([m.dose(float(d), "erlotinib", 0.7) for d in (0.0, 1.0, 2.0)])
    ref = m.OneCompartment(k=5.0, v=0.05, ka=20.0).concentration(m.pk.DoseRows.of(table, table.drug == 0), t)
    assert np.allclose(c, ref, rtol=1e-10, atol=1e-12)
    trapezoid = np.concatenate([[0.0], np.cumsum(np.diff(t) * (c[1:] + c[:-1]) / 2)])
    assert np.allclose(auc, trapezoid, rtol=1e-4, atol=1e-5)
    assert float(auc[-1]) == pytest.approx(3 * 0.7 / (0.05 * 5.0), rel=1e-6)  # total dose / clearance


@pytest.mark.slow
def test_hierarchical_pk_tgi_predicts_held_out_mice(mice):
    held_out = []
    for group in FILES[:4]:
        ids = sorted((obs.patient for g, obs, *_ in mice if g == group), key=lambda s: int(s.split("/")[1]))
        held_out += ids[-2:]
    train = [x for x in mice if x[1].patient not in held_out]
    test = [x for x in mice if x[1].patient in held_out]
    cohort = Cohort.from_observations([x[1] for x in train])
    model = population_model(predict, SPEC, cohort, ERRORS, inputs=padded_doses(train))
    key = jax.random.key(2016)
    # warm-up 1000 at target acceptance 0.95: with 500 at 0.9, omega_lam's R-hat was 1.011 with one
    # divergence for this key (the CI machine and this one alike); 1000 / 0.95 gave R-hat <= 1.007 and no
    # divergences for keys 2016, 1, 2
    mcmc = nuts(model, key, chains=4, warmup=1000, samples=1000, target_accept=0.95)
    diag = diagnose(to_inference_data(mcmc, SPEC.units), min_ess=200, warn=False)
    assert diag.ok, diag.problems
    s = {k: np.asarray(v) for k, v in mcmc.get_samples().items()}

    rng = np.random.default_rng(0)
    inside, total, widths = 0, 0, []
    for _, obs, dose_t, dose_a in test:
        rows = np.asarray(obs.observable) == "volume"
        t, y = obs.time[rows], obs.value[rows]
        draws = len(s["kappa"])
        p = {k: s[k] for k in ("beta", "kappa", "ke", "v")} | {"ka": np.full(len(s["v"]), 48.0)}
        for name in ("v0", "lam"):  # a new mouse: new random effects around the typical values
            p[name] = s[name] * np.exp(s[f"omega_{name}"] * rng.normal(size=draws))
        doses = (jnp.asarray(dose_t), jnp.asarray(dose_a))
        pred = jax.vmap(predict, in_axes=(0, None, None))(p, jnp.asarray(t), doses)["volume"]
        sim = np.asarray(pred) * np.exp(s["sigma_volume"][:, None] * rng.normal(size=pred.shape))
        lo, hi = np.quantile(sim, [0.05, 0.95], axis=0)
        inside += int(np.sum((y >= lo) & (y <= hi)))
        total += len(y)
        widths.append(np.median(hi / lo))
    coverage = inside / total
    print(
        f"90% predictive interval coverage of {total} held-out volumes: {coverage:.1%}; "
        f"median interval width (hi/lo) {np.median(widths):.1f}x; kappa median {np.median(s['kappa']):.3g} L/(mg day)"
    )
    assert 0.80 <= coverage <= 0.98  # nominal 90%; binomial sd at ~100 points is ~3 points
