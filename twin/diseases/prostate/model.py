"""The prostate pack's model: the Strobl et al. 2021 two-population Lotka-Volterra model followed
by PSA, under abiraterone.

Dynamics (:func:`mechanistic.catalogue.strobl2021`; Strobl MAR et al. Cancer Res 2021;81:1135)::

    dS/dt = r (1 - (S + R)/K)(1 - dD D(t)) S - turnover r S
    dR/dt = r (1 - cost)(1 - (S + R)/K) R - turnover r R

``S`` (androgen-sensitive) and ``R`` (resistant) cells are measured by the PSA they account for
(ng/mL): PSA is proportional to the tumour burden, as in Strobl's fits, so ``PSA = S + R``. ``K`` is
the PSA at the carrying capacity. Untreated, the burden settles at ``K (1 - turnover)``; the patient
starts abiraterone because the disease is growing, so the burden at the first observation (day
:attr:`DigitalTwin.t0`), ``psa0``, is below that equilibrium: ``psa0 = relative_burden0 K (1 -
turnover)`` with ``relative_burden0`` in (0, 1) (Strobl's ``n0 = relative_burden0 (1 - turnover)``).
``resistant_fraction0`` is Strobl's ``fR``. ``D`` is abiraterone's exposure: the daily dose over 1,000
mg (the label dose), held for the day (:class:`mechanistic.DailyExposure`; abiraterone's half-life
is about 15 h, so a dose acts within its day: on/off as in Zhang et al. 2017 and Strobl 2021; a
reduced dose acts in proportion, an assumption of this pack: 250 mg with food is known to match
1,000 mg fasting, so the fraction is of the fasting label dose).

Parametrisation: Strobl's ``cost`` and ``turnover`` enter through ``resistant_growth`` ``g = 1 -
cost - turnover`` (the resistant cells' net growth rate at low density over ``r``) and
``turnover_share`` ``s = turnover / (cost + turnover)`` (:func:`cost_and_turnover`: ``cost = (1 - g)(1
- s)``, ``turnover = (1 - g) s``). Resistant cells therefore grow when alone (``g > 0``), and the two
free parameters are nearly independent in the fits (logit correlation 0.26, against -0.71 for cost and
turnover, which the PSA series pin down mainly through ``g``). With independent priors on cost and
turnover, 40% of the prior mass had resistant cells that shrink (``cost + turnover > 1``), where a few
PSA values cannot tell them from slowly dying sensitive cells: NUTS diverged there (the replicates of
``benchmarks/nuts_replicates.py --disease prostate``).

Priors (:data:`PRIORS`): ``resistant_fraction0``, ``resistant_growth`` and ``turnover_share`` are the
empirical population of Strobl's 4-parameter fits to the 67 patients of the Bruchovsky et al. 2006
intermittent-androgen-suppression trial (``shared/refdata/strobl2021_at_lv/bruchovsky_fits``;
:func:`twin.studies.strobl2021_fits.empirical_population`: normal on the logit scale, moments of
the fits; a test checks these numbers against the file): fR over the 67 fits, ``g`` and ``s`` over
the 63 with ``cost + turnover < 1`` (the other 4 have cost 1 and fR on its floor 1e-5: no resistant
population to describe); ``relative_burden0`` is ``n0 / (1 - turnover)`` of the 38 fits in which it is
below 1 (in the other 29 the fitted burden starts above its untreated equilibrium: a tumour that would
shrink without treatment, not a patient starting abiraterone for progressing disease). The implied
prior of cost and turnover: medians 0.45 and 0.35 (fits: 0.57, 0.30), logit correlation -0.81 (fits:
-0.71, -0.85 over the 63). What that ignores: each fit is a point estimate (the spread mixes real
differences with estimation error), the remaining correlations (``g`` with fR: -0.68 on the logit
scale, a fast-growing resistant population starting small; the priors here are independent), fits on
their bounds (11 fR at 1e-5: a logit-normal puts 8% of its mass above the fit bound 0.25), and the
setting: hormone-sensitive, biochemically recurrent disease under cyproterone + leuprolide, not mCRPC
under abiraterone. ``psa0`` is weakly informative; ``sd_psa``, the log-scale SD of a PSA value around
the model, is the published within-subject biological variation of serum PSA plus the assay's
(Carobene et al. Clin Chim Acta 2018; Soletormos et al. Clin Chem 2005; Nixon et al. J Urol 1997: see
:data:`PRIORS`), log-normal so that it stays away from 0 (a half-normal's mass near 0 made a funnel
for NUTS).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from mechanistic.family import ModelFamily, ParameterInfo
from twin.diseases.priors import Prior

DRUG = "abiraterone"
REFERENCE_MG = 1000.0
"""The dose (mg/day) of exposure 1: abiraterone acetate's label dose (Zytiga prescribing information)."""

_BRUCHOVSKY = ("Strobl et al. 2021 fits to the 67 Bruchovsky 2006 IAS patients (fitSummaryDf_4params.csv; "
               "twin.studies.strobl2021_fits)")  # fmt: skip
LOGIT_POPULATION: dict[str, tuple[float, float]] = {
    "relative_burden0": (0.0892, 1.8544), "resistant_fraction0": (-5.4056, 3.0976),
    "resistant_growth": (-1.9629, 1.0960), "turnover_share": (-0.2712, 2.2079),
}  # fmt: skip
"""The Bruchovsky population on the logit scale (mean, SD): fR over the 67 fits (floored at its fit
bound 1e-5; :func:`twin.studies.strobl2021_fits.empirical_population`), ``n0 / (1 - turnover)`` over
the 38 where it is < 1, ``1 - cost - turnover`` and ``turnover / (cost + turnover)`` over the 63 where
``cost + turnover < 1``; values clipped to [1e-3, 1 - 1e-3] (a test checks them)."""


def _bruchovsky(name: str) -> Prior:
    """The logit-normal prior of :data:`LOGIT_POPULATION` (median: the inverse logit of the mean)."""
    mean, sd = LOGIT_POPULATION[name]
    return Prior("logitnormal", float(1.0 / (1.0 + np.exp(-mean))), sd)


# name -> (unit, prior, source)
PRIORS: dict[str, tuple[str, Prior, str]] = {
    # PSA at the first observation: LogNormal(log 30, 1.5) [1.6, 570 ng/mL]: PSA at the start of
    # abiraterone spans ~1 to ~1000 ng/mL; weakly informative (the first PSA value pins it)
    "psa0": ("ng/mL", Prior("lognormal", 30.0, 1.5), "weakly informative (mCRPC PSA range)"),
    "relative_burden0": ("1", _bruchovsky("relative_burden0"), _BRUCHOVSKY + ": n0 / (1 - turnover) < 1"),
    "resistant_fraction0": ("1", _bruchovsky("resistant_fraction0"), _BRUCHOVSKY),
    # the resistant cells' net growth rate at low density on the scale of rS: (rR - dR) / rS = 1 - cost -
    # turnover, and the share of turnover in their deficit cost + turnover (Strobl's cost and turnover:
    # cost_and_turnover). Not cost and turnover themselves: their logits correlate at -0.71 in the
    # fits, as the PSA series pin down mainly the net rate; independent priors on them put 40% of the
    # mass on resistant cells that shrink (cost + turnover > 1; 4 of the 67 fits, all with cost = 1 and
    # fR on its floor 1e-5: no resistant population), where the data cannot tell resistant cells from
    # slowly dying sensitive ones and NUTS diverged. These two correlate at 0.26 in the 63 other fits
    "resistant_growth": ("1", _bruchovsky("resistant_growth"), _BRUCHOVSKY + ": 1 - cost - turnover > 0"),
    "turnover_share": (
        "1",
        _bruchovsky("turnover_share"),
        _BRUCHOVSKY + ": turnover / (cost + turnover), cost + turnover < 1",
    ),
    # log-scale SD of a PSA value around the model (~ its CV): LogNormal(log 0.13, 0.6) [90%: 0.048,
    # 0.35]. Within-subject biological variation of serum total PSA: 6.8% (95% CI 6.1-7.4%) in the
    # European Biological Variation Study (weekly for 10 weeks; Carobene A et al., Clin Chim Acta
    # 2018;486:185-191) and 20% on average over 12 studies of men over 50 (Soletormos G et al., Clin
    # Chem 2005;51:1342-1351); with an analytical CV of 5% (Nixon RG et al., J Urol 1997;157:2183-2190)
    # a total of 8.4% to 20.6%: median 0.13, their geometric mean. Log-SD 0.6: the spread of
    # individual patients' CVs (log-normal, geometric mean 7.3%, 95th percentile 19.2%, Nixon 1997).
    # Not a HalfNormal: with 6 PSA values its mass near 0 made a funnel that NUTS could not explore
    # (141 divergent transitions, R-hat 1.06 on sd_psa for a synthetic patient with sd_psa 0.0004)
    "sd_psa": (
        "1",
        Prior("lognormal", 0.13, 0.6),
        "PSA biological + analytical variation (Carobene 2018 Clin Chim Acta; Soletormos 2005 Clin Chem; "
        "Nixon 1997 J Urol)",
    ),
}
FIXED: dict[str, tuple[float, str, str]] = {
    "growth_rate": (0.027, "1/day", "Strobl et al. 2021: rS fixed in every fit (README of strobl2021_at_lv)"),
    "drug_kill": (1.5, "1", "Strobl et al. 2021: dD fixed in every fit"),
}
"""Fixed parameters: name -> (value, unit, source)."""
ERROR_PARAMETERS = ("sd_psa",)
UNIT_INTERVAL = ("relative_burden0", "resistant_fraction0", "resistant_growth", "turnover_share")


def cost_and_turnover(params: Mapping):
    """Strobl's ``(cost, turnover)`` of the pack's ``resistant_growth`` ``g`` and ``turnover_share``
    ``s``: ``((1 - g)(1 - s), (1 - g) s)`` (so ``1 - cost - turnover = g``)."""
    deficit = 1.0 - params["resistant_growth"]
    return deficit * (1.0 - params["turnover_share"]), deficit * params["turnover_share"]


def solver_options():
    """RK4 on a grid of at most one day (doses, observations and every day between): the rates are
    <= 0.03/day, so a step moves the state by a few percent (a test checks it against a tight adaptive
    solve)."""
    import mechanistic as m

    return m.SolverOptions(grid=m.FixedGrid(substeps=1, absorption_offsets=()))


def _unit(name: str) -> str:
    return PRIORS[name][0] if name in PRIORS else FIXED[name][1]


def _constraint(name: str) -> str:
    return "unit_interval" if name in UNIT_INTERVAL else "positive"


@dataclass(frozen=True)
class ProstateModel(ModelFamily):
    """The pack's model family (see the module docstring). ``priors`` and ``fixed`` as for the
    EGFR pack's ``TwinModel``; ``drugs`` is ``("abiraterone",)``."""

    priors: Mapping[str, Prior] = field(default_factory=lambda: {k: v[1] for k, v in PRIORS.items()}, hash=False)
    fixed: Mapping[str, float] = field(default_factory=lambda: {k: v[0] for k, v in FIXED.items()}, hash=False)
    drugs: tuple[str, ...] = (DRUG,)
    clones: tuple[str, ...] = ("sensitive", "resistant")
    ignored: tuple[str, ...] = ()

    def with_drugs(self, drugs: Iterable[str]) -> ProstateModel:
        """Itself: the model acts through abiraterone only; any other drug is refused by name."""
        unknown = sorted({d for d in drugs if d not in self.drugs})
        if unknown:
            raise ValueError(f"the prostate pack models {list(self.drugs)} only; cannot give {unknown}")
        return self

    def to_json(self) -> str:
        d = asdict(self)
        d["priors"] = {k: asdict(v) for k, v in self.priors.items()}
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> ProstateModel:
        d = json.loads(text)
        return cls(
            priors={k: Prior(**v) for k, v in d["priors"].items()},
            fixed=dict(d["fixed"]),
            drugs=tuple(d["drugs"]),
            clones=tuple(d["clones"]),
            ignored=tuple(d["ignored"]),
        )

    # --- the model family ---------------------------------------------------------------------
    def units(self) -> dict[str, str]:
        return {k: _unit(k) for k in (*self.priors, *self.fixed)}

    @property
    def parameters(self) -> tuple[ParameterInfo, ...]:
        return tuple(ParameterInfo(k, u, _constraint(k)) for k, u in self.units().items() if k not in ERROR_PARAMETERS)

    @property
    def observables(self) -> dict[str, str]:
        return {"psa": "ng/mL", "resistant_fraction": "1"}

    @property
    def burden(self) -> str:
        return "psa"

    def observe(self, clones):
        """PSA (ng/mL) = S + R and the resistant fraction R / (S + R) of ``clones (..., 2)`` (ng/mL)."""
        import mechanistic as m

        return {"psa": m.total_volume(clones), "resistant_fraction": m.resistant_fraction(clones, (False, True))}

    def spec(self):
        """The ``inference.ParameterSpec``: free parameters with their priors and the fixed ones."""
        from inference.parameters import Parameter, ParameterSpec

        params = [
            Parameter(k, _unit(k), p.distribution(), constraint=_constraint(k), source=PRIORS.get(k, ("", "", ""))[2])
            for k, p in self.priors.items()
        ]
        params += [
            Parameter(k, _unit(k), value=float(v), constraint=_constraint(k), source=FIXED.get(k, ("", "", ""))[2])
            for k, v in self.fixed.items()
        ]
        return ParameterSpec(params)

    def sample_priors(self, key, n: int | None = None) -> dict[str, np.ndarray]:
        """Draws of every free parameter from its prior (PRNG ``key``): ``{name: (n,)}``, or one
        value each (shape ``()``) when ``n`` is None."""
        import jax

        keys = jax.random.split(key, len(self.priors))
        shape = () if n is None else (n,)
        return {
            name: np.asarray(prior.distribution().sample(k, shape))
            for k, (name, prior) in zip(keys, self.priors.items(), strict=True)
        }

    def errors(self, observables: Iterable[str]) -> dict:
        """PSA ~ LogNormal(log f, ``sd_psa``)."""
        from mechanistic.measurement import Proportional

        unknown = [o for o in observables if o != "psa"]
        if unknown:
            raise ValueError(f"the prostate pack fits PSA only; cannot fit {unknown}")
        return {"psa": Proportional("sd_psa")}

    def build(self, params: Mapping):
        import jax.numpy as jnp

        import mechanistic as m
        from mechanistic.catalogue import strobl2021

        psa0 = jnp.asarray(params["psa0"], dtype=float)
        cost, turnover = cost_and_turnover(params)
        capacity = psa0 / (params["relative_burden0"] * (1.0 - turnover))
        return strobl2021(
            cost, turnover, params["growth_rate"], params["drug_kill"], capacity=capacity,
            drug=DRUG, pk=m.DailyExposure(reference_mg=REFERENCE_MG),
        )  # fmt: skip

    def initial_state(self, params: Mapping):
        """``(S, R)`` (ng/mL) at the first observation: ``psa0 (1 - f, f)``."""
        import jax.numpy as jnp

        f = jnp.asarray(params["resistant_fraction0"], dtype=float)
        return jnp.asarray(params["psa0"], dtype=float) * jnp.stack([1.0 - f, f])

    def solver_options(self):
        return solver_options()

    def solve_inputs(self, doses, times, *, t0: float):
        """The ``mechanistic.GridInputs``: doses (padded to a bucket) and step points: the doses'
        edges, ``times`` and every day from ``t0`` (padded to a bucket)."""
        import mechanistic as m

        missing = [d for d in doses.drugs if d not in self.drugs]
        if missing:
            raise ValueError(f"doses of {missing} but the prostate model gives {list(self.drugs)}")
        times = np.asarray(times, dtype=float)
        dense = np.unique(np.concatenate([times, np.arange(float(t0), float(times.max()), 1.0)]))
        pk = m.DiseaseModel({DRUG: m.DailyExposure(reference_mg=REFERENCE_MG)})
        return m.grid_inputs(pk, doses.with_drugs(self.drugs), dense, t0, solver_options())

    def solve(self, params: Mapping, times, inputs):
        """The ``mechanistic.Solution`` at ``times`` (traceable in every argument)."""
        import mechanistic as m

        return m.solve(self.build(params), self.initial_state(params), inputs.doses, times,
                       t0=inputs.points[0], options=solver_options(), points=inputs.points)  # fmt: skip

    def observables_at(self, params: Mapping, times, inputs):
        import jax.numpy as jnp

        sol = self.solve(params, times, inputs)
        return {k: jnp.where(sol.ok, v, jnp.nan) for k, v in self.observe(sol.clones).items()}

    def describe(self) -> list[str]:
        return ["sensitive: androgen-dependent cells, inhibited by abiraterone",
                "resistant: castration-resistant cells, untouched by abiraterone"]  # fmt: skip
