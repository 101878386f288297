"""Loss terms against brute force, and the composed objectives against their parts."""

import math

import pytest
import torch
import torch.nn.functional as F

from dth.losses import (classification_loss, distillation_loss, dsh_pairwise_loss, student_objective,
                        teacher_objective)

PARAMS = {"dsh": {"margin_factor": 2.0, "alpha": 0.01},
          "distill": {"ce_weight": 1.0, "weight": 1.0, "temperature": 1.0, "loss": "bce", "pairwise_weight": 0.0}}


def dsh_brute_force(h, labels, margin, alpha):
    """Liu et al.'s per-pair loss, summed with a double loop over i < j, divided by the pair count."""
    n = len(h)
    total, pairs = 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            similar = any(labels[i][c] > 0 and labels[j][c] > 0 for c in range(labels.shape[1]))
            d = sum((float(h[i][b]) - float(h[j][b])) ** 2 for b in range(h.shape[1]))
            term = d / 2 if similar else max(margin - d, 0.0) / 2
            reg = sum(abs(abs(float(h[i][b])) - 1) + abs(abs(float(h[j][b])) - 1) for b in range(h.shape[1]))
            total += term + alpha * reg
            pairs += 1
    return total / pairs


@pytest.mark.parametrize("multi_label", [False, True])
def test_dsh_loss_matches_double_loop(multi_label):
    g = torch.Generator().manual_seed(0)
    n, k, c = 7, 5, 4
    h = torch.randn(n, k, generator=g, dtype=torch.float64) * 1.5
    if multi_label:
        labels = (torch.rand(n, c, generator=g) < 0.35).float()
    else:
        labels = F.one_hot(torch.randint(0, c, (n,), generator=g), c).float()
    margin = 2.0 * k
    expected = dsh_brute_force(h, labels, margin, 0.01)
    assert float(dsh_pairwise_loss(h, labels, margin, 0.01)) == pytest.approx(expected, rel=1e-5)
    # both branches of the margin occur in this batch, otherwise the test proves little
    d = torch.cdist(h, h) ** 2
    dissimilar = (labels @ labels.t()) == 0
    assert (d[dissimilar] < margin).any() and (d[dissimilar] > margin).any()


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_distillation_is_zero_when_student_equals_teacher(temperature):
    h = torch.randn(16, 12)
    assert float(distillation_loss(h.clone(), h, temperature)) == pytest.approx(0.0, abs=1e-6)
    assert float(distillation_loss(h.clone(), h, kind="mse")) == 0.0
    assert float(distillation_loss(h + 0.5, h, temperature)) > 1e-4


def test_distillation_is_kl_of_bernoullis_times_t_squared():
    g = torch.Generator().manual_seed(1)
    hs, ht, t = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g), 2.0
    p, q = torch.sigmoid(ht / t), torch.sigmoid(hs / t)
    kl = p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))
    assert float(distillation_loss(hs, ht, t)) == pytest.approx(float(kl.mean() * t * t), rel=1e-5)
    # same gradient as docs/method.md's BCE(sigmoid(h_S / T), sigmoid(h_T / T)) * T^2
    a = hs.clone().requires_grad_(True)
    distillation_loss(a, ht, t).backward()
    b = hs.clone().requires_grad_(True)
    (F.binary_cross_entropy(torch.sigmoid(b / t), p) * t * t).backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


@pytest.mark.parametrize("kind", ["bce", "mse"])
def test_distillation_gradient_moves_student_toward_teacher(kind):
    g = torch.Generator().manual_seed(2)
    teacher = torch.randn(8, 12, generator=g) * 2
    student = torch.randn(8, 12, generator=g).requires_grad_(True)
    before = float((torch.sigmoid(student.detach()) - torch.sigmoid(teacher)).abs().sum())
    distillation_loss(student, teacher, kind=kind).backward()
    # every bit's gradient points away from the teacher, so a descent step goes toward it
    assert torch.equal(torch.sign(student.grad), torch.sign(student - teacher).detach())
    opt = torch.optim.SGD([student], lr=float(student.numel()))  # the loss is a mean over bits
    for _ in range(20):
        opt.zero_grad()
        distillation_loss(student, teacher, kind=kind).backward()
        opt.step()
    after = float((torch.sigmoid(student.detach()) - torch.sigmoid(teacher)).abs().sum())
    assert after < 0.5 * before
    # the teacher is frozen: no gradient flows into it
    t = teacher.clone().requires_grad_(True)
    distillation_loss(student, t, kind=kind).backward()
    assert t.grad is None


def test_distillation_rejects_different_widths():
    with pytest.raises(ValueError, match="head"):
        distillation_loss(torch.zeros(2, 12), torch.zeros(2, 24))


def test_classification_loss_single_and_multi_label():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    one_hot = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    assert float(classification_loss(logits, one_hot)) == pytest.approx(
        float(F.cross_entropy(logits, torch.tensor([0, 2]))))
    multi = torch.tensor([[1.0, 1.0, 0], [0, 1.0, 1.0]])
    assert float(classification_loss(logits, multi, multi_label=True)) == pytest.approx(
        float(F.binary_cross_entropy_with_logits(logits, multi)))


def test_objectives_compose_their_parts():
    g = torch.Generator().manual_seed(3)
    h, ht = torch.randn(6, 12, generator=g), torch.randn(6, 12, generator=g)
    logits = torch.randn(6, 10, generator=g)
    labels = F.one_hot(torch.tensor([0, 1, 1, 2, 3, 0]), 10).float()
    dsh = dsh_pairwise_loss(h, labels, 24.0, 0.01)
    assert torch.equal(student_objective("dsh", h, logits, labels, None, PARAMS), dsh)
    ce, kd = F.cross_entropy(logits, labels.argmax(1)), distillation_loss(h, ht)
    assert float(student_objective("dth", h, logits, labels, ht, PARAMS)) == pytest.approx(float(ce + kd))
    p = {"dsh": PARAMS["dsh"], "distill": {**PARAMS["distill"], "weight": 3.0, "ce_weight": 0.5,
                                           "pairwise_weight": 0.1}}
    assert float(student_objective("dth", h, logits, labels, ht, p)) == pytest.approx(
        float(0.5 * ce + 3.0 * kd + 0.1 * dsh), rel=1e-6)
    with pytest.raises(ValueError, match="teacher"):
        student_objective("dth", h, logits, labels, None, PARAMS)
    with pytest.raises(ValueError, match="method"):
        student_objective("kd", h, logits, labels, ht, PARAMS)
    heads = {12: logits, 48: logits * 2}
    assert float(teacher_objective(heads, labels)) == pytest.approx(
        float((F.cross_entropy(logits, labels.argmax(1)) + F.cross_entropy(2 * logits, labels.argmax(1))) / 2))
    assert math.isfinite(float(dsh_pairwise_loss(torch.zeros(2, 4), labels[:2], 8.0, 0.01)))
