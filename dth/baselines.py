"""The state-of-the-art deep hashing objectives the distilled student is compared with,
each trained on the student network (dth.models.Student) without a teacher.

    from dth.baselines import baseline_loss, BASELINES
    h, logits = student(x)
    loss = baseline_loss("hashnet", h, logits, labels, params, epoch=3)    # params: whole params.yaml
    loss = baseline_loss("greedyhash", h, logits, labels, params, classifier_weight=student.classifier.weight)

Notation (docs/baselines.md): u (N, k) is the hash layer's output before any
squashing, S_ij = 1 when images i and j share a label, pairs run over i != j of the batch.
Every loss is computed in fp32 with autocast off (the pairwise inner products overflow
softplus in bf16), and every weight is a params.yaml key of the method's own section.

- ce: the classifier's cross-entropy on sigmoid(u) alone (the DTH objective with the
  distillation weight at 0): what the student reaches without the teacher.
- dpsh (Li et al. 2016): theta = u_i.u_j / 2; mean over pairs of softplus(theta) - S theta,
  + eta * mean (u - sign u)^2; the pairs are the batch's, or with dpsh.memory_bank each batch
  image and every other training image's latest output (`PairMemory`).
- hashnet (Cao et al. 2017): h = tanh(beta u) with beta = sqrt(1 + epoch // beta_step_epochs)
  (continuation); theta = (alpha_factor / k) h_i.h_j; the same likelihood weighted by
  |S| / |S1| on similar pairs and |S| / |S0| on dissimilar ones.
- dch (Cao et al. 2018): d = (k/2)(1 - cos(u_i, u_j)); weighted Cauchy cross-entropy
  S log(d / gamma) + log(1 + gamma / d) (HashNet's weights), + lambda * mean
  log(1 + d(|u|, 1) / gamma).
- greedyhash (Su et al. 2018): b = sign(u) forward, gradient passed to u unchanged;
  cross-entropy of the student's classifier weights on b (no bias) + alpha * mean | |u| - 1 |^3.
- csq (Yuan et al. 2020): a hash centre c per class (`hash_centres`); BCE between
  (tanh u + 1) / 2 and (c + 1) / 2, computed as BCE-with-logits of 2u, + lambda * mean (|tanh u| - 1)^2.
For multi-label data every classification term is a per-label BCE and a CSQ image's
centre is the sign of its classes' centroid (ties to +1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dth.losses import classification_loss, similarity
from dth.params import BASELINES  # the accepted method names, beside their params schema


def _fp32(t: torch.Tensor) -> torch.Tensor:
    return t.float()


def _off_diagonal(n: int, device) -> torch.Tensor:
    return ~torch.eye(n, dtype=torch.bool, device=device)


def balance_weights(sim: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """HashNet's class-balance weights over the pairs in `mask`: |S| / |S1| on similar pairs,
    |S| / |S0| on dissimilar ones. A batch without one kind of pair gives the other kind
    weight 1 (no division by zero)."""
    n_sim = (sim & mask).sum().float()
    n_dis = (~sim & mask).sum().float()
    total = n_sim + n_dis
    w_sim = total / n_sim.clamp_min(1.0)
    w_dis = total / n_dis.clamp_min(1.0)
    return torch.where(sim, w_sim, w_dis)


class PairMemory:
    """DPSH's table of the latest hash-layer output u of every training image (dpsh.memory_bank):
    Li et al.'s code and its ports pair each image of a batch with every training image, not
    only with the rest of its batch. `dpsh_loss` writes a batch's rows (detached) before it
    reads the table, and pairs only with rows written so far. `state()` is what a checkpoint
    must keep for a resumed run to end with the same weights (dth.train.fit's objective_state)."""

    def __init__(self, labels: torch.Tensor, bits: int):
        self.labels = labels.float()                 # (N, classes), multi-hot
        self.u = torch.zeros(len(labels), bits, device=labels.device)   # fp32
        self.filled = torch.zeros(len(labels), dtype=torch.bool, device=labels.device)

    def state(self) -> dict[str, torch.Tensor]:
        return {"u": self.u, "filled": self.filled}


def dpsh_loss(u: torch.Tensor, labels: torch.Tensor, eta: float, memory: PairMemory | None = None,
              index: torch.Tensor | None = None) -> torch.Tensor:
    """DPSH over the pairs of the batch, or (memory given, with the batch's row numbers `index`
    in the train set) over each batch image paired with every other training image of the
    memory; the gradient then reaches the batch's outputs only, as in Li et al.'s code."""
    u = _fp32(u)
    n = u.shape[0]
    if memory is not None:
        if index is None:
            raise ValueError("dpsh with a memory needs the batch's train-set indices (index)")
        memory.u[index] = u.detach()
        memory.filled[index] = True
        rows = memory.filled.nonzero().squeeze(1)
        theta = 0.5 * (u @ memory.u[rows].t())
        s = ((labels.float() @ memory.labels[rows].t()) > 0).float()
        likelihood = F.softplus(theta) - s * theta
        pairs = index[:, None] != rows[None, :]
        return likelihood[pairs].mean() + eta * (u - u.sign()).pow(2).mean()
    theta = 0.5 * (u @ u.t())
    s = similarity(labels).float()
    likelihood = F.softplus(theta) - s * theta
    pairs = _off_diagonal(n, u.device)
    return likelihood[pairs].mean() + eta * (u - u.sign()).pow(2).mean()


def hashnet_beta(epoch: int, beta_step_epochs: int) -> float:
    """The continuation scale of tanh(beta u) in (0-based) epoch `epoch`."""
    return math.sqrt(1.0 + epoch // beta_step_epochs)


def hashnet_loss(u: torch.Tensor, labels: torch.Tensor, alpha_factor: float, beta: float) -> torch.Tensor:
    u = _fp32(u)
    n, k = u.shape
    h = torch.tanh(beta * u)
    theta = (alpha_factor / k) * (h @ h.t())
    sim = similarity(labels)
    pairs = _off_diagonal(n, u.device)
    likelihood = F.softplus(theta) - sim.float() * theta
    w = balance_weights(sim, pairs)
    return (w * likelihood)[pairs].sum() / pairs.sum()


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """DCH's normalised distance (k/2)(1 - cos(a_i, b_j)), cos clamped to <= 0.99 so that
    identical codes keep a finite log(d)."""
    k = a.shape[1]
    cos = (F.normalize(a, dim=1, eps=1e-4) @ F.normalize(b, dim=1, eps=1e-4).t()).clamp(max=0.99)
    return 0.5 * k * (1.0 - cos)


def dch_loss(u: torch.Tensor, labels: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    u = _fp32(u)
    n = u.shape[0]
    sim = similarity(labels)
    pairs = _off_diagonal(n, u.device)
    d = cosine_distance(u, u)
    cauchy = sim.float() * torch.log(d / gamma) + torch.log1p(gamma / d)
    w = balance_weights(sim, pairs)
    pairwise = (w * cauchy)[pairs].sum() / pairs.sum()
    ones = torch.ones(1, u.shape[1], device=u.device)
    quantisation = torch.log1p(cosine_distance(u.abs(), ones) / gamma).mean()
    return pairwise + lam * quantisation


class _SignStraightThrough(torch.autograd.Function):
    """b = sign(u) (zeros to +1) forward; the gradient of b passed to u unchanged."""

    @staticmethod
    def forward(ctx, u):
        return torch.where(u >= 0, torch.ones_like(u), -torch.ones_like(u))

    @staticmethod
    def backward(ctx, grad):
        return grad


def greedy_sign(u: torch.Tensor) -> torch.Tensor:
    return _SignStraightThrough.apply(u)


def greedyhash_loss(u: torch.Tensor, labels: torch.Tensor, classifier_weight: torch.Tensor, alpha: float,
                    multi_label: bool = False) -> torch.Tensor:
    u = _fp32(u)
    b = greedy_sign(u)
    logits = F.linear(b, classifier_weight.float())
    return classification_loss(logits, labels, multi_label) + alpha * (u.abs() - 1.0).abs().pow(3).mean()


def hash_centres(num_classes: int, bits: int, seed: int, tries: int = 2000) -> tuple[torch.Tensor, int]:
    """CSQ's hash centres, (num_classes, bits) in {-1, +1}, and their minimum pairwise Hamming
    distance. Rows of the Hadamard matrices H and -H when bits is a power of 2 and 2 * bits
    >= num_classes; otherwise seeded Bernoulli(0.5) vectors accepted only when at least d bits
    from every centre accepted before, d starting at bits / 2 and lowered by one whenever
    `tries` draws in a row fail."""
    if bits >= 1 and bits & (bits - 1) == 0 and 2 * bits >= num_classes:
        from scipy.linalg import hadamard
        h = hadamard(bits)
        centres = np.concatenate([h, -h])[:num_classes]
    else:
        rng = np.random.default_rng(seed)
        target = bits // 2
        while True:
            accepted: list[np.ndarray] = []
            failures = 0
            while len(accepted) < num_classes and failures < tries:
                c = np.where(rng.random(bits) < 0.5, 1, -1)
                if all(int((c != a).sum()) >= target for a in accepted):
                    accepted.append(c)
                    failures = 0
                else:
                    failures += 1
            if len(accepted) == num_classes:
                break
            target -= 1
        centres = np.stack(accepted)
    centres = torch.as_tensor(centres, dtype=torch.float32)
    if num_classes < 2:
        return centres, bits
    dist = (centres[:, None, :] != centres[None, :, :]).sum(-1)
    dist.fill_diagonal_(bits)
    return centres, int(dist.min())


def csq_targets(labels: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Each image's centre (N, k): its class's, or for multi-hot rows the sign of the
    centroid of its classes' centres, ties (0) to +1."""
    total = labels.float() @ centres.to(labels.device)
    return torch.where(total >= 0, 1.0, -1.0)


def csq_loss(u: torch.Tensor, labels: torch.Tensor, centres: torch.Tensor, lam: float) -> torch.Tensor:
    u = _fp32(u)
    target = 0.5 * (csq_targets(labels, centres) + 1.0)
    # (tanh u + 1) / 2 = sigmoid(2u): the BCE is taken on the logits 2u, stable where tanh saturates
    centre = F.binary_cross_entropy_with_logits(2.0 * u, target)
    return centre + lam * (torch.tanh(u).abs() - 1.0).pow(2).mean()


def baseline_loss(method: str, u: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, params: dict, *,
                  multi_label: bool = False, epoch: int = 0, classifier_weight: torch.Tensor | None = None,
                  centres: torch.Tensor | None = None, memory: PairMemory | None = None,
                  index: torch.Tensor | None = None) -> torch.Tensor:
    """The loss of baseline `method` with its weights from params[method]; fp32, autocast off.
    memory, index: dpsh's table of all training outputs (dpsh.memory_bank) and the batch's rows."""
    p = params[method]
    with torch.autocast(device_type=u.device.type, enabled=False):
        if method == "ce":
            return classification_loss(logits, labels, multi_label)
        if method == "dpsh":
            return dpsh_loss(u, labels, p["eta"], memory, index)
        if method == "hashnet":
            return hashnet_loss(u, labels, p["alpha_factor"], hashnet_beta(epoch, p["beta_step_epochs"]))
        if method == "dch":
            return dch_loss(u, labels, p["gamma"], p["lambda"])
        if method == "greedyhash":
            if classifier_weight is None:
                raise ValueError("greedyhash needs the classifier's weight (classifier_weight)")
            return greedyhash_loss(u, labels, classifier_weight, p["alpha"], multi_label)
        if method == "csq":
            if centres is None:
                raise ValueError("csq needs the hash centres (centres)")
            return csq_loss(u, labels, centres, p["lambda"])
    raise ValueError(f"baseline method must be one of {', '.join(BASELINES)}, not {method!r}")
