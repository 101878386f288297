"""Every key of params.yaml changed at once to another valid value: `dvc exp run -S ...` on a
finished tiny run (a copy of tests/tiny.py's `dvc repro`, made by whichever pytest-xdist worker
ran it) finishes, `dvc exp show` records it and `dvc exp diff` compares it with its baseline.
The fast test checks that CANDIDATES names every key and that the changed params validate.
"""

import json
import subprocess

import pandas as pd
import pytest
import yaml

from dth.params import flat_keys
from tests.test_dag import ENV, REPO, run, tiny_params
from tests.tiny import dvc_run_copy

# For every key of params.yaml, candidate values; the experiment takes, for each key, the
# first candidate that differs from the tiny run's value, so each key is changed at once to
# another valid value (the values are chosen to fit together and the tiny data).
CANDIDATES = {
    "seed": [1, 0], "bits": [[12], [8]], "seeds": [[1], [0]],
    "baselines": [["csq"], ["greedyhash"]],  # csq at 12 bits: the random-centre branch
    "baseline_seeds": [[1], [0]],  # with seeds [1]
    "backbone_methods": [["csq"], []],  # a compared method on the teacher's network, its stages and claim 6 table
    "data.root": None,  # set by the test: a smaller tiny data set in another folder
    "data.download": [True, False], "data.image_size": [32, 64], "data.split_seed": [1, 0],
    "teacher.arch": ["resnet34", "resnet18"], "teacher.stem_stride": [1, 2], "teacher.epochs": [2, 1],
    # ImageNet-shaped weights for resnet34 in the experiment's TORCH_HOME (below); 64 px: torchvision's stem
    "teacher.pretrained": ["imagenet", "none"], "teacher.input_size": [64, None],
    "teacher.batch_size": [64, 32], "teacher.optimizer": ["sgd", "adam"], "teacher.lr": [0.01, 0.02],
    "teacher.weight_decay": [1e-4, 0.0], "teacher.schedule": ["step", "cosine"], "teacher.warmup_epochs": [1, 0],
    "teacher.amp": ["none", "bf16"], "teacher.augment": ["flip", "none"], "teacher.crop_pad": [2, 3],
    "teacher.val_queries": [10, 20], "teacher.val_database": [50, 100],
    "student.epochs": [2, 1], "student.batch_size": [64, 32], "student.optimizer": ["sgd", "adam"],
    "student.lr": [0.01, 0.02], "student.weight_decay": [1e-4, 0.0], "student.schedule": ["step", "cosine"],
    "student.warmup_epochs": [1, 0], "student.decay_epochs": [1, 0], "student.amp": ["none", "bf16"],
    "student.augment": ["crop+flip", "none"],  # crop+flip: valid with teacher_outputs online (below)
    "student.crop_pad": [2, 3], "student.val_queries": [10, 20], "student.val_database": [50, 100],
    "student.baseline_validate_every": [2, 5],
    "ce.lr": [0.01, 0.005], "ce.weight_decay": [1e-4, 0.0], "ce.epochs_factor": [2, 1],
    "dpsh.eta": [0.2, 0.1], "dpsh.lr": [0.01, 0.005], "dpsh.weight_decay": [1e-4, 0.0], "dpsh.epochs_factor": [2, 1],
    "dpsh.init_scale": [10.0, 1.0], "dpsh.memory_bank": [True, False],
    "hashnet.alpha_factor": [5.0, 10.0], "hashnet.beta_step_epochs": [1, 10], "hashnet.lr": [0.01, 0.005],
    "hashnet.weight_decay": [1e-4, 0.0], "hashnet.epochs_factor": [2, 1],
    "dch.gamma": [10.0, 20.0], "dch.lambda": [0.2, 0.1], "dch.lr": [0.01, 0.005], "dch.weight_decay": [1e-4, 0.0],
    "dch.epochs_factor": [2, 1],
    "greedyhash.alpha": [0.2, 0.1], "greedyhash.lr": [0.01, 0.005], "greedyhash.weight_decay": [1e-4, 0.0],
    "greedyhash.epochs_factor": [2, 1],
    "csq.lambda": [1e-3, 1e-4], "csq.centre_seed": [1, 0], "csq.lr": [0.01, 0.005], "csq.weight_decay": [1e-4, 0.0],
    "csq.epochs_factor": [2, 1],
    "dsh.margin_factor": [1.5, 2.0], "dsh.alpha": [0.02, 0.01],
    "distill.ce_weight": [0.5, 1.0], "distill.weight": [2.0, 1.0], "distill.temperature": [2.0, 1.0],
    "distill.loss": ["mse", "bce"], "distill.pairwise_weight": [0.1, 0.0], "distill.teacher_outputs": ["online", "cache"],
    "quantize.t": [[0.2], [0.1]], "quantize.layers": ["fc+conv", "fc"], "quantize.compare_layers": ["all", "fc"],
    "quantize.compare_t": [0.15, 0.1], "quantize.epochs": [2, 1], "quantize.lr": [1e-4, 1e-3],
    "quantize.scale_lr": [1e-4, 1e-3],
    "convergence.share": [0.9, 0.95],
    "encode.batch_size": [7, 1024], "encode.amp": ["none", "bf16"],
    "evaluate.topk": [50, None], "evaluate.precision_at": [30, 100], "evaluate.radius": [3, 2],
    "search.index": ["hash", "flat"], "search.topk": [5, 10], "search.hash_bits": [8, 16], "search.nflip": [1, 2],
    "claims.confidence": [0.9, 0.95], "claims.min_speedup": [5.0, 10], "claims.max_map_price": [1.0, 3.0],
    "service.database_sizes": [[300, 600], [300, 1000]], "service.growth_noise": [0.5, 0.25],
    "service.topk": [5, 10], "service.search_queries": [6, 5], "service.search_seconds": [0.1, 0.05],
    "service.encode_queries": [12, 10], "service.warmup": [2, 1],
    "service.ternary_t": [0.2, 0.1],  # one of quantize.t's other value above
}
# Keys whose other values need data the tiny DAG cannot have (torchvision checks CIFAR-10's
# md5s; the sampled protocols need thousands of images): their other values are run by
# tests/test_prepare.py on fakes in the upstream formats, through the same `prepare` code.
COVERED_BY_TEST_PREPARE = {"data.dataset", "data.protocol"}


def other_values(base: dict, data_root: str) -> dict:
    """{key: another valid value} for every key of `base` (tiny params), as described above."""
    values = {}
    flat = flat_keys(base)
    for key, candidates in CANDIDATES.items():
        if key == "data.root":
            values[key] = data_root
            continue
        values[key] = next(c for c in candidates if c != flat[key])
    return values


def test_every_params_key_has_another_value_that_validates(tmp_path):
    from dth.params import validate

    base = tiny_params(tmp_path / "data")
    keys = set(flat_keys(yaml.safe_load((REPO / "params.yaml").read_text())))
    assert keys == set(CANDIDATES) | COVERED_BY_TEST_PREPARE, "params.yaml and CANDIDATES disagree: " + str(
        sorted(keys ^ (set(CANDIDATES) | COVERED_BY_TEST_PREPARE)))
    values = other_values(base, str(tmp_path / "elsewhere"))
    flat = flat_keys(base)
    assert all(values[k] != flat[k] for k in values)
    changed = yaml.safe_load(yaml.safe_dump(base))
    for key, value in values.items():
        node = changed
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    validate(changed, source="changed")  # raises ParamsError naming the key if one is not valid


@pytest.mark.slow
def test_every_params_key_changed_runs_to_a_recorded_comparable_experiment(tmp_path, tmp_path_factory):
    """`dvc exp run -S key=value` for every key at once: the experiment finishes, `dvc exp show`
    records it with the summary metrics, `dvc exp diff` compares it key by key with the
    baseline, and its report lists exactly the models of its own params."""
    # in a copy: the experiment changes the workspace, and the session's tiny run is shared
    by_dvc = dvc_run_copy(tmp_path_factory, tmp_path / "repo")
    base = yaml.safe_load((by_dvc / "params.yaml").read_text())
    # data.root: another folder of Fashion-MNIST files, smaller than the tiny run's (100 train and 30
    # test images against 300 and 50): every stage of the experiment retrains, on a third of the images
    from tests.fakes import make_tiny_fashion_mnist
    elsewhere = make_tiny_fashion_mnist(tmp_path / "fashion-mnist-elsewhere", n_train=100, n_test=30, seed=1)
    values = other_values(base, str(elsewhere))
    subprocess.run(["git", "add", "-A"], cwd=by_dvc, check=True, capture_output=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny run"],
                   cwd=by_dvc, check=True, capture_output=True)
    sets = [x for key, value in values.items() for x in ("-S", f"{key}={json.dumps(value)}")]
    from tests.fakes import write_fake_imagenet_weights
    write_fake_imagenet_weights(tmp_path / "torch-home", values["teacher.arch"])
    run(["dvc", "exp", "run", "-n", "every-key", *sets], by_dvc, timeout=1500,
        env={**ENV, "TORCH_HOME": str(tmp_path / "torch-home")})

    names = json.dumps(json.loads(run(["dvc", "exp", "show", "--json"], by_dvc, stdout_only=True)))
    assert "every-key" in names and "results/summary.json" in names
    diff = json.loads(run(["dvc", "exp", "diff", "--all", "--json"], by_dvc, stdout_only=True))
    summary_diff = diff["metrics"]["results/summary.json"]
    # a metric of both runs (no param value in its key) is compared (--all: even when equal, as
    # the tiny teachers' chance accuracy is); a code length only one run has, against nothing
    assert "diff" in summary_diff["teacher_accuracy"] and None not in summary_diff["teacher_accuracy"].values()
    assert summary_diff["dth_map.8"]["new"] is None and summary_diff["dth_map.12"]["old"] is None
    assert None not in (summary_diff["dth_map.8"]["old"], summary_diff["dth_map.12"]["new"])

    sweep = pd.read_csv(by_dvc / "results" / "tables" / "ternary_sweep.csv")
    assert set(sweep["layers"]) == {"fc+conv", "all"} and set(sweep["t"]) == {0.2, 0.15}
    report = (by_dvc / "results" / "REPORT.md").read_text()
    assert "mAP@50" in report and "mAP@all" not in report
    assert "radius 3" in (by_dvc / "results" / "APPENDIX.md").read_text()
