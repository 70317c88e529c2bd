"""Observation maps."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import mechanistic as m


def test_sphere_diameter_and_sum_of_diameters():
    v = 4.0 / 3.0 * math.pi * 10.0**3  # radius 10 mm
    assert float(m.longest_diameter(v)) == pytest.approx(20.0, rel=1e-14)
    # three equal lesions sharing the volume: each of volume v/3
    assert float(m.sum_of_diameters(v, n_lesions=3)) == pytest.approx(3 * 20.0 / 3 ** (1 / 3), rel=1e-14)
    with pytest.raises(ValueError, match="n_lesions=0"):
        m.sum_of_diameters(v, n_lesions=0)


def test_resistant_fraction_and_vaf():
    clones = jnp.array([[900.0, 100.0], [0.0, 0.0]])
    np.testing.assert_allclose(np.asarray(m.resistant_fraction(clones, [False, True])), [0.1, 0.0])
    vaf = m.variant_allele_fraction(clones[0], [False, True], tumour_fraction=0.2)
    assert float(vaf) == pytest.approx(0.5 * 0.2 * 0.1)
    with pytest.raises(ValueError, match="resistant has 3 flags but there are 2 clones"):
        m.resistant_fraction(clones, [False, True, True])
