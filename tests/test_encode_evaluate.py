"""`dth encode` and `dth evaluate` on a tiny prepared-data folder and untrained models."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dth.cli import main as dth
from dth.data import to_float
from dth.hamming import load_codes, pack_codes
from dth.io import sha256_file
from dth.metrics import evaluate_codes
from dth.models import Student, Teacher, save_model

CLASSES = ["zero", "one", "two"]
SIZES = {"query": 12, "train": 8, "database": 40}


def make_prepared(folder, seed=0, size=28, channels=1):
    """A prepared-data folder in dth/data.py's layout: random images, one-hot labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    counts = {}
    for split, n in SIZES.items():
        images = rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8)
        labels = np.eye(len(CLASSES), dtype=np.uint8)[rng.integers(0, len(CLASSES), n)]
        np.save(folder / f"{split}_images.npy", images)
        np.save(folder / f"{split}_labels.npy", labels)
        counts[split] = n
    manifest = {"format": "dth-prepared/1", "dataset": "test", "protocol": "tiny", "split_seed": seed,
                "num_classes": len(CLASSES), "class_names": CLASSES, "image_shape": [size, size, channels],
                "counts": counts, "class_counts": {}, "sources_sha256": {}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def student_config(bits=12):
    return {"bits": bits, "num_classes": len(CLASSES), "in_channels": 1, "image_size": 28,
            "mean": [0.5], "std": [0.25]}


def make_student(path, bits=12, seed=0):
    torch.manual_seed(seed)
    model = Student(**student_config(bits))
    save_model(path, model, "student", student_config(bits))
    return model.eval()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_prepared(tmp_path / "data" / "prepared")
    params = (Path(__file__).parents[1] / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(params)
    return tmp_path


def set_encode_amp(amp: str) -> None:
    import yaml
    params = yaml.safe_load(open("params.yaml"))
    params["encode"]["amp"] = amp
    open("params.yaml", "w").write(yaml.safe_dump(params))


@pytest.mark.parametrize("amp", ["none", "bf16"])
def test_encode_student_writes_codes_and_speed(workdir, amp):
    """The codes are the model's own forward pass in the precision encode.amp asks for, bit for bit."""
    set_encode_amp(amp)
    model = make_student(workdir / "models" / "s.pt")
    rc = dth(["encode", "--model", "models/s.pt", "--data", "data/prepared", "--out", "codes/dsh-12-s0.npz",
              "--speed", "results/speed/dsh-12-s0.json", "--device", "cpu"])
    assert rc == 0
    codes = load_codes("codes/dsh-12-s0.npz")
    assert codes["bits"] == 12 and codes["model"] == "dsh-12-s0"
    assert codes["model_sha256"] == sha256_file("models/s.pt")
    images = np.load("data/prepared/database_images.npy")
    model = model.to(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=(amp == "bf16")):
        expected = pack_codes(model.hash(to_float(images).contiguous(memory_format=torch.channels_last)).float())
    np.testing.assert_array_equal(codes["database_codes"], expected)
    np.testing.assert_array_equal(codes["query_labels"], np.load("data/prepared/query_labels.npy"))
    speed = json.loads(open("results/speed/dsh-12-s0.json").read())
    assert speed["images_per_second"] > 0 and speed["database_images"] == 40
    assert speed["model_bytes"] == (workdir / "models" / "s.pt").stat().st_size
    assert speed["device"] == "cpu" and speed["threads"] >= 1 and speed["amp"] == amp


def test_encode_amp_auto_follows_the_hardware(workdir, monkeypatch):
    """encode.amp auto resolves like training's (dth.hardware): bf16 only with native bf16."""
    from dth import hardware
    set_encode_amp("auto")
    make_student(workdir / "models" / "s.pt")
    for native, expected in ((False, "none"), (True, "bf16")):
        monkeypatch.setattr(hardware, "native_bf16", lambda flags, capability, n=native: (n, "faked"))
        assert dth(["encode", "--model", "models/s.pt", "--out", "codes/s.npz", "--speed", "speed.json",
                    "--device", "cpu"]) == 0
        assert json.loads(open("speed.json").read())["amp"] == expected


def test_encode_teacher_every_head_in_one_pass(workdir):
    make_prepared(workdir / "data" / "small", size=8)  # 8 x 8 images: a ResNet is cheap there
    torch.manual_seed(0)
    config = {"arch": "resnet18", "bits": [8, 12], "num_classes": 3, "in_channels": 1, "image_size": 8,
              "mean": [0.5], "std": [0.25]}
    teacher = Teacher(**config).eval()
    save_model("models/teacher.pt", teacher, "teacher", config)
    # without {bits} in --out, several heads are an error naming the fix
    assert dth(["encode", "--model", "models/teacher.pt", "--data", "data/small", "--out", "codes/teacher.npz"]) == 2
    assert dth(["encode", "--model", "models/teacher.pt", "--data", "data/small", "--out", "codes/teacher-{bits}.npz",
                "--speed", "results/speed/teacher.json"]) == 0
    speed = json.loads(open("results/speed/teacher.json").read())
    assert speed["bits"] == [8, 12] and speed["heads_per_pass"] == 2 and speed["model"] == "teacher"
    queries = to_float(np.load("data/small/query_images.npy"))
    for k in (8, 12):
        codes = load_codes(f"codes/teacher-{k}.npz")
        assert codes["model"] == f"teacher-{k}" and codes["bits"] == k
        with torch.no_grad():
            np.testing.assert_array_equal(codes["query_codes"], pack_codes(teacher.hash(queries, k)))
    assert dth(["encode", "--model", "models/teacher.pt", "--data", "data/small", "--bits", "12", "--out", "codes/t12.npz"]) == 0
    np.testing.assert_array_equal(load_codes("codes/t12.npz")["database_codes"],
                                  load_codes("codes/teacher-12.npz")["database_codes"])
    assert dth(["encode", "--model", "models/teacher.pt", "--data", "data/small", "--bits", "16", "--out", "codes/t16.npz"]) == 2


def test_encode_bad_inputs(workdir, capsys):
    make_student(workdir / "models" / "s.pt")
    assert dth(["encode", "--model", "models/missing.pt", "--out", "codes/x.npz"]) == 2
    assert "models/missing.pt" in capsys.readouterr().err
    (workdir / "models" / "junk.pt").write_bytes(b"junk")
    assert dth(["encode", "--model", "models/junk.pt", "--out", "codes/x.npz"]) == 2
    assert "junk.pt" in capsys.readouterr().err
    assert dth(["encode", "--model", "models/s.pt", "--data", "nowhere", "--out", "codes/x.npz"]) == 2
    assert not (workdir / "codes" / "x.npz").exists()


def test_evaluate_writes_metrics_and_curves(workdir):
    make_student(workdir / "models" / "s.pt")
    assert dth(["encode", "--model", "models/s.pt", "--out", "codes/dsh-12-s0.npz"]) == 0
    rc = dth(["evaluate", "--codes", "codes/dsh-12-s0.npz", "--out", "results/metrics/dsh-12-s0.json",
              "--pr", "results/plots/pr/dsh-12-s0.csv", "--pn", "results/plots/pn/dsh-12-s0.csv"])
    assert rc == 0
    metrics = json.loads(open("results/metrics/dsh-12-s0.json").read())
    codes = load_codes("codes/dsh-12-s0.npz")
    expected = evaluate_codes(codes["query_codes"], codes["database_codes"], codes["query_labels"],
                              codes["database_labels"], bits=12, precision_at=40)
    # only the numbers worth diffing, under keys that do not depend on params
    assert set(metrics) == {"map", "map_tie_average", "precision_radius", "empty_ball_radius"}
    for key, value in metrics.items():
        assert value == pytest.approx(expected["metrics"][key]), key
    pr = pd.read_csv("results/plots/pr/dsh-12-s0.csv")
    assert list(pr.columns) == ["radius", "precision", "recall"] and list(pr["radius"]) == list(range(13))
    pn = pd.read_csv("results/plots/pn/dsh-12-s0.csv")
    assert list(pn.columns) == ["n", "precision"] and len(pn) == 40  # cut to the database size
    np.testing.assert_allclose(pn["precision"], expected["pn"]["precision"], atol=1e-9)


def test_evaluate_model_encodes_then_evaluates_as_the_two_commands_do(workdir, capsys):
    """`dth evaluate --model` (the DAG's evaluate_student stage) writes the same codes, speed
    fields and metrics as `dth encode` followed by `dth evaluate --codes`."""
    make_student(workdir / "models" / "s.pt")
    assert dth(["encode", "--model", "models/s.pt", "--out", "codes/a.npz", "--speed", "a-speed.json"]) == 0
    assert dth(["evaluate", "--codes", "codes/a.npz", "--out", "a.json", "--pr", "a-pr.csv", "--pn", "a-pn.csv"]) == 0
    assert dth(["evaluate", "--model", "models/s.pt", "--codes", "codes/b.npz", "--speed", "b-speed.json",
                "--out", "b.json", "--pr", "b-pr.csv", "--pn", "b-pn.csv"]) == 0
    a, b = load_codes("codes/a.npz"), load_codes("codes/b.npz")
    for key in ("query_codes", "database_codes", "query_labels", "database_labels"):
        np.testing.assert_array_equal(a[key], b[key])
    assert json.loads(open("a.json").read()) == json.loads(open("b.json").read())
    assert open("a-pr.csv").read() == open("b-pr.csv").read() and open("a-pn.csv").read() == open("b-pn.csv").read()
    speed_a, speed_b = json.loads(open("a-speed.json").read()), json.loads(open("b-speed.json").read())
    assert set(speed_a) == set(speed_b) and speed_b["model_file"] == "models/s.pt"
    # --speed without --model has nothing to time
    assert dth(["evaluate", "--codes", "codes/a.npz", "--speed", "c.json", "--out", "c.json"]) == 2
    assert "--speed" in capsys.readouterr().err and not os.path.exists("c.json")


def test_evaluate_rejects_topk_above_database(workdir, capsys):
    make_student(workdir / "models" / "s.pt")
    assert dth(["encode", "--model", "models/s.pt", "--out", "codes/m.npz"]) == 0
    params = (workdir / "params.yaml").read_text().replace("  topk: null", "  topk: 41")
    (workdir / "p41.yaml").write_text(params)
    assert dth(["evaluate", "--codes", "codes/m.npz", "--params", "p41.yaml", "--out", "m.json"]) == 2
    err = capsys.readouterr().err
    assert "evaluate.topk" in err and "41" in err and "40" in err
    assert not (workdir / "m.json").exists()
    assert dth(["evaluate", "--codes", "codes/missing.npz"]) == 2
