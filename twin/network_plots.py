"""Plots of signalling networks and drug screens (matplotlib, colour-blind-safe colour maps).

- :func:`plot_network`: the network in layers (inputs at the top, phenotypes at the bottom),
  node colour = activity (0-1, ``cividis``), activation edges solid with arrows, inhibition
  edges dashed with bars; phenotype nodes drawn as squares.
- :func:`plot_screen_heatmap`: treatments x clones heatmap of a screen variable (diverging
  ``PuOr`` centred at zero for net growth rates), best-ranked treatments first.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import xarray as xr

from mechanistic.network import SignallingNetwork


def _layers(network: SignallingNetwork) -> dict[str, tuple[float, float]]:
    g = network.to_graph()
    if nx.is_directed_acyclic_graph(g):
        generations = list(nx.topological_generations(g))
    else:  # longest-path-free fallback: distance from the inputs
        inputs = [v for v in g if g.in_degree(v) == 0] or [next(iter(g))]
        dist = nx.multi_source_dijkstra_path_length(g, inputs)
        depth = max(dist.values(), default=0)
        generations = [[v for v in g if dist.get(v, depth + 1) == d] for d in range(depth + 2)]
        generations = [gen for gen in generations if gen]
    pos = {}
    for row, nodes in enumerate(generations):
        for col, v in enumerate(sorted(nodes)):
            pos[v] = (col - (len(nodes) - 1) / 2.0, -float(row))
    return pos


def plot_network(network: SignallingNetwork, activity=None, *, ax=None, title: str | None = None, cmap="cividis"):
    """Draw ``network`` with node colour = ``activity (n_nodes,)`` in [0, 1] (None: grey).
    Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 8))
    g = network.to_graph()
    pos = _layers(network)
    act = None if activity is None else np.asarray(activity, dtype=float)
    if act is not None and act.shape != (network.n_nodes,):
        raise ValueError(f"activity must have shape ({network.n_nodes},) (one value per node); got {act.shape}")
    for u, v, data in g.edges(data=True):
        inhibit = data["sign"] < 0
        ax.annotate(
            "",
            xy=pos[v],
            xytext=pos[u],
            arrowprops={
                "arrowstyle": "-[" if inhibit else "-|>",
                "linestyle": "--" if inhibit else "-",
                "color": "0.35",
                "shrinkA": 14,
                "shrinkB": 14,
                "lw": 1.0,
            },
        )
    colours = "0.8" if act is None else act
    for kind, marker in (("protein", "o"), ("gene", "D"), ("phenotype", "s")):
        idx = [i for i, k in enumerate(network.kinds) if k == kind]
        if not idx:
            continue
        xy = np.asarray([pos[network.nodes[i]] for i in idx])
        colour = {"color": colours} if act is None else {"c": act[idx], "cmap": cmap, "vmin": 0.0, "vmax": 1.0}
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=900, marker=marker, edgecolors="k", zorder=3, **colour)
    for i, v in enumerate(network.nodes):
        dark = act is not None and act[i] < 0.5
        size = 7 if len(v) <= 6 else 4.5
        ax.text(*pos[v], v, ha="center", va="center", fontsize=size, zorder=4, color="w" if dark else "k")
    if act is not None:
        ax.figure.colorbar(sc, ax=ax, shrink=0.6, label="activity (0-1)")
    ax.set_title(title or "signalling network")
    ax.set_axis_off()
    return ax


def plot_screen_heatmap(result: xr.Dataset, variable: str = "net_growth_rate", *, top: int = 30, ax=None):
    """Heatmap of ``result[variable]`` (treatment x clone) for the ``top`` best-ranked treatments
    of a :func:`scenarios.drug_screen.screen` result. Returns the Axes."""
    import matplotlib.pyplot as plt

    if variable not in result or result[variable].dims != ("treatment", "clone"):
        valid = [k for k, v in result.data_vars.items() if v.dims == ("treatment", "clone")]
        raise ValueError(f"variable {variable!r} is not a treatment x clone variable of the screen; valid: {valid}")
    data = result[variable].sortby(result["rank"]).isel(treatment=slice(0, top))
    values = data.values.astype(float)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.0 + 1.2 * values.shape[1], 1.0 + 0.28 * values.shape[0]))
    if variable == "net_growth_rate":
        lim = np.nanmax(np.abs(values)) or 1.0
        im = ax.imshow(values, cmap="PuOr_r", vmin=-lim, vmax=lim, aspect="auto")
    else:
        im = ax.imshow(values, cmap="cividis", vmin=0.0, vmax=1.0, aspect="auto")
    units = result[variable].attrs.get("units", "")
    ax.figure.colorbar(im, ax=ax, label=f"{variable.replace('_', ' ')} ({units})")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in data.clone.values])
    ax.set_yticks(range(values.shape[0]), [str(t) for t in data.treatment.values], fontsize=8)
    ax.set_xlabel("clone")
    ax.set_title(f"drug screen: {variable.replace('_', ' ')} (best ranked first)")
    return ax
