"""The twin's disease model: the flagship EGFR-TKI multi-clone model personalised by the tumour's mutations.

:meth:`TwinModel.from_mutations` reads a sequencing report and builds the clones the twin tracks:

- a drug-sensitive truncal clone carrying the sensitising EGFR mutation (L858R or ex19del; a
  report without one is not the flagship's disease and is an error);
- a T790M clone, always (pre-existing below detection in most tumours; Hata et al. Nat Med 2016):
  its share at the first scan is a free parameter whose prior is centred on the report's T790M
  allele fraction relative to the truncal one when detected, else on the FLAURA population's
  typical share (:data:`FLAURA_POPULATION`);
- one clone per other subclonal variant with a known effect in the shipped EGFR network (e.g.
  MET amplification, EGFR C797S), at the fixed share its allele fraction gives;
- a ``bypass`` clone, always: EGFR-independent resistance (MET amplification, other bypass
  tracks, histological transformation, and the many progressions with no identified mechanism),
  pre-existing below detection at the fixed share ``bypass_fraction0`` (:data:`FIXED`). No EGFR
  TKI acts on it (efficacy 0 for every drug: its mechanism is unknown in most patients, so no
  targeted drug is assumed to reach it), so every twin can fail on osimertinib as on erlotinib.
  One lumped clone, not one per mechanism: after first-line osimertinib, MET amplification is
  found in ~15% and EGFR C797S in ~7% of progressions and no mechanism in about half
  (Ramalingam et al. Ann Oncol 2018;29 suppl 8, ESMO abstract LBA50; Chmielecki et al. Nat
  Commun 2023;14:1070, FLAURA plasma NGS); after first-generation TKIs ~40% of progressions are
  T790M-negative (Yu et al. Clin Cancer Res 2013;19:2240). C797S without T790M (sensitive to
  erlotinib again) is left to the report's own C797S clone: its share of failures is small and
  FLAURA's aggregate results cannot inform a separate clone. Only pre-existing, not acquired
  (mutation flow): aggregate PFS cannot tell a smaller pre-existing share from an acquisition
  rate (both give the same log-linear outgrowth time), so one share is kept.

Each clone's response to each drug comes from its personalised network
(:mod:`mechanistic.egfr_network`): the potency (EC50, mg/L) from the drug table's cellular IC50
for the clone's variants, scaled to plasma by the one factor that maps erlotinib on L858R (20 nM)
to the catalogue's 0.1 mg/L (so all drugs share erlotinib's plasma-to-cell shift: an assumption);
the efficacy from the network's quasi-steady state at a saturating concentration, relative to
the first drug (erlotinib) on a cell carrying only the sensitising mutation (1 = as killable;
0 = bypassed, e.g. MET amplification under an EGFR TKI; a bypassed truncal clone is an error).
Drugs given together act through the network: the efficacy of every *combination* of the model's
drugs is the network's kill at saturating levels of exactly those drugs (``combination_efficacy``,
one column per subset), and between these corners each drug acts with its own Emax fraction ``h =
C / (C + ec50[c, d])``, the corners weighted multilinearly (``mechanistic.CombinationEffect``):
kill = ``max_kill * sum_S combination_efficacy[c, S] prod_{d in S} h_d prod_{d not in S} (1 - h_d)``.
A drug alone gives ``max_kill * efficacy[c, d] * h_d``, the single-drug Emax model of earlier
versions, unchanged; erlotinib + a MET inhibitor on a MET-amplified clone kills where neither
does alone (Engelman et al. Science 2007). The network's own concentration dependence between
the corners is not used: with its default Hill parameters (n = 3 at every node) it is a switch
(kill 0 at a third of the EC50, full at three times it), where cell lines' dose-response slopes
are near 1. Twins saved before combinations (no ``combination_efficacy``) keep the additive
single-drug model they were calibrated with. Gompertz growth with a shared capacity (a free
parameter with a prior, :data:`DEFAULT_PRIORS`), fitness cost of resistance.

The priors of growth rate, maximal kill and T790M share are the FLAURA-calibrated virtual
population (:data:`FLAURA_POPULATION`, fitted in :mod:`twin.studies.flaura2018`): typical values
and between-patient variability, so a new patient starts from the trial population and their own
scans update it; the bypass clone's share is that population's typical value. The quantities one
patient's scans can inform are free, with weakly informative priors from that population or the
literature (:data:`DEFAULT_PRIORS`); those they cannot are fixed at sourced values (:data:`FIXED`:
the cost of resistance, the bypass share, the error SDs a few samples cannot identify; PK and
potency come from the drug tables and networks, above). The reasoning and sources of each prior
and fixed value are next to it. All are stored as plain numbers (:class:`Prior`) so that a twin
saves and loads exactly.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from mechanistic.family import ModelFamily, ParameterInfo
from twin.diseases.priors import Prior
from twin.record import VariantCall

DRUGS: tuple[str, ...] = ("erlotinib", "osimertinib")
"""The drugs a twin's model carries by default (those of the standard regimens; erlotinib first,
the efficacy reference). Any other drug with PK is added where a record or a regimen needs it:
:meth:`TwinModel.with_drugs`."""
SENSITISING: tuple[str, ...] = ("L858R", "ex19del")
ERLOTINIB_EC50_L858R = 0.1  # mg/L, mechanistic.catalogue.egfr_two_clone
SUBCLONAL_BELOW = 0.5  # a call with VAF < 0.5 x the truncal VAF is subclonal
BYPASS = "bypass"  # the always-present EGFR-independent (osimertinib- and erlotinib-resistant) clone
BYPASS_VARIANT = "bypass (EGFR-independent: MET amplification, other, unknown)"


def solver_options():
    """The twin's solver: one dose-aligned Lawson step a day, 5-node quadrature of the kill. On the
    example patient's year of daily erlotinib, clone volumes within 1e-4 (relative) of a tight
    adaptive solve at half the gradient cost of three steps a day (``absorption_offsets=(1.2, 3.6)``:
    steps also ~1.2 h and ~3.6 h after each dose, erlotinib's ka being 22.8 /day)."""
    import mechanistic as m

    return m.SolverOptions(grid=m.LawsonGrid(substeps=1, absorption_offsets=(), nodes=5))


class TwinModelError(ValueError):
    """The mutations or settings cannot make a flagship twin model."""


# The FLAURA virtual population (twin.studies.flaura2018.FITTED; a test checks they agree): typical
# value and between-patient SD (log / logit scale) of the parameters it fitted to FLAURA's aggregate
# results (Soria et al. NEJM 2018). A new patient's prior is this population; their scans update it.
FLAURA_POPULATION: dict[str, tuple[float, float]] = {
    "growth_rate": (0.0019670, 1.2170),
    "max_kill": (0.052508, 0.70139),
    "resistant_fraction0": (0.0074561, 2.0),
}
_FLAURA = "FLAURA virtual population (twin.studies.flaura2018; Soria et al. NEJM 2018)"
# name -> (unit, prior, source); medians and SDs on the log / logit scale, 95% ranges in brackets
DEFAULT_PRIORS: dict[str, tuple[str, Prior, str]] = {
    # burden at the first scan: LogNormal(log 3e4, 1.5) [1.6e3, 5.7e5 mm^3], a 39 mm sphere at the
    # median; RECIST target lesions are 10 mm to ~10 cm
    "volume0": ("mm^3", Prior("lognormal", 3e4, 1.5), "RECIST lesion sizes"),
    # T790M share at the first scan: logit-normal(logit 0.0075, 2) [1.5e-4, 0.27]. Pre-existing T790M
    # clones are below 1% in most untreated EGFR-mutant tumours (Hata et al., Nat Med 2016; Oxnard et
    # al., JCO 2016 find baseline T790M in a minority at low allele fractions); FLAURA's typical share
    # (0.75%) agrees. A report with a detected T790M recentres it (TwinModel.from_mutations)
    "resistant_fraction0": ("1", Prior("logitnormal", *FLAURA_POPULATION["resistant_fraction0"]), _FLAURA),
    # Gompertz rate: LogNormal(log 0.00197, 1.22) [1.8e-4, 0.021 /day]. From 30 cm^3 with the median
    # capacity (1e6 mm^3) the median doubles the volume in ~110 days; untreated NSCLC doubling
    # times span ~1-12 months (Detterbeck & Gibson, J Thorac Oncol 2008)
    "growth_rate": ("1/day", Prior("lognormal", *FLAURA_POPULATION["growth_rate"]), _FLAURA),
    # erlotinib's maximal kill of sensitive cells: LogNormal(log 0.0525, 0.70) [0.013, 0.21 /day].
    # Anchor: responses of -30% to -70% in diameter within 2-3 months on first-line EGFR TKIs, the
    # reasoning of the earlier literature prior LogNormal(log 0.06, 0.7), centred on the catalogue's
    # value (mechanistic.catalogue.egfr_two_clone); FLAURA's median is close to it
    "max_kill": ("1/day", Prior("lognormal", *FLAURA_POPULATION["max_kill"]), _FLAURA),
    # additive residual error of a diameter. Inter-reader variability of RECIST measurements is ~2 mm
    # plus ~10% (hence a HalfNormal(2) mm for this part; the proportional part is FIXED["cv"]).
    # Log-normal, not half-normal: the same median (1.35 mm) and 95th percentile (3.9 mm) as that
    # HalfNormal(2), without its mass near 0 mm (below a CT pixel, ~0.7 mm), a tail that a few scans
    # cannot inform and NUTS explored slowly (R-hat 1.02, tail ESS 92 of 2,000 draws on the example
    # patient at the default settings; the log-normal passed)
    "sd_add": ("mm", Prior("lognormal", 1.35, 0.65), "RECIST inter-reader variability; CT pixel size"),
    # Gompertz capacity of the lesion: a parameter, not a hidden cap (a fixed 2e5 mm^3, 73 mm, made
    # an 88 mm lesion plateau at 73 mm). Median 1e6 mm^3 (a 124 mm sphere, ~1 kg: the order of the
    # lethal tumour burden of ~1e12 cells; Friberg & Mattson, J Surg Oncol 1997;65:284), log-SD 0.7
    # (90%: 0.3 to 3.2 L, 85 to 183 mm): illustrative, wide. A few scans barely inform it; the
    # FLAURA population draws it from this prior too (twin.studies.flaura2018).
    "capacity": ("mm^3", Prior("lognormal", 1.0e6, 0.7), "lethal-burden order of magnitude (illustrative)"),
}
FIXED: dict[str, tuple[float, str, str]] = {
    # a handful of scans cannot separate an additive from a proportional error SD (a ridge that
    # NUTS crossed slowly): the proportional part is fixed at a typical repeat-CT variability
    "cv": (0.05, "1", "repeat-CT measurement variability (illustrative)"),
    # two or three ctDNA samples cannot identify their own noise (a free SD diverged in testing)
    "sd_ctdna": (0.3, "1", "ctDNA allele-fraction replicate noise, log scale (illustrative)"),
    # cost of resistance: the fraction by which every resistant clone's growth rate is reduced
    # (resistant PC-9 cells grow more slowly; Chmielecki et al. Sci Transl Med 2011); one
    # patient's scans cannot inform it
    "fitness_cost": (0.25, "1", "Chmielecki et al. Sci Transl Med 2011"),
    # the typical share of the FLAURA virtual population (twin.studies.flaura2018.FITTED); the
    # patient's own scans on a first-generation TKI rarely inform it
    "bypass_fraction0": (8.3e-7, "1", "FLAURA virtual population, twin.studies.flaura2018 (Soria et al. NEJM 2018)"),
}


def _unit_and_source(name: str) -> tuple[str, str]:
    """Unit and source of a model parameter, free (:data:`DEFAULT_PRIORS`) or fixed (:data:`FIXED`)."""
    if name in DEFAULT_PRIORS:
        return DEFAULT_PRIORS[name][0], DEFAULT_PRIORS[name][2]
    return FIXED[name][1], FIXED[name][2]


def _constraint(name: str) -> str:
    return "unit_interval" if name in UNIT_INTERVAL else "positive"


def _label(gene: str, variant: str) -> str:
    return variant if gene == "EGFR" else f"{gene} {variant}"


ERROR_PARAMETERS = ("sd_add", "cv", "sd_ctdna")  # the residual error models' SDs, not the dynamics'
UNIT_INTERVAL = ("resistant_fraction0", "fitness_cost", "bypass_fraction0")  # fractions; the others positive


@dataclass(frozen=True)
class TwinModel(ModelFamily):
    """The twin's disease model (see the module docstring). Shapes: ``ec50`` and ``efficacy``
    ``(n_clones, n_drugs)``; ``combination_efficacy`` ``(n_clones, 2^n_drugs)``, column ``S`` the
    drugs whose bits are set in ``S`` (empty: a twin saved before combinations, whose drugs add);
    ``fixed_fractions`` the initial shares of the report's other clones (clone 1 is the sensitive
    one, clone 2 T790M with a free share, the last the ``bypass`` clone with the share
    ``bypass_fraction0``; a model saved before the bypass clone existed has none). ``ignored``
    lists calls left out and why."""

    clones: tuple[str, ...]
    clone_variants: tuple[tuple[str, ...], ...]
    drugs: tuple[str, ...]
    ec50: tuple[tuple[float, ...], ...]
    efficacy: tuple[tuple[float, ...], ...]
    fixed_fractions: tuple[float, ...] = ()
    priors: Mapping[str, Prior] = field(default_factory=dict, hash=False)
    fixed: Mapping[str, float] = field(default_factory=lambda: {k: v[0] for k, v in FIXED.items()}, hash=False)
    ignored: tuple[str, ...] = ()
    combination_efficacy: tuple[tuple[float, ...], ...] = ()

    @classmethod
    def from_mutations(cls, calls: Iterable[VariantCall], drugs: Iterable[str] = DRUGS) -> TwinModel:
        """The model for a tumour with these variant calls (``twin.VariantCall``; VAF 0 = tested,
        not detected)."""
        from mechanistic.egfr_network import EGFR_DRUGS, EGFR_VARIANTS

        calls = list(calls)
        drugs = tuple(drugs)
        known_drugs = [d.name for d in EGFR_DRUGS]
        if not drugs or any(d not in known_drugs for d in drugs):
            raise TwinModelError(f"drugs={drugs!r}: each must be one of the shipped panel {known_drugs}")
        detected = [c for c in calls if c.vaf > 0]
        sensitising = [c for c in detected if c.gene == "EGFR" and c.variant in SENSITISING]
        if not sensitising:
            listed = ", ".join(f"{c.gene} {c.variant} (VAF {c.vaf:g})" for c in calls) or "no calls"
            raise TwinModelError(
                f"the flagship twin models EGFR-mutant NSCLC and needs a detected sensitising EGFR mutation "
                f"({' or '.join(SENSITISING)}); the record has {listed}"
            )
        truncal_vaf = max(c.vaf for c in sensitising)
        truncal = [c for c in detected if c.vaf >= SUBCLONAL_BELOW * truncal_vaf and c.variant != "T790M"]
        effects = {(e.gene, e.variant) for e in EGFR_VARIANTS}
        drug_variants = {(t, v) for d in EGFR_DRUGS for (t, v) in d.table()}
        known = effects | drug_variants
        ignored = [
            f"{c.gene} {c.variant}: no effect in the EGFR network (not modelled)"
            for c in detected
            if (c.gene, c.variant) not in known
        ]
        truncal_known = tuple(f"{c.gene} {c.variant}" for c in truncal if (c.gene, c.variant) in known)
        t790m = next((c for c in calls if c.gene == "EGFR" and c.variant == "T790M"), None)
        clones = {"sensitive": truncal_known, "T790M": (*truncal_known, "EGFR T790M")}
        fractions = []
        for c in detected:
            if c in truncal or (c.gene, c.variant) not in known or c is t790m:
                continue
            clones[_label(c.gene, c.variant)] = (*truncal_known, f"{c.gene} {c.variant}")
            fractions.append(min(c.vaf / truncal_vaf, 1.0))
        if sum(fractions) >= 0.5:
            raise TwinModelError(
                f"the subclonal resistance variants make up {sum(fractions):.0%} of the tumour by allele fraction "
                f"({list(clones)[2:]}); the flagship twin expects a mostly drug-sensitive tumour"
            )
        priors = {name: prior for name, (_, prior, _) in DEFAULT_PRIORS.items()}
        if t790m is not None and t790m.vaf > 0:
            priors["resistant_fraction0"] = Prior("logitnormal", min(t790m.vaf / truncal_vaf, 0.5), 1.0)
        model = cls(
            clones=(*clones, BYPASS),
            clone_variants=(*clones.values(), (*truncal_known, BYPASS_VARIANT)),
            drugs=drugs,
            ec50=(),
            efficacy=(),
            fixed_fractions=tuple(fractions),
            priors=priors,
            ignored=tuple(ignored),
        )
        return model.with_responses(drugs)

    def with_responses(self, drugs: tuple[str, ...]) -> TwinModel:
        """This model acting through ``drugs``, every response (EC50, efficacy of each drug and of
        each combination) from the clones' personalised networks; none acts on the bypass clone."""
        bypass = self.clones[-1] == BYPASS
        n = len(self.clones) - bypass
        ec50, efficacy, corners = _network_response(
            dict(zip(self.clones[:n], self.clone_variants[:n], strict=True)), drugs, self._reference_variant
        )
        if bypass:  # no drug acts on it (see the module docstring); the truncal potency, for a finite Emax
            ec50 = np.vstack([ec50, ec50[:1]])
            efficacy = np.vstack([efficacy, np.zeros((1, len(drugs)))])
            corners = np.vstack([corners, np.zeros((1, corners.shape[1]))])
        table = lambda a: tuple(map(tuple, a.tolist()))  # noqa: E731
        return replace(
            self, drugs=drugs, ec50=table(ec50), efficacy=table(efficacy), combination_efficacy=table(corners)
        )

    @property
    def _reference_variant(self) -> str:
        """The truncal sensitising EGFR variant: the cell of the efficacy reference."""
        sensitising = {f"EGFR {s}" for s in SENSITISING}
        return next((v for v in self.clone_variants[0] if v in sensitising), f"EGFR {SENSITISING[0]}")

    def with_drugs(self, drugs: Iterable[str]) -> TwinModel:
        """This model acting through ``drugs`` too: those it lacks are added after its own, their
        responses from the same personalised networks (efficacy relative to this model's first
        drug), so the result equals :meth:`from_mutations` with all the drugs. Itself when it has
        them all. Any drug of the EGFR drug table with PK
        (``mechanistic.egfr_network.EGFR_DRUG_PK``) may be added: the default model carries only
        :data:`DRUGS` because every drug in the model costs solver time in every calibration and
        what-if (all six: ~4x slower ``DigitalTwin.compare`` than two, measured)."""
        from mechanistic.egfr_network import EGFR_DRUG_PK

        extra = tuple(d for d in dict.fromkeys(drugs) if d not in self.drugs)
        if not extra:
            return self
        unknown = [d for d in extra if d not in EGFR_DRUG_PK]
        if unknown:
            raise TwinModelError(
                f"drugs {unknown} have no PK in the EGFR drug table; the twin can give {list(EGFR_DRUG_PK)}"
            )
        if self.combination_efficacy:
            return self.with_responses((*self.drugs, *extra))
        # a twin saved before combinations: its drugs add, each extra one with its own responses
        names, variants = list(self.clones), list(self.clone_variants)
        bypass = self.clones[-1] == BYPASS
        if bypass:
            names, variants = names[:-1], variants[:-1]
        clones = dict(zip(names, variants, strict=True))
        ec50, efficacy, _ = _network_response(clones, (self.drugs[0], *extra), self._reference_variant)
        ec50, efficacy = ec50[:, 1:], efficacy[:, 1:]  # the first drug is the efficacy reference only
        if bypass:
            ec50 = np.vstack([ec50, ec50[:1]])
            efficacy = np.vstack([efficacy, np.zeros((1, len(extra)))])
        return replace(
            self,
            drugs=(*self.drugs, *extra),
            ec50=tuple(tuple(old) + tuple(new) for old, new in zip(self.ec50, ec50.tolist(), strict=True)),
            efficacy=tuple(tuple(old) + tuple(new) for old, new in zip(self.efficacy, efficacy.tolist(), strict=True)),
        )

    # --- serialisation --------------------------------------------------------------------------
    def to_json(self) -> str:
        d = asdict(self)
        d["priors"] = {k: asdict(v) for k, v in self.priors.items()}
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> TwinModel:
        d = json.loads(text)
        tup = lambda rows: tuple(tuple(r) for r in rows)  # noqa: E731
        return cls(
            clones=tuple(d["clones"]),
            clone_variants=tup(d["clone_variants"]),
            drugs=tuple(d["drugs"]),
            ec50=tup(d["ec50"]),
            efficacy=tup(d["efficacy"]),
            fixed_fractions=tuple(d["fixed_fractions"]),
            priors={k: Prior(**v) for k, v in d["priors"].items()},
            fixed=dict(d["fixed"]),
            ignored=tuple(d["ignored"]),
            combination_efficacy=tup(d.get("combination_efficacy", ())),  # absent: saved before combinations
        )

    # --- what inference and scenarios need ------------------------------------------------------
    @property
    def resistant(self) -> tuple[bool, ...]:
        return tuple(i > 0 for i in range(len(self.clones)))

    @property
    def has_bypass(self) -> bool:
        """Whether the model has the bypass clone (models saved before it existed do not)."""
        return self.clones[-1] == BYPASS

    def _fixed_names(self) -> tuple[str, ...]:
        return tuple(k for k in self.fixed if k != "bypass_fraction0" or self.has_bypass)

    def units(self) -> dict[str, str]:
        return {k: _unit_and_source(k)[0] for k in (*self.priors, *self._fixed_names())}

    @property
    def parameters(self) -> tuple[ParameterInfo, ...]:
        """The parameters of the dynamics (``mechanistic.ModelFamily``): the free and fixed ones
        but the residual error SDs."""
        return tuple(ParameterInfo(name, unit, _constraint(name)) for name, unit in self.units().items()
                     if name not in ERROR_PARAMETERS)  # fmt: skip

    @property
    def observables(self) -> dict[str, str]:
        return {"diameter": "mm", "volume": "mm^3", "resistant_fraction": "1"}

    def spec(self):
        """The ``inference.ParameterSpec``: the free parameters with their priors and the fixed ones
        (a model saved when a parameter was fixed, e.g. ``capacity`` before it had a prior, keeps it fixed)."""
        from inference.parameters import Parameter, ParameterSpec

        params = []
        for name, prior in self.priors.items():
            unit, source = _unit_and_source(name)
            params.append(Parameter(name, unit, prior.distribution(), constraint=_constraint(name), source=source))
        for name in self._fixed_names():
            unit, source = _unit_and_source(name)
            params.append(Parameter(name, unit, value=float(self.fixed[name]), constraint=_constraint(name),
                                    source=source))  # fmt: skip
        return ParameterSpec(params)

    def errors(self, observables: Iterable[str]) -> dict:
        """Residual error per observable: a diameter ~ Normal(f, sqrt(sd_add^2 + (cv f)^2)); a
        resistant fraction log-normal with log-SD ``sd_ctdna``."""
        from mechanistic.measurement import Combined, Proportional

        table = {"diameter": Combined("sd_add", "cv"), "resistant_fraction": Proportional("sd_ctdna")}
        unknown = [o for o in observables if o not in table]
        if unknown:
            raise TwinModelError(f"the flagship twin cannot fit observables {unknown}; it fits {tuple(table)}")
        return {o: table[o] for o in observables}

    def build(self, params: Mapping):
        """The ``mechanistic.DiseaseModel`` for one parameter set (jit/vmap-able in ``params``)."""
        import jax.numpy as jnp

        import mechanistic as m

        n = len(self.clones)
        cost = jnp.asarray(params["fitness_cost"], dtype=float)
        tumour = m.TumourModel(
            self.clones,
            "gompertz",
            growth_rate=params["growth_rate"],
            capacity=params["capacity"],
            fitness_cost=jnp.concatenate([jnp.zeros(1), jnp.full(n - 1, cost)]),
            kill=self._kill(params["max_kill"]),
            resistant=self.resistant,
        )
        return m.DiseaseModel(self._pk(), tumour)

    def _kill(self, max_kill):
        """The drugs' kill: through every combination's network response, or (a twin saved before
        combinations) the sum of single-drug Emax terms."""
        import jax.numpy as jnp

        import mechanistic as m

        if not self.combination_efficacy:
            return m.EmaxEffect(emax=max_kill * jnp.asarray(self.efficacy), ec50=jnp.asarray(self.ec50))
        return m.CombinationEffect(max_kill, jnp.asarray(self.combination_efficacy), jnp.asarray(self.ec50))

    def _pk(self) -> dict:
        from mechanistic.catalogue import erlotinib_pk
        from mechanistic.egfr_network import egfr_drug_pk

        return {d: erlotinib_pk() if d == "erlotinib" else egfr_drug_pk(d) for d in self.drugs}

    def initial_state(self, params: Mapping):
        """Clone volumes (mm^3) at the first scan, shape ``(n_clones,)``."""
        import jax.numpy as jnp

        v0, f_t790m = params["volume0"], params["resistant_fraction0"]
        other = jnp.asarray(self.fixed_fractions, dtype=float)
        if self.has_bypass:
            other = jnp.concatenate([other, jnp.reshape(jnp.asarray(params["bypass_fraction0"], dtype=float), (1,))])
        sensitive = 1.0 - f_t790m - jnp.sum(other)
        return v0 * jnp.concatenate([jnp.stack([sensitive, f_t790m]), other])

    def observe(self, clones):
        """Observables of clone volumes ``(..., n_clones)`` mm^3: diameter (mm, sphere), volume
        (mm^3), resistant fraction (1)."""
        import mechanistic as m

        volume = m.total_volume(clones)
        return {
            "diameter": m.longest_diameter(volume),
            "volume": volume,
            "resistant_fraction": m.resistant_fraction(clones, self.resistant),
        }

    def solver_options(self):
        """How the twin solves (:func:`solver_options`: the Lawson grid)."""
        return solver_options()

    def solve_inputs(self, doses, times, *, t0: float):
        """The ``mechanistic.GridInputs`` of :meth:`solve` for a concrete dose table and sorted
        output ``times`` (day) from ``t0`` (day): doses recoded to this model's drugs; doses and the
        solver's step points padded to ``mechanistic.bucket`` sizes."""
        import mechanistic as m

        missing = [d for d in doses.drugs if d not in self.drugs]
        if missing:
            raise TwinModelError(f"doses of {missing} but the twin's model carries {self.drugs}")
        return m.grid_inputs(m.DiseaseModel(self._pk()), doses.with_drugs(self.drugs), times, t0, solver_options())

    def solve(self, params: Mapping, times, inputs):
        """The ``mechanistic.Solution`` at ``times`` (day; sorted, repeats allowed, within the step
        points) from the first step point under ``inputs`` (:meth:`solve_inputs`). Traceable in
        every argument: one compiled program serves every record of the same padded sizes."""
        import mechanistic as m

        return m.solve(self.build(params), self.initial_state(params), inputs.doses, times,
                       t0=inputs.points[0], options=solver_options(), points=inputs.points)  # fmt: skip

    def observables_at(self, params: Mapping, times, inputs):
        """``{observable: (T,)}`` of :meth:`solve` (the ``predict`` of
        ``inference.patient_model_and_data``); NaN where a solve fails."""
        return self._observables_of(self.solve(params, times, inputs))

    def _observables_of(self, sol):
        import jax.numpy as jnp

        return {k: jnp.where(sol.ok, v, jnp.nan) for k, v in self.observe(sol.clones).items()}

    def describe(self) -> list[str]:
        """One line per clone: its variants and the drugs that act on it."""
        lines = []
        for i, (name, variants) in enumerate(zip(self.clones, self.clone_variants, strict=True)):
            acts = ", ".join(
                f"{d} EC50 {self.ec50[i][j]:.3g} mg/L x{self.efficacy[i][j]:.2f}" for j, d in enumerate(self.drugs)
            )
            lines.append(f"{name} [{'; '.join(variants)}]: {acts}")
        return lines


def _network_response(
    clones: Mapping[str, tuple[str, ...]], drugs: tuple[str, ...], reference: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EC50 (mg/L) and efficacy, each ``(n_clones, n_drugs)``, and the efficacy of every combination
    ``(n_clones, 2^n_drugs)`` (column = bitmask of the drugs given), from each clone's personalised
    network; efficacy relative to the first drug's kill of a cell carrying only the ``reference``
    variant, at saturating levels (100x the drug's largest IC50), clipped at 0."""
    clones = {"reference cell": (reference,), **clones}
    from mechanistic.egfr_network import EGFR_DRUGS, EGFR_VARIANTS, egfr_drug_panel, egfr_network
    from mechanistic.mutations import Mutation, personalise
    from mechanistic.network_phenotype import NetworkPhenotype
    from mechanistic.tumour import TumourModel
    from scenarios.drug_screen import screen

    net = egfr_network()
    by_name = {d.name: d for d in EGFR_DRUGS}
    panel = egfr_drug_panel(net, [by_name[d] for d in drugs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # calls without a network effect are listed in TwinModel.ignored
        per_clone = [
            personalise(net, panel, [Mutation(*v.split(" ", 1)) for v in variants], EGFR_VARIANTS, allow_unknown=True)
            for variants in clones.values()
        ]
    cellular = np.zeros((len(clones), len(drugs)))  # IC50 on each drug's target, mg/L
    for j, d in enumerate(drugs):
        target = net.index(next(iter(by_name[d].ic50)))
        cellular[:, j] = [float(np.asarray(p.ic50)[j, target]) / float(panel.nM_per_mg_per_L[j]) for p in per_clone]
    erlotinib_l858r = 20.0 * by_name["erlotinib"].molecular_weight * 1e-6  # mg/L (20 nM)
    ec50 = cellular * (ERLOTINIB_EC50_L858R / erlotinib_l858r)
    # efficacy: kill at a saturating concentration (100x the largest IC50), relative to the reference cell
    phen = NetworkPhenotype(net, panel, per_clone, apoptosis_rate=0.06)
    tumour = TumourModel(tuple(clones), "gompertz", growth_rate=0.01, capacity=2e5, network=phen)
    saturating = {d: 100.0 * float(cellular[:, j].max()) for j, d in enumerate(drugs)}
    subsets = [tuple(d for k, d in enumerate(drugs) if s >> k & 1) for s in range(2 ** len(drugs))]
    out = screen(tumour, saturating, subsets)
    rate = out.net_growth_rate.values  # (subset, clone), 1/day; subset 0 = no drug, 2^d = drug d alone
    kill = rate[0][None, :] - rate  # (subset, clone)
    corners = np.clip(kill.T / kill[1, 0], 0.0, None)[1:]  # (clone, subset), without the reference cell
    efficacy = corners[:, [2**k for k in range(len(drugs))]]
    if not efficacy[0, 0] > 0.5:
        truncal = "; ".join(list(clones.values())[1])
        raise TwinModelError(
            f"in the EGFR network, {drugs[0]} does not kill the truncal clone ({truncal}): its tumour is not "
            "EGFR-driven (e.g. a truncal bypass such as MET amplification), which the flagship twin does not model"
        )
    return ec50[1:], efficacy, corners
