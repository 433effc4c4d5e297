"""autodiff.signal: filtering signals and images with boundary modes, and the filter bank.

>>> from autodiff import signal
>>> signal.convolve1d(np.array([0., 0., 3., 0., 0.]), signal.filters.average(3), "zero")
array([0., 1., 1., 1., 0.])
"""

from autodiff.signal import filters
from autodiff.signal.convolve import conv_matrix, convolve1d, convolve2d, pad

__all__ = ["convolve1d", "convolve2d", "pad", "conv_matrix", "filters"]
