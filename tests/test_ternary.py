"""Tests of dth/ternary.py: TTQ's forward and gradients, 2-bit packing, the packed export."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from dth import ternary as T
from dth.errors import DthError
from dth.models import Student, load_model

CONFIG = dict(bits=12, num_classes=10, in_channels=1, image_size=28, mean=[0.3], std=[0.35])


def student(seed=0):
    torch.manual_seed(seed)
    return Student(**CONFIG)


# --------------------------------------------------------------------------- gradients

def reference_loss(w, wp, wn, t, x, r):
    """An independent TTQ forward of a tiny linear layer: L = sum(r * (x @ w_t^T))."""
    delta = t * w.detach().abs().max()
    w_t = wp * (w > delta).to(w.dtype) - wn * (w < -delta).to(w.dtype)
    return (r * (x @ w_t.T)).sum()


def tiny_case():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(5, 7, generator=g, dtype=torch.float64)
    x = torch.randn(6, 7, generator=g, dtype=torch.float64)
    r = torch.randn(6, 5, generator=g, dtype=torch.float64)
    return w, x, r


def test_gradients_of_wp_wn_match_finite_differences_and_w_follows_the_rule():
    w, x, r = tiny_case()
    t = 0.3
    layer = T.TernaryLinear.from_linear(nn.Linear(7, 5, bias=False).double(), t)
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.wp.fill_(0.7)    # Wp != Wn != 1, so a wrong rule cannot pass by accident
        layer.wn.fill_(1.9)
    (r * layer(x)).sum().backward()

    pos, neg = T.ternary_sets(w, t)
    assert pos.any() and neg.any() and (~pos & ~neg).any()
    wp, wn = torch.tensor(0.7, dtype=torch.float64), torch.tensor(1.9, dtype=torch.float64)
    eps = 1e-6
    fd_wp = (reference_loss(w, wp + eps, wn, t, x, r) - reference_loss(w, wp - eps, wn, t, x, r)) / (2 * eps)
    fd_wn = (reference_loss(w, wp, wn + eps, t, x, r) - reference_loss(w, wp, wn - eps, t, x, r)) / (2 * eps)
    assert abs(fd_wn) > 1e-3  # a sign flip of dL/dWn must show
    torch.testing.assert_close(layer.wp.grad, fd_wp, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(layer.wn.grad, fd_wn, rtol=1e-6, atol=1e-8)

    # dL/dw: g = dL/dw_t from the reference forward, then Wp*g / g / Wn*g on the + / 0 / - sets
    w_t = (wp * pos - wn * neg).to(torch.float64).requires_grad_(True)
    (r * (x @ w_t.T)).sum().backward()
    g = w_t.grad
    expected = torch.where(pos, wp * g, torch.where(neg, wn * g, g))
    torch.testing.assert_close(layer.weight.grad, expected, rtol=1e-12, atol=1e-12)


def test_conv_layer_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(5)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    layer = T.TernaryConv2d.from_conv(conv, 0.2)
    x = torch.randn(2, 2, 5, 5, generator=g, dtype=torch.float64)
    r = torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64)
    (r * layer(x)).sum().backward()

    def loss(wp, wn):
        pos, neg = T.ternary_sets(layer.weight, 0.2)
        w_t = wp * pos.double() - wn * neg.double()
        return (r * nn.functional.conv2d(x, w_t, layer.bias, padding=1)).sum().detach()

    wp, wn, eps = layer.wp.detach(), layer.wn.detach(), 1e-6
    torch.testing.assert_close(layer.wp.grad, (loss(wp + eps, wn) - loss(wp - eps, wn)) / (2 * eps), rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(layer.wn.grad, (loss(wp, wn + eps) - loss(wp, wn - eps)) / (2 * eps), rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- forward values

def test_ternary_values_and_zero_set_of_a_known_tensor():
    w = torch.tensor([[0.5, -0.02, 0.1], [-1.0, 0.04, -0.3], [0.05, -0.05, 0.0]])
    # t = 0.05: delta = 0.05; |w| <= delta (boundary included) is the zero set
    layer = T.TernaryLinear.from_linear(nn.Linear(3, 3, bias=False), 0.05)
    with torch.no_grad():
        layer.weight.copy_(w)
    wp, wn = T.init_scales(w, 0.05)
    assert wp == pytest.approx((0.5 + 0.1) / 2) and wn == pytest.approx((1.0 + 0.3) / 2)
    with torch.no_grad():
        layer.wp.fill_(wp)
        layer.wn.fill_(wn)
    expected_codes = torch.tensor([[1, 0, 1], [-1, 0, -1], [0, 0, 0]], dtype=torch.int8)
    assert torch.equal(layer.ternary_codes(), expected_codes)
    tw = layer.ternary_weight()
    expected = torch.where(expected_codes > 0, torch.tensor(wp), torch.where(expected_codes < 0, torch.tensor(-wn), torch.tensor(0.0)))
    assert torch.equal(tw, expected.float())
    # t = 0.35: delta = 0.35 keeps only 0.5 and -1.0
    codes = T.ternary_sets(w, 0.35)
    assert codes[0].nonzero().tolist() == [[0, 0]] and codes[1].nonzero().tolist() == [[1, 0]]


def test_scales_initialised_to_mean_magnitude_above_threshold():
    layer = student().fc
    for t in (0.05, 0.3):
        w = layer.weight.detach()
        delta = t * w.abs().max()
        wp, wn = T.init_scales(w, t)
        assert wp == pytest.approx(w[w > delta].mean().item(), rel=1e-6)
        assert wn == pytest.approx((-w[w < -delta]).mean().item(), rel=1e-6)


# --------------------------------------------------------------------------- layer sets

def test_layer_sets_of_the_student():
    assert T.ternarize_model(student(), "fc", 0.1) == ["fc", "hash_layer", "classifier"]
    convs = ["features.0", "features.3", "features.6"]
    assert T.ternarize_model(student(), "fc+conv", 0.1) == convs + ["fc", "hash_layer", "classifier"]
    assert T.select_layers(student(), "all") == convs + ["fc", "hash_layer", "classifier"]
    m = student()
    T.ternarize_model(m, "fc", 0.1)
    assert isinstance(m.hash_layer, T.TernaryLinear) and isinstance(m.features[0], nn.Conv2d)
    assert not isinstance(m.features[0], T.TernaryConv2d)
    with pytest.raises(DthError, match="fc\\+conv"):
        T.select_layers(student(), "conv")


def test_ternarising_keeps_the_latent_weights_and_param_groups_split_the_scales():
    m = student()
    before = m.fc.weight.detach().clone()
    T.ternarize_model(m, "fc", 0.1)
    assert torch.equal(m.fc.weight, before)
    latent, scales = T.param_groups(m, lr=1e-4, scale_lr=1e-3)
    assert latent["lr"] == 1e-4 and scales["lr"] == 1e-3
    assert len(scales["params"]) == 6  # Wp, Wn of 3 layers
    assert len(latent["params"]) + 6 == len(list(m.parameters()))


def test_sparsity_grows_with_t():
    zero = {}
    for t in (0.05, 0.1, 0.2, 0.3, 0.5):
        m = student()
        T.ternarize_model(m, "fc+conv", t)
        zero[t] = T.ternary_report(m, "fc+conv")
    ts = sorted(zero)
    for name in zero[ts[0]]["layers"]:
        fractions = [zero[t]["layers"][name]["frac_zero"] for t in ts]
        assert all(a < b for a, b in zip(fractions, fractions[1:])), (name, fractions)
    for t in ts:
        for layer in zero[t]["layers"].values():
            assert layer["frac_pos"] + layer["frac_zero"] + layer["frac_neg"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- packing

@pytest.mark.parametrize("shape", [(1,), (3,), (4,), (5,), (7, 3), (2, 3, 5), (11, 1, 3, 3), (0,)])
def test_pack_unpack_round_trip(shape):
    rng = np.random.default_rng(sum(shape) + len(shape))
    values = rng.integers(-1, 2, size=shape).astype(np.int8)
    packed = T.pack_ternary(values)
    assert packed.dtype == np.uint8 and packed.shape == ((math.prod(shape) + 3) // 4,)
    np.testing.assert_array_equal(T.unpack_ternary(packed, shape), values)


def test_pack_layout_is_the_documented_one():
    # codes 1 (+), 2 (-), 0, 1 -> 1 | 2 << 2 | 0 << 4 | 1 << 6; then 2 (-) padded with zeros
    assert T.pack_ternary(np.array([1, -1, 0, 1, -1])).tolist() == [1 | 8 | 64, 2]
    with pytest.raises(ValueError, match="code 3"):
        T.unpack_ternary(np.array([3], np.uint8), (1,))
    with pytest.raises(ValueError):
        T.pack_ternary(np.array([2]))


# --------------------------------------------------------------------------- export / load

def trained_ternary_student(layer_set: str, t: float = 0.05, steps: int = 3):
    """A ternary student moved a few Adam steps away from its initialisation (random data)."""
    m = student()
    T.ternarize_model(m, layer_set, t)
    opt = torch.optim.Adam(T.param_groups(m, 1e-3, 1e-2))
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.rand(16, 1, 28, 28, generator=g)
        y = torch.randint(0, 10, (16,), generator=g)
        h, logits = m(x)
        loss = nn.functional.cross_entropy(logits, y) + h.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


def theoretical_bytes(model) -> int:
    """2 bits per ternary weight (rounded up per layer) + 2 float32 scales + every other tensor as is."""
    layers = T.ternary_layers(model)
    total = 0
    for key, v in model.state_dict().items():
        owner, _, leaf = key.rpartition(".")
        if owner in layers and leaf == "weight":
            total += (v.numel() + 3) // 4 + 8
        elif not (owner in layers and leaf in ("wp", "wn")):
            total += v.numel() * v.element_size()
    return total


@pytest.mark.parametrize("layer_set", ["fc", "fc+conv"])
def test_load_packed_gives_identical_codes(tmp_path, layer_set):
    m = trained_ternary_student(layer_set)
    path = tmp_path / "m.npz"
    T.export_packed(m, path, "student", CONFIG, layer_set, meta={"bits": 12})
    loaded = T.load_packed(path)
    assert type(loaded) is Student and loaded.packed_header["layer_set"] == layer_set
    x = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        h_mem, h_packed = m.hash(x), loaded.hash(x)
    assert torch.equal(h_mem, h_packed)            # same floats, hence the same codes
    assert torch.equal(h_mem > 0, h_packed > 0)
    for name, layer in T.ternary_layers(m).items():
        w = loaded.get_submodule(name).weight
        assert torch.equal(w, layer.ternary_weight().detach())
        assert len(torch.unique(w)) <= 3


def test_packed_file_size_is_the_theoretical_one(tmp_path):
    m = trained_ternary_student("fc")
    path = tmp_path / "m.npz"
    size = T.export_packed(m, path, "student", CONFIG, "fc")
    assert path.stat().st_size == size
    expected = theoretical_bytes(m)
    assert abs(size - expected) / expected < 0.05, (size, expected)
    report = T.ternary_report(m, "fc", path)
    assert report["model_ternary_bytes"] == expected
    assert report["packed_file_bytes"] == size
    assert report["fc_compression"] > 15  # 2-bit weights + fp32 biases of fc, hash_layer, classifier
    assert report["ternary_layers"] == ["fc", "hash_layer", "classifier"]
    assert report["full_precision_layers"] == ["features.0", "features.3", "features.6"]


def test_ternary_checkpoint_round_trip(tmp_path):
    m = trained_ternary_student("fc")
    path = tmp_path / "m.pt"
    T.save_ternary_checkpoint(path, m, "student", CONFIG, "fc", meta={"stage": "test"})
    x = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    plain, ckpt = load_model(path)       # what `dth encode` reads: the dense ternary model
    trainable, _ = T.load_ternary_checkpoint(path)
    with torch.no_grad():
        assert torch.equal(plain.hash(x), m.hash(x))
        assert torch.equal(trainable.hash(x), m.hash(x))
    assert ckpt["meta"]["stage"] == "test" and ckpt["meta"]["ternary"]["layers"] == ["fc", "hash_layer", "classifier"]
    assert torch.equal(trainable.fc.weight, m.fc.weight)  # latent weights kept for further training


def test_bad_packed_files_are_dth_errors(tmp_path):
    with pytest.raises(DthError, match="does not exist"):
        T.load_packed(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DthError, match="bad.npz"):
        T.load_packed(bad)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(DthError, match="not a packed ternary model"):
        T.load_packed(other)
    m = trained_ternary_student("fc", steps=0)
    arrays = T.packed_arrays(m, "student", CONFIG, "fc")
    del arrays["hash_layer.scales"]
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, **arrays)
    with pytest.raises(DthError, match="hash_layer.scales"):
        T.load_packed(truncated)


# --------------------------------------------------------------------------- the stage

def test_ternarize_stage_end_to_end(tmp_path):
    """dth ternarize on tiny fake data: an untrained student, fake cached teacher outputs, 1 epoch."""
    import json

    import yaml

    from dth.cli import main as dth
    from dth.data import load_manifest, load_split
    from dth.models import save_model
    from dth.prepare import prepare
    from tests.fakes import make_tiny_fashion_mnist, write_params

    src = make_tiny_fashion_mnist(tmp_path / "src", n_train=120, n_test=30)
    params_path = write_params(tmp_path / "params.yaml", root=str(src), protocol="full")
    params = yaml.safe_load(params_path.read_text())
    params["student"].update(batch_size=32, val_queries=20, val_database=60)
    params["quantize"]["epochs"] = 1
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    data = tmp_path / "prepared"
    prepare(params["data"], data)
    n_train = len(load_split(data, "train")[1])
    assert load_manifest(data)["image_shape"][:2] == [28, 28]

    save_model(tmp_path / "dth-12-s0.pt", student(), "student", CONFIG, {"teacher_sha256": "abc"})
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "teacher-train-hash.npz", teacher_sha256=np.array("abc"),
             hash_12=rng.standard_normal((n_train, 12)).astype(np.float32),
             hash_12_flip=rng.standard_normal((n_train, 12)).astype(np.float32))
    out = tmp_path / "ttq-fc-12-t0.1"
    argv = ["ternarize", "--params", str(params_path), "--bits", "12", "--t", "0.1", "--layers", "fc",
            "--student", str(tmp_path / "dth-12-s0.pt"), "--teacher-outputs", str(tmp_path / "teacher-train-hash.npz"),
            "--data", str(data), "--out", f"{out}.pt", "--packed", f"{out}.npz", "--report", f"{out}.json",
            "--curve", f"{out}.csv", "--device", "cpu", "--checkpoints", str(tmp_path / "ck"), "--no-progress"]
    assert dth(argv) == 0
    report = json.loads(Path(f"{out}.json").read_text())
    assert report["ternary_layers"] == ["fc", "hash_layer", "classifier"] and report["packed_codes_identical"]
    assert report["fc_compression"] > 15 and report["t"] == 0.1
    assert Path(f"{out}.csv").read_text().splitlines()[0].startswith("epoch,step,loss")
    assert not (tmp_path / "ck" / out.name).exists()          # the finished run removed its checkpoint
    x = torch.rand(10, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(load_model(f"{out}.pt")[0].hash(x), T.load_packed(f"{out}.npz").hash(x))

    # same params and seed: the same ternary model
    again = [a.replace(str(out), str(tmp_path / "again")) for a in argv]
    assert dth(again) == 0
    with np.load(f"{out}.npz") as a, np.load(tmp_path / "again.npz") as b:
        assert a.files == b.files
        for key in a.files:
            if key != "__config__":  # holds the output paths
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)

    # bad input: one line, exit 2, nothing written
    bad = argv.copy()
    bad[bad.index("--t") + 1] = "1.5"
    bad[bad.index("--out") + 1] = str(tmp_path / "never.pt")
    assert dth(bad) == 2
    assert not (tmp_path / "never.pt").exists()
    bad = argv.copy()
    bad[bad.index("--bits") + 1] = "24"
    assert dth(bad) == 2
