"""autodiff.datasets: the bundled digits, the generators and the split."""

from importlib import resources

import numpy as np
import pytest

from autodiff import datasets


def test_digits_is_bundled_and_complete():
    folder = resources.files("autodiff.datasets").joinpath("data")
    assert folder.joinpath("digits.csv.gz").is_file() and folder.joinpath("README.md").is_file()
    assert "CC BY 4.0" in folder.joinpath("README.md").read_text() and "10.24432/C50P49" in folder.joinpath(
        "README.md"
    ).read_text()
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    raw, _ = datasets.digits(scale=False, images=True)
    assert raw.shape == (1797, 8, 8) and np.all(raw == np.round(raw)) and raw.max() == 16
    X[0, 0] = 5.0  # callers get copies
    assert datasets.digits()[0][0, 0] == 0.0


def test_split_is_deterministic_stratified_and_disjoint():
    X, y = datasets.digits()
    a = datasets.train_val_test_split(X, y, val=0.2, test=0.1, seed=3)
    b = datasets.train_val_test_split(X, y, val=0.2, test=0.1, seed=3)
    for (Xa, ya), (Xb, yb) in zip(a, b):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)
    (Xtr, ytr), (Xv, yv), (Xte, yte) = a
    assert len(ytr) + len(yv) + len(yte) == 1797
    assert abs(len(yv) - 0.2 * 1797) <= 10 and abs(len(yte) - 0.1 * 1797) <= 10
    counts = np.bincount(y)
    assert np.all(np.abs(np.bincount(yte, minlength=10) - 0.1 * counts) <= 1)
    parts = datasets.train_val_test_split(np.arange(1797), y, val=0.2, test=0.1, seed=3)
    idx = np.concatenate([p[0] for p in parts])
    assert sorted(idx.tolist()) == list(range(1797))  # every row in exactly one part
    np.testing.assert_array_equal(parts[2][1], yte)  # X's rows travel with their labels
    c = datasets.train_val_test_split(X, y, seed=4)
    assert not np.array_equal(c[2][1], a[2][1])
    with pytest.raises(ValueError):
        datasets.train_val_test_split(X, y, val=0.6, test=0.5)


@pytest.mark.parametrize("make,classes", [(datasets.moons, 2), (datasets.circles, 2), (datasets.spirals, 3),
                                          (datasets.blobs, 3)])
def test_generators_are_seeded(make, classes):
    X, y = make(90, rng=0)
    assert X.shape == (90, 2) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [90 // classes] * classes
    X2, y2 = make(90, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(make(90, rng=1)[0], X)


def test_generator_geometry():
    X, y = datasets.circles(200, noise=0.0, factor=0.3, rng=0)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)
    X, y = datasets.moons(200, noise=0.0, rng=0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1] - [1.0, 0.5], axis=1), 1.0)
    X, y = datasets.blobs(300, centers=[[0.0, 0.0], [10.0, 10.0]], std=0.5, rng=0)
    np.testing.assert_allclose(X[y == 1].mean(0), [10, 10], atol=0.2)
