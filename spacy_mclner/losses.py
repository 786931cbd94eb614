"""Loss functions of MCL-NER as small pure torch functions (method.md section 3)."""
import torch
from torch import Tensor

from .grid import IGNORE, NONE


def grid_cross_entropy(logits: Tensor, targets: Tensor, none_weight: float = 1.0) -> Tensor:
    """L_ce: mean cross-entropy over the grid cells that count (eq. 7).

    `logits` is (..., C), `targets` the matching class ids with IGNORE for cells
    outside any sentence or band. The grid is dominated by `none` cells; a
    `none_weight` below 1 down-weights them, and the mean is taken over the
    weights so that the loss scale does not depend on the sentence lengths.
    """
    if not 0.0 <= none_weight <= 1.0:
        raise ValueError(f"none_weight must lie in [0, 1], got {none_weight}")
    n_classes = logits.shape[-1]
    flat_logits = logits.reshape(-1, n_classes)
    flat_targets = targets.reshape(-1)
    counted = flat_targets != IGNORE
    flat_logits = flat_logits[counted]
    flat_targets = flat_targets[counted]
    if flat_targets.numel() == 0:
        return logits.sum() * 0.0
    per_cell = torch.nn.functional.cross_entropy(flat_logits, flat_targets, reduction="none")
    weights = torch.where(
        flat_targets == NONE,
        torch.full_like(per_cell, none_weight),
        torch.ones_like(per_cell),
    )
    return (per_cell * weights).sum() / weights.sum().clamp(min=1e-12)
