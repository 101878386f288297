"""Loss terms and the composed training objectives of the teacher and the student.

    from dth.losses import teacher_objective, student_objective
    hs, logits = teacher(x)                                   # dicts keyed by k
    loss = teacher_objective(logits, labels)                  # mean over heads of CE
    h, logits = student(x)
    loss = student_objective("dth", h, logits, labels, teacher_h, params)   # params: whole params.yaml

The stages (train-student, and ternarize for its fine-tuning "with the student's own
losses, distillation included") call these functions, not copies of them.

Terms (docs/method.md, "Losses"); every weight comes from params.yaml:
- classification_loss: cross-entropy on the classifier's logits; for multi-label data
  (a row of `labels` with several 1s, e.g. NUS-WIDE) binary cross-entropy per label.
- dsh_pairwise_loss (Liu et al. 2016), averaged over the unordered pairs i < j of the
  batch: similar pairs (share a label) add ||h_i - h_j||^2 / 2, dissimilar pairs add
  max(m - ||h_i - h_j||^2, 0) / 2 with m = margin_factor * k, and every pair adds
  alpha * (sum_b | |h_ib| - 1 | + sum_b | |h_jb| - 1 |), the paper's per-pair regulariser.
- distillation_loss: per-bit Bernoulli distributions p = sigmoid(h / T) of the two hash
  layers, KL(p_T || p_S) averaged over bits and images, times T^2. The KL equals the
  BCE(p_S, p_T) of docs/method.md minus the teacher's entropy, a constant for a frozen teacher:
  same gradient as the BCE, but zero when the student equals the teacher. `mse` is
  mean (sigmoid(h_S) - sigmoid(h_T))^2 instead (no temperature).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

METHODS = ("dsh", "dth")


def is_multi_label(labels: torch.Tensor) -> bool:
    """True when some image has more than one label (multi-hot rows)."""
    return bool((labels.sum(dim=1) > 1).any())


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """Cross-entropy against one-hot `labels` (N, C); per-label BCE when multi_label."""
    logits = logits.float()
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    return F.cross_entropy(logits, labels.argmax(dim=1))


def top1_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images whose highest-scoring class is one of their labels."""
    top = logits.argmax(dim=1)
    return float(labels.gather(1, top[:, None]).gt(0).float().mean())


def similarity(labels: torch.Tensor) -> torch.Tensor:
    """(N, N) bool: images i and j share at least one label."""
    lab = labels.float()
    return (lab @ lab.t()) > 0


def dsh_pairwise_loss(h: torch.Tensor, labels: torch.Tensor, margin: float, alpha: float) -> torch.Tensor:
    """The DSH loss over all unordered pairs i < j of the batch, averaged over pairs.

    `margin` is in squared-Euclidean units (docs/method.md: 2k); see the module docstring.
    """
    h = h.float()
    n = h.shape[0]
    if n < 2:
        raise ValueError("the DSH pairwise loss needs at least 2 images in a batch")
    sq = (h * h).sum(dim=1)
    dist = (sq[:, None] + sq[None, :] - 2.0 * (h @ h.t())).clamp_min(0.0)   # ||h_i - h_j||^2
    sim = similarity(labels)
    per_pair = torch.where(sim, 0.5 * dist, 0.5 * (margin - dist).clamp_min(0.0))
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=h.device), diagonal=1)
    pairwise = per_pair[upper].mean()
    # Each image takes part in n - 1 pairs, so the mean over pairs of the two images'
    # regularisers is 2 * mean over images of sum_b | |h_b| - 1 |.
    regulariser = 2.0 * (h.abs() - 1.0).abs().sum(dim=1).mean()
    return pairwise + alpha * regulariser


def distillation_loss(h_student: torch.Tensor, h_teacher: torch.Tensor, temperature: float = 1.0,
                      kind: str = "bce") -> torch.Tensor:
    """Match the student's hash layer to the (frozen) teacher's; see the module docstring."""
    if h_student.shape != h_teacher.shape:
        raise ValueError(f"student hash outputs {tuple(h_student.shape)} and teacher's "
                         f"{tuple(h_teacher.shape)} differ: the teacher needs a head of the student's k")
    h_student = h_student.float()
    h_teacher = h_teacher.detach().float()
    if kind == "mse":
        return F.mse_loss(torch.sigmoid(h_student), torch.sigmoid(h_teacher))
    if kind != "bce":
        raise ValueError(f"distillation loss kind must be 'bce' or 'mse', not {kind!r}")
    t = float(temperature)
    target = torch.sigmoid(h_teacher / t)
    cross = F.binary_cross_entropy_with_logits(h_student / t, target, reduction="none")
    entropy = F.binary_cross_entropy_with_logits(h_teacher / t, target, reduction="none")
    return (cross - entropy).mean() * t * t


def teacher_objective(logits: dict, labels: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """The teacher's loss: mean over its hash heads of each head's cross-entropy.

    The mean (not the sum) keeps the backbone's gradient scale, hence the right
    learning rate, independent of how many code lengths the run has.
    """
    losses = [classification_loss(lg, labels, multi_label) for lg in logits.values()]
    return torch.stack(losses).mean()


def student_objective(method: str, h: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor,
                      teacher_h: torch.Tensor | None, params: dict, multi_label: bool = False) -> torch.Tensor:
    """The student's loss for `method`, with every weight from `params` (whole params.yaml).

    dsh: dsh_pairwise_loss (the baseline, no teacher; the classifier is not trained).
    dth: distill.ce_weight * CE + distill.weight * distillation(h, teacher_h)
         + distill.pairwise_weight * dsh_pairwise_loss (skipped when that weight is 0).
    """
    k = h.shape[1]
    dsh, distill = params["dsh"], params["distill"]
    margin = dsh["margin_factor"] * k
    if method == "dsh":
        return dsh_pairwise_loss(h, labels, margin, dsh["alpha"])
    if method != "dth":
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if teacher_h is None:
        raise ValueError("method 'dth' needs the teacher's hash outputs (teacher_h)")
    loss = distill["weight"] * distillation_loss(h, teacher_h, distill["temperature"], distill["loss"])
    if distill["ce_weight"] > 0:
        loss = loss + distill["ce_weight"] * classification_loss(logits, labels, multi_label)
    if distill["pairwise_weight"] > 0:
        loss = loss + distill["pairwise_weight"] * dsh_pairwise_loss(h, labels, margin, dsh["alpha"])
    return loss
