"""The padding adjoint (the backward of ``pad``): <pad(x), g> == <x, pad_adjoint(g)> in every mode,
and the result is a fresh C-contiguous array (the engine stores it as a leaf's .grad uncopied)."""

import numpy as np
import pytest

from autodiff.ops.padding import MODES, pad, pad_adjoint

CASES = [  # (shape, pad_width): long and short axes, pads wider than the axis, several axes
    ((7,), ((2, 3),)),
    ((3, 50), ((0, 0), (4, 4))),
    ((2, 3, 9), ((0, 0), (1, 2), (3, 1))),
    ((4,), ((3, 3),)),
    ((2, 2), ((2, 5), (0, 1))),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, pad_width", CASES)
def test_pad_adjoint_is_the_adjoint(mode, shape, pad_width):
    n_min = {"mirror": lambda lo, hi: max(lo, hi) + 1, "symmetric": lambda lo, hi: max(lo, hi)}
    if mode in n_min and any(n < n_min[mode](lo, hi) for n, (lo, hi) in zip(shape, pad_width) if lo or hi):
        pytest.skip("the mode cannot pad this far")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    padded = pad(x, pad_width, mode)
    g = rng.standard_normal(padded.shape)
    back = pad_adjoint(g, pad_width=pad_width, mode=mode, shape=shape)
    assert back.shape == shape
    np.testing.assert_allclose(np.sum(padded * g), np.sum(x * back), rtol=1e-12)
    assert back.flags.c_contiguous and back.flags.owndata


def test_pad_adjoint_matches_the_explicit_matrix_transpose():
    # Every column of the padding matrix is pad(e_j); the adjoint applies its transpose.
    n, pw = 5, ((3, 4),)
    for mode in ("replicate", "symmetric", "circular", "mirror", "zero"):
        matrix = np.stack([pad(e, pw, mode) for e in np.eye(n)], axis=1)  # (n + 7, n)
        g = np.arange(n + 7, dtype=float)
        np.testing.assert_allclose(pad_adjoint(g, pad_width=pw, mode=mode, shape=(n,)), matrix.T @ g)
