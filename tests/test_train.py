"""The training loop: augmentation, schedule, determinism, resume, NaN stop; the two stages end to end."""

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dth.errors import DthError
from dth.losses import student_objective, top1_accuracy
from dth.models import Student
from dth.params import load_params
from dth.train import TrainConfig, TrainSet, augment_batch, checkpoint_path, fit, lr_factor

PARAMS = {"dsh": {"margin_factor": 2.0, "alpha": 0.01},
          "distill": {"ce_weight": 1.0, "weight": 1.0, "temperature": 1.0, "loss": "bce", "pairwise_weight": 0.0}}
CPU = torch.device("cpu")


def tiny_set(n=32, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
    labels = F.one_hot(torch.randint(0, 4, (n,), generator=g), 4).float()
    return TrainSet(images, labels, {"teacher_h": torch.randn(n, 8, generator=g)})


def new_student(seed=0):
    torch.manual_seed(seed)
    return Student(bits=8, num_classes=4, in_channels=1, image_size=16, mean=[0.5], std=[0.3])


def dth_loss(m, x, y, extras):
    h, logits = m(x)
    return student_objective("dth", h, logits, y, extras["teacher_h"], PARAMS), top1_accuracy(logits.detach(), y)


# the default params.yaml's student settings (TrainConfig has no defaults of its own), each test's own on top
STUDENT = TrainConfig.from_section(load_params(Path(__file__).parents[1] / "params.yaml")["student"])
CFG = replace(STUDENT, epochs=3, batch_size=16, optimizer="adam", lr=1e-3, schedule="cosine", warmup_epochs=1)


def test_augment_batch_is_a_crop_or_flipped_crop_of_each_image():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (6, 2, 7, 5), generator=g, dtype=torch.uint8)
    out, flipped = augment_batch(x, torch.Generator().manual_seed(1), pad=2)
    assert out.shape == x.shape and out.dtype == x.dtype and flipped.shape == (6,)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):
        candidates = [(padded[i, :, dy:dy + 7, dx:dx + 5], f) for dy in range(5) for dx in range(5) for f in (0, 1)]
        matches = {f for c, f in candidates if torch.equal(out[i], c.flip(2) if f else c)}
        assert matches, f"image {i} is not a crop of its padded input"
        assert bool(flipped[i]) in matches  # the returned mask says which way it went
    # and the same generator state gives the same batch
    again, flipped_again = augment_batch(x, torch.Generator().manual_seed(1), pad=2)
    assert torch.equal(out, again) and torch.equal(flipped, flipped_again)


def test_augment_batch_flip_only_keeps_every_pixel():
    x = torch.randint(0, 256, (64, 1, 6, 6), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    out, flipped = augment_batch(x, torch.Generator().manual_seed(3), pad=4, crop=False)
    assert 0 < int(flipped.sum()) < 64
    assert torch.equal(out[flipped], x[flipped].flip(3)) and torch.equal(out[~flipped], x[~flipped])


def test_view_dependent_targets_follow_the_flip():
    """Each image's target is the one computed for the view the model sees: a model that sees
    a flipped image gets the flipped image's target (flip_extras), never the plain one's."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (24, 1, 4, 4), generator=g, dtype=torch.uint8)
    code = lambda im: im.float().flatten(1)[:, :8]  # a "teacher" whose output depends on the view
    data = TrainSet(images, F.one_hot(torch.arange(24) % 4, 4).float(),
                    {"teacher_h": code(images)}, {"teacher_h": code(images.flip(3))})
    seen = {"flipped": 0, "plain": 0}

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x

    def step_loss(m, x, y, extras):
        target = code((x * 255).round().to(torch.uint8))
        assert torch.equal(extras["teacher_h"], target), "a target of another view"
        flips = (x != x.flip(3)).flatten(1).any(1)  # images that are not their own mirror image
        seen["flipped"] += int(flips.sum())
        return (m.w * 0).sum() + m.w.sum() ** 2, None

    fit(Probe(), step_loss, data, replace(STUDENT, epochs=3, batch_size=8, augment="flip"), seed=0, device=CPU,
        name="probe", checkpoint_dir=None, progress=False)
    assert seen["flipped"] > 0
    with pytest.raises(DthError, match="crop\\+flip.*teacher_h.*flip or none.*online"):
        fit(Probe(), step_loss, data, replace(STUDENT, epochs=1, batch_size=8, augment="crop+flip"), seed=0, device=CPU,
            name="probe", checkpoint_dir=None, progress=False)


def test_lr_schedule():
    assert lr_factor(0, 100, 10, "cosine") == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(99, 100, 10, "cosine") < 0.001
    assert [lr_factor(s, 100, 0, "step") for s in (0, 49, 50, 75, 99)] == [1, 1, 0.1, 0.01, 0.01]
    assert lr_factor(70, 100, 0, "constant") == 1.0
    # constant with a final decay: 1 until the last 10 steps, then linear towards 0
    decayed = [lr_factor(s, 100, 5, "constant", decay_steps=10) for s in range(100)]
    assert decayed[5:90] == [1.0] * 85
    assert decayed[90:] == pytest.approx([(10 - i) / 11 for i in range(10)])
    assert all(a > b for a, b in zip(decayed[89:], decayed[90:]))
    assert lr_factor(99, 100, 0, "cosine", decay_steps=10) == lr_factor(99, 100, 0, "cosine")  # constant only


def test_same_seed_gives_identical_weights(tmp_path):
    a, b = new_student(), new_student()
    fit(a, dth_loss, tiny_set(), CFG, seed=3, device=CPU, name="a", checkpoint_dir=None, progress=False)
    fit(b, dth_loss, tiny_set(), CFG, seed=3, device=CPU, name="b", checkpoint_dir=None, progress=False)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = new_student()
    fit(c, dth_loss, tiny_set(), CFG, seed=4, device=CPU, name="c", checkpoint_dir=None, progress=False)
    assert not torch.equal(c.state_dict()["fc.weight"], sa["fc.weight"])


def test_seed_everything_seeds_and_asks_for_deterministic_kernels():
    # A fresh interpreter, so that no other test's torch state is read
    code = ("import torch; from dth.train import seed_everything; seed_everything(3); a = torch.rand(4); "
            "seed_everything(3); b = torch.rand(4); "
            "print(torch.are_deterministic_algorithms_enabled(), torch.initial_seed(), bool(torch.equal(a, b)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "3", "True"]


def test_resume_after_interruption_gives_the_same_weights(tmp_path):
    whole = new_student()
    rows = fit(whole, dth_loss, tiny_set(), CFG, seed=0, device=CPU, name="whole",
               checkpoint_dir=tmp_path / "ck", curve=tmp_path / "whole.csv", progress=False)

    calls = {"n": 0}

    def interrupted(m, x, y, extras):
        calls["n"] += 1
        if calls["n"] == 2 * 2 + 2:  # second step of epoch 3 (2 steps per epoch)
            raise KeyboardInterrupt
        return dth_loss(m, x, y, extras)

    part = new_student()
    with pytest.raises(KeyboardInterrupt):
        fit(part, interrupted, tiny_set(), CFG, seed=0, device=CPU, name="part",
            checkpoint_dir=tmp_path / "ck", curve=tmp_path / "part.csv", progress=False)
    assert torch.load(checkpoint_path(tmp_path / "ck", "part"), weights_only=False)["epoch"] == 2
    resumed = new_student(seed=99)  # the checkpoint, not the initialisation, decides
    rows2 = fit(resumed, dth_loss, tiny_set(), CFG, seed=0, device=CPU, name="part",
                checkpoint_dir=tmp_path / "ck", curve=tmp_path / "part.csv", progress=False)
    sw, sr = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(sw[k], sr[k]) for k in sw)
    assert [r["loss"] for r in rows2] == [r["loss"] for r in rows]
    with open(tmp_path / "part.csv") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["epoch", "step", "loss", "train_acc", "val_acc", "val_map", "lr", "seconds"]
    assert [int(r["epoch"]) for r in table] == [1, 2, 3] and [int(r["step"]) for r in table] == [2, 4, 6]


def test_checkpoint_of_other_settings_is_ignored(tmp_path):
    a = new_student()
    fit(a, dth_loss, tiny_set(), CFG, seed=0, device=CPU, name="r", run_id="one",
        checkpoint_dir=tmp_path, progress=False)
    b = new_student()
    rows = fit(b, dth_loss, tiny_set(), CFG, seed=0, device=CPU, name="r", run_id="two",
               checkpoint_dir=tmp_path, progress=False)
    assert len(rows) == 3 and rows[0]["epoch"] == 1
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_nan_loss_stops_with_epoch_and_step():
    def nan_at_step_5(m, x, y, extras, calls=[0]):
        calls[0] += 1
        loss, acc = dth_loss(m, x, y, extras)
        return (loss * float("nan") if calls[0] == 5 else loss), acc
    with pytest.raises(DthError, match=r"nan at epoch 3, step 1"):
        fit(new_student(), nan_at_step_5, tiny_set(), CFG, seed=0, device=CPU, name="n",
            checkpoint_dir=None, progress=False)


def test_param_groups_get_their_own_scheduled_lr():
    m = new_student()
    groups = [{"params": [p for n, p in m.named_parameters() if not n.startswith("fc.")]},
              {"params": list(m.fc.parameters()), "lr": 0.0}]
    before = m.fc.weight.detach().clone()
    cfg = replace(STUDENT, epochs=1, batch_size=16, lr=1e-3, schedule="constant", warmup_epochs=0, decay_epochs=0)
    rows = fit(m, dth_loss, tiny_set(), cfg, seed=0, device=CPU, name="g", checkpoint_dir=None,
               param_groups=groups, progress=False)
    assert torch.equal(m.fc.weight, before) and rows[0]["lr"] == pytest.approx(1e-3)


def write_prepared(root, n_train=40, n_query=12, n_db=30, size=16, classes=3):
    """A tiny dataset in dth/data.py's layout: class c images are brighter in band c."""
    g = np.random.default_rng(0)
    root.mkdir()
    counts = {}
    for split, n in [("train", n_train), ("query", n_query), ("database", n_db)]:
        y = np.arange(n) % classes
        x = g.integers(0, 60, (n, size, size, 1)).astype(np.uint8)
        for i, c in enumerate(y):
            x[i, c * 5:(c + 1) * 5] += 150
        np.save(root / f"{split}_images.npy", x)
        np.save(root / f"{split}_labels.npy", np.eye(classes, dtype=np.uint8)[y])
        counts[split] = n
    (root / "manifest.json").write_text(json.dumps({
        "format": "dth-prepared/1", "dataset": "fashion-mnist", "protocol": "1k", "split_seed": 0,
        "num_classes": classes, "class_names": list("abc"), "image_shape": [size, size, 1], "counts": counts}))


def test_stages_end_to_end(tmp_path, monkeypatch):
    import yaml
    from dth.cli import main
    from dth.models import load_model
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "prepared")
    params = yaml.safe_load(open(__file__.rsplit("/tests/", 1)[0] + "/params.yaml"))
    params["bits"] = [8, 12]
    params["teacher"].update(epochs=1, batch_size=20, val_queries=6, val_database=12, amp="none")
    params["student"].update(epochs=2, decay_epochs=1, batch_size=20, val_queries=6, val_database=12)
    yaml.safe_dump(params, open("params.yaml", "w"))
    assert main(["train-teacher", "--data", "prepared", "--out", "models/teacher.pt", "--curve", "teacher.csv",
                 "--train-outputs", "models/teacher-train-hash.npz", "--device", "cpu", "--no-progress"]) == 0
    teacher, obj = load_model("models/teacher.pt")
    with np.load("models/teacher-train-hash.npz") as f:
        assert f["hash_8"].shape == (40, 8) and f["hash_12"].dtype == np.float32
    assert not (tmp_path / "checkpoints" / "teacher").exists()
    for method in ("dsh", "dth"):
        assert main(["train-student", "--bits", "12", "--method", method, "--data", "prepared",
                     "--teacher", "models/teacher.pt", "--out", f"models/{method}-12-s0.pt",
                     "--curve", f"{method}.csv", "--device", "cpu", "--no-progress"]) == 0
        student, obj = load_model(f"models/{method}-12-s0.pt")
        assert student.bits == 12 and obj["meta"]["method"] == method
        rows = list(csv.DictReader(open(f"{method}.csv")))
        assert len(rows) == 2 and 0 <= float(rows[-1]["val_map"]) <= 1
        assert (rows[-1]["val_acc"] == "") == (method == "dsh")
    assert main(["train-student", "--bits", "24", "--method", "dth", "--data", "prepared",
                 "--device", "cpu"]) == 2
    # online: the frozen teacher encodes each augmented batch instead of the cached outputs
    params["distill"]["teacher_outputs"] = "online"
    yaml.safe_dump(params, open("online.yaml", "w"))
    assert main(["train-student", "--params", "online.yaml", "--bits", "8", "--method", "dth", "--data", "prepared",
                 "--teacher", "models/teacher.pt", "--teacher-outputs", "missing.npz", "--out", "models/on.pt",
                 "--curve", "on.csv", "--device", "cpu", "--no-progress"]) == 0
    # cache mode with a missing outputs file: one-line error, exit 2
    assert main(["train-student", "--bits", "8", "--method", "dth", "--data", "prepared", "--teacher",
                 "models/teacher.pt", "--teacher-outputs", "missing.npz", "--device", "cpu"]) == 2


def test_train_backbone_trains_every_head_of_the_teachers_network(tmp_path, monkeypatch):
    """dth train-backbone: a compared method on the teacher's network, one head per k, trained by
    the mean of the heads' losses; the checkpoint encodes like the teacher's; a method that is
    not in params backbone_methods is refused."""
    import torch
    import yaml
    from dth.baselines import baseline_loss
    from dth.cli import main
    from dth.models import load_model
    from dth.train_backbone import head_losses
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "prepared")
    params = yaml.safe_load(open(__file__.rsplit("/tests/", 1)[0] + "/params.yaml"))
    params["bits"] = [8, 12]
    params["backbone_methods"] = ["greedyhash", "csq"]
    params["teacher"].update(epochs=1, batch_size=20, val_queries=6, val_database=12, amp="none")
    yaml.safe_dump(params, open("params.yaml", "w"))
    for method in ("greedyhash", "csq"):
        assert main(["train-backbone", "--method", method, "--data", "prepared", "--out", f"models/{method}.pt",
                     "--curve", f"{method}.csv", "--device", "cpu", "--no-progress"]) == 0
        model, obj = load_model(f"models/{method}.pt")
        assert obj["kind"] == "teacher" and model.bits == [8, 12] and obj["meta"]["method"] == method
        rows = list(csv.DictReader(open(f"{method}.csv")))
        assert len(rows) == 1 and 0 <= float(rows[-1]["val_map"]) <= 1 and rows[-1]["val_acc"] == ""
        assert not (tmp_path / "checkpoints" / method).exists()
    assert main(["encode", "--model", "models/csq.pt", "--data", "prepared", "--out", "codes/csq-{bits}.npz",
                 "--speed", "speed.json", "--device", "cpu"]) == 0
    assert (tmp_path / "codes" / "csq-8.npz").exists() and (tmp_path / "codes" / "csq-12.npz").exists()
    assert main(["train-backbone", "--method", "dsh", "--data", "prepared", "--out", "models/dsh.pt",
                 "--curve", "dsh.csv", "--device", "cpu"]) == 2  # not in backbone_methods
    # the loss is the mean of each head's own loss, with that head's classifier (GreedyHash)
    torch.manual_seed(0)
    model, _ = load_model("models/greedyhash.pt")
    x, y = torch.rand(6, 1, 16, 16), torch.eye(3)[torch.arange(6) % 3]
    hs, logits = model(x)
    expected = torch.stack([baseline_loss("greedyhash", hs[k], logits[k], y, params,
                                          classifier_weight=model.classifiers[str(k)].weight) for k in (8, 12)]).mean()
    got = head_losses("greedyhash", hs, logits, y, params, model=model, multi_label=False, epoch=0, centres={})
    assert torch.allclose(got, expected)
    got.backward()
    assert model.classifiers["8"].weight.grad.abs().sum() > 0 and model.backbone.conv1.weight.grad.abs().sum() > 0
