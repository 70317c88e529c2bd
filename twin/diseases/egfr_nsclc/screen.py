"""The drug screen of a twin: the shipped EGFR panel on the twin's clones, weighted by their shares today."""

from __future__ import annotations

import numpy as np
import xarray as xr


def clone_shares(twin, n_draws: int = 200) -> np.ndarray:
    """Posterior median share of each clone on the decision day, normalised to sum to 1 ``(n_clones,)``."""
    clones = twin._solve(twin.draws(min(n_draws, twin.n_draws)), np.asarray([twin.now]))[:, 0, :]
    shares = np.median(clones / clones.sum(axis=1, keepdims=True), axis=0)
    return shares / shares.sum()


def screen_twin(twin, *, pairs: bool = True, drugs=None) -> xr.Dataset:
    """``scenarios.screen`` of every panel drug (and pair) at its standard dose (label doses in
    ``mechanistic.egfr_network.EGFR_DRUG_PK``) on the twin's clones' personalised networks, mixed by
    :func:`clone_shares` (the flagship's network-less ``bypass`` clone left out, said in
    ``attrs['not_screened']``)."""
    from mechanistic.egfr_network import EGFR_DRUG_PK, EGFR_DRUGS, egfr_network_model
    from mechanistic.mutations import Mutation
    from scenarios.drug_screen import screen_model, treatments
    from twin.diseases.egfr_nsclc.model import BYPASS

    drugs = tuple(d.name for d in EGFR_DRUGS) if drugs is None else tuple(drugs)
    shares = clone_shares(twin)
    networked = [i for i, name in enumerate(twin.model.clones) if name != BYPASS]  # the bypass clone has no network
    clones = {
        twin.model.clones[i]: tuple(Mutation(*v.split(" ", 1)) for v in twin.model.clone_variants[i]) for i in networked
    }
    model = egfr_network_model(clones, drugs)
    ds = screen_model(
        model,
        {d: EGFR_DRUG_PK[d][:2] for d in drugs},
        combinations=treatments(drugs, pairs=pairs),
        fractions=shares[networked] / shares[networked].sum(),
    )
    left_out = float(1.0 - shares[networked].sum())
    ds.attrs["not_screened"] = (
        f"the {BYPASS} clone (EGFR-independent resistance of unknown mechanism, {left_out:.2g} of the tumour on "
        "the decision day) has no network: no drug is assumed to act on it, and it is left out of the mix"
        if left_out > 0
        else ""
    )
    return ds
