"""Pictures and text for backprop: graphs (``draw``, ``render``), the backward pass step by step
(``explain``) and training curves (``plot_history``)."""

from autodiff.viz.draw import draw, render
from autodiff.viz.explain import explain
from autodiff.viz.history import plot_history

__all__ = ["draw", "explain", "plot_history", "render"]
