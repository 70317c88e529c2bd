"""Network and drug-screen plots render, and reject mismatched input."""

import jax.numpy as jnp
import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from mechanistic.egfr_network import EGFR_DRUG_PK, egfr_network_model  # noqa: E402
from scenarios.drug_screen import screen_model  # noqa: E402
from twin.network_plots import plot_network, plot_screen_heatmap  # noqa: E402


@pytest.fixture(scope="module")
def screened():
    model = egfr_network_model()
    return model, screen_model(model, {d: EGFR_DRUG_PK[d][:2] for d in model.drugs})


def test_network_plot_colours_nodes_by_activity(screened, tmp_path):
    model, result = screened
    phen = model.tumour.network
    x = phen.steady_state(jnp.asarray(result.concentration.sel(treatment="erlotinib").values)).x
    ax = plot_network(phen.network, x[0], title="sensitive clone under erlotinib")
    colours = [c.get_array() for c in ax.collections if c.get_array() is not None]
    assert sum(len(c) for c in colours) == phen.network.n_nodes
    ax.figure.savefig(tmp_path / "network.png")
    assert (tmp_path / "network.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match=r"activity must have shape \(24,\)"):
        plot_network(phen.network, x)
    plt.close("all")


def test_screen_heatmap(screened, tmp_path):
    _, result = screened
    ax = plot_screen_heatmap(result, top=3)
    assert [t.get_text() for t in ax.get_yticklabels()][0] == str(result.treatment.sortby(result["rank"]).values[0])
    assert ax.images[0].get_array().shape == (3, 3)
    with pytest.raises(ValueError, match=r"variable 'rank' is not a treatment x clone variable"):
        plot_screen_heatmap(result, "rank")
    plt.close("all")
