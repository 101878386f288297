"""The CIFAR-10 and NUS-WIDE presets run end to end at their real shapes, on CPU.

Each preset's params with only sizes shrunk (one code length, seed and threshold, one epoch,
small batches, a few dozen images written in the dataset's upstream format): the real
architectures (a ResNet-50 teacher started from ImageNet-shaped weights in a temporary
TORCH_HOME, seeing 224 px; the DSH student at the dataset's own size), every compared method
of the preset, run to a report: every command that `dvc repro` would run for the preset, as
`dvc repro --dry --force` lists them and in its order, each run in this process (`dth.cli.main`).
In this process because a stage's start-up (Python, torch, DVC's own bookkeeping) was most of
these runs' time and `make test` must fit 10 minutes; DVC's bookkeeping of a finished run
(dvc.lock, the cache, `dvc status`) is checked on the same dvc.yaml by the tiny pipeline
(tests/test_dag.py, tests/test_dvc_remote.py). `prepare` runs first with two facts patched:
torchvision checks CIFAR-10's files against the real dataset's md5s, and NUS-WIDE's 2100
protocol needs some 13,000 images (tests/test_prepare.py runs the readers and protocols
themselves). Marked slow: about a minute per preset on 2 cores.
"""

import json
import shlex

import numpy as np
import pytest
import yaml

from dth import splits
from dth.cli import main as dth_main
from dth.models import load_model
from dth.names import student_name, ternary_name
from tests.fakes import make_tiny_cifar10, make_tiny_nus_wide, patch_cifar10_md5, write_fake_imagenet_weights
from tests.test_dag import REPO, checkout_copy, dvc_commands


def shrunk(preset: str, root: str) -> dict:
    """The preset's params with the sizes cut to what a test can run; every other key as committed."""
    p = yaml.safe_load((REPO / "configs" / f"{preset}.yaml").read_text())
    p.update(bits=p["bits"][:1], seeds=[0], seed=0, baseline_seeds=[0])
    p["data"]["root"] = root
    for section in ("teacher", "student"):
        p[section].update(epochs=1, batch_size=8, warmup_epochs=0, val_queries=8, val_database=16)
    p["student"]["decay_epochs"] = 0
    p["quantize"].update(t=p["quantize"]["t"][:1], epochs=1)
    p["quantize"]["compare_t"] = p["quantize"]["t"][0]
    p["encode"]["batch_size"] = 16
    p["evaluate"].update(precision_at=10, topk=None if p["evaluate"]["topk"] is None else 10)
    p["service"].update(database_sizes=[20, 60], search_queries=5, search_seconds=0.01, encode_queries=10, warmup=0,
                        ternary_t=p["quantize"]["t"][0])
    return p


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["cifar10", "nus-wide"])
def test_preset_runs_end_to_end_at_its_real_shapes(preset, tmp_path, monkeypatch):
    committed = yaml.safe_load((REPO / "configs" / f"{preset}.yaml").read_text())
    assert committed["teacher"]["pretrained"] == "imagenet" and committed["teacher"]["input_size"] == 224
    assert committed["teacher"]["arch"] == "resnet50"
    raw = tmp_path / "raw"
    if preset == "cifar10":
        patch_cifar10_md5(monkeypatch, make_tiny_cifar10(raw, n_per_batch=8, n_test=8))
        params = shrunk(preset, str(raw))
        params["data"]["protocol"] = "full"  # the files' own split: 40 train and database, 8 query images
        side = 32
    else:
        rng = np.random.default_rng(0)
        labels = (rng.random((84, 21)) < 0.15).astype(np.uint8)
        labels[np.arange(84), np.arange(84) % 21] = 1  # every concept on 4 images, every image labelled
        make_tiny_nus_wide(raw, labels, size=16)
        # 1 query and 2 train images per concept instead of 100 and 500
        monkeypatch.setitem(splits.PROTOCOLS["nus-wide"], "2100", splits.Protocol("disjoint", 1, 2))
        params = shrunk(preset, str(raw))
        side = params["data"]["image_size"]
    torch_home = tmp_path / "torch-home"
    weights_file, weights = write_fake_imagenet_weights(torch_home, params["teacher"]["arch"])
    work = checkout_copy(tmp_path / "repo", params)

    commands = dvc_commands(work, ordered=True)
    assert commands[0] == "dth prepare --params params.yaml --out data/prepared", commands[:2]
    assert {c.split()[1] for c in commands} == {"prepare", "train-teacher", "train-student", "ternarize", "encode",
                                                "evaluate", "service", "claims", "report", "gallery"}, commands
    monkeypatch.chdir(work)
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    for command in commands:
        assert dth_main(shlex.split(command)[1:]) == 0, command

    teacher, ckpt = load_model(work / "models" / "teacher.pt")
    assert ckpt["config"]["arch"] == "resnet50" and ckpt["config"]["input_size"] == 224
    assert ckpt["config"]["image_size"] == side
    assert tuple(teacher.backbone.conv1.weight.shape) == (64, 3, 7, 7)  # torchvision's stem, as the weights
    assert ckpt["config"]["mean"] == pytest.approx([0.485, 0.456, 0.406])  # ImageNet's normalisation
    k = params["bits"][0]
    student, s_ckpt = load_model(work / "models" / f"{student_name('dth', k, 0)}.pt")
    assert s_ckpt["config"]["image_size"] == side  # the student keeps the dataset's own size
    for method in ["dth", "dsh", *params["baselines"]]:
        assert (work / "results" / "metrics" / f"{student_name(method, k, 0)}.json").is_file(), method
    assert (work / "codes" / f"{ternary_name(params['quantize']['layers'], k, params['quantize']['t'][0])}.npz").is_file()
    summary = json.loads((work / "results" / "summary.json").read_text())
    claims = json.loads((work / "results" / "claims.json").read_text())["claims"]
    assert str(k) in summary["dth_map"] and str(k) in claims["6a"]["by_k"] and str(k) in claims["7"]["by_k"]
    report = (work / "results" / "REPORT.md").read_text()
    assert "### 6a." in report and ("mAP@10" in report) == (preset == "nus-wide")
    assert weights_file.is_file()  # read from the cache, not downloaded elsewhere

