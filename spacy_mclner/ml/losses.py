"""Loss functions of MCL-NER as small pure torch functions (docs/method.md section 3)."""
import torch
from torch import Tensor

from ..grid import IGNORE, NONE


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


def relation_mse(logits: Tensor, teacher: Tensor) -> Tensor:
    """L_mse: squared distance between the student's and the teacher's relation distributions (eq. 10).

    `logits` are the student's (K, C) scores of K grid cells, `teacher` the frozen
    teacher's (K, C) class probabilities of the same cells. The squared errors are
    summed over classes and averaged over cells, so the loss lies in [0, 2] and
    does not depend on how many cells a batch holds.
    """
    if logits.shape != teacher.shape or logits.dim() != 2:
        raise ValueError(f"relation_mse needs two (K, C) tensors of one shape, got {tuple(logits.shape)} and {tuple(teacher.shape)}")
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    student = torch.softmax(logits, dim=-1)
    return ((student - teacher) ** 2).sum(dim=-1).mean()


def info_nce(anchors: Tensor, positives: Tensor, temperature: float) -> Tensor:
    """Symmetric InfoNCE: row k of `anchors` and of `positives` are a positive pair.

    Every other row of the other side is a negative (in-batch negatives), in both
    directions, with cosine similarity over `temperature`. Serves both L_sc
    (sentence vectors of a source and its code-switched view, eq. 3) and L_tc
    (projected pair representations of aligned grid cells, eq. 6).
    """
    if anchors.shape != positives.shape or anchors.dim() != 2:
        raise ValueError(f"info_nce needs two (K, D) tensors of one shape, got {tuple(anchors.shape)} and {tuple(positives.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if anchors.shape[0] == 0:
        return anchors.sum() * 0.0
    anchors = torch.nn.functional.normalize(anchors, dim=-1)
    positives = torch.nn.functional.normalize(positives, dim=-1)
    logits = anchors @ positives.T / temperature
    targets = torch.arange(anchors.shape[0], device=anchors.device)
    return (torch.nn.functional.cross_entropy(logits, targets) + torch.nn.functional.cross_entropy(logits.T, targets)) / 2
