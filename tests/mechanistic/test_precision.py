"""Float64 is required: building a model with JAX in float32 (``jax_enable_x64`` off) raises
``Float64Required`` naming the model and field and the line that enables float64."""

import jax
import pytest

import mechanistic as m
from mechanistic.egfr_network import egfr_network


def test_float64_on_builds_models():
    m.require_float64("test", "x")  # conftest switched float64 on: no error
    assert m.EmaxEffect(emax=[[0.06]], ec50=[[0.1]]).emax.dtype == jax.numpy.float64


@pytest.mark.parametrize(
    ("build", "owner"),
    [
        (lambda: m.EmaxEffect(emax=[[0.06]], ec50=[[0.1]]), "EmaxEffect: emax"),
        (lambda: egfr_network(), "SignallingNetwork: hill_k"),  # was: "level[3]=1.0 is invalid"
    ],
    ids=["emax", "egfr_network"],
)
def test_float32_names_the_field_and_how_to_enable_float64(build, owner):
    with jax.enable_x64(False):
        with pytest.raises(m.Float64Required, match=rf"^{owner} needs float64.*jax_enable_x64") as info:
            build()
    assert m.ENABLE_X64 in str(info.value)
    assert isinstance(info.value, ValueError)


def test_importing_and_module_defaults_do_not_need_float64():
    with jax.enable_x64(False):
        m.SolverOptions()  # Python-float defaults: built at import, fine in either precision
