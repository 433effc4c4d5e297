"""autodiff.datasets: generated toy data (moons, circles, spirals, blobs) and the bundled UCI
handwritten digits, with a deterministic train/validation/test split.

>>> from autodiff import datasets
>>> X, y = datasets.moons(200, noise=0.1, rng=0)
>>> X, y = datasets.digits()                    # (1797, 64) in [0, 1], labels 0..9
"""

from autodiff.datasets.digits import digits
from autodiff.datasets.generators import blobs, circles, moons, spirals
from autodiff.datasets.split import train_val_test_split

__all__ = ["blobs", "circles", "digits", "moons", "spirals", "train_val_test_split"]
