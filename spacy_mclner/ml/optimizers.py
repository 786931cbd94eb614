"""Optimizer views for parts of a model that train at their own rate."""
from typing import Any, Tuple

from thinc.api import Optimizer


class ScaledOptimizer:
    """An optimizer view that scales every learning rate by a fixed factor.

    thinc's `finish_update` and its PyTorch shim call the optimizer without an
    `lr_scale`, so a part of the model that needs its own rate gets this view.
    """

    def __init__(self, optimizer: Optimizer, scale: float) -> None:
        self._optimizer = optimizer
        self._scale = scale

    def __call__(self, key: Tuple[int, str], weights: Any, gradient: Any, *, lr_scale: float = 1.0) -> Any:
        return self._optimizer(key, weights, gradient, lr_scale=lr_scale * self._scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)
