"""The constraints' transforms and the log-Jacobian of their inverses (``mechanistic.constraints``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechanistic.constraints import CONSTRAINTS, log_jacobian, transform

U = jnp.asarray([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 30.0])


@pytest.mark.parametrize("constraint", list(CONSTRAINTS))
def test_transforms_are_inverse_bijections_onto_the_support(constraint):
    forward, inverse = transform(constraint)
    lo, hi = CONSTRAINTS[constraint]
    p = inverse(U[1:-1])
    assert np.all((p > lo) & (p < hi))
    np.testing.assert_allclose(forward(p), U[1:-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("constraint", list(CONSTRAINTS))
def test_log_jacobian_is_the_log_derivative_of_the_inverse(constraint):
    _, inverse = transform(constraint)
    u = U[1:-1]
    by_autodiff = jnp.log(jnp.abs(jax.vmap(jax.grad(inverse))(u)))
    np.testing.assert_allclose(log_jacobian(constraint, u), by_autodiff, rtol=1e-12, atol=1e-12)
    assert jnp.shape(log_jacobian(constraint, U)) == U.shape


def test_log_jacobian_of_the_logit_stays_finite_far_out():
    # sigmoid'(u) underflows to 0 beyond |u| ~ 745; its log is -|u| - 2 log(1 + exp(-|u|))
    u = jnp.asarray([-800.0, -30.0, 30.0, 800.0])
    expected = -jnp.abs(u) - 2 * jnp.log1p(jnp.exp(-jnp.abs(u)))
    np.testing.assert_allclose(log_jacobian("unit_interval", u), expected, rtol=1e-14)


def test_unknown_constraint_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'simplex' is not one of \['positive', 'unit_interval', 'real'\]"):
        log_jacobian("simplex", 0.0)
