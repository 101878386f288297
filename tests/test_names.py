"""Model names (dth/names.py): built and parsed back, and the forms DVC's templates write."""

import pytest
import yaml

from dth.names import backbone_head_name, backbone_name, parse_name, student_name, teacher_name, ternary_name
from tests.test_dag import REPO


def test_names_round_trip():
    assert student_name("greedyhash", 48, 2) == "greedyhash-48-s2"
    assert teacher_name(12) == "teacher-12"
    assert ternary_name("fc+conv", 24, 0.05) == "ttq-fc+conv-24-t0.05"
    assert backbone_head_name("greedyhash", "resnet18", 12) == "greedyhash-resnet18-12"
    assert backbone_head_name("dsh", "resnet50", 48).startswith(backbone_name("dsh", "resnet50"))
    none = {"layers": None, "t": None, "method": None, "arch": None}
    assert parse_name("greedyhash-48-s2") == {**none, "family": "greedyhash", "bits": 48, "seed": 2}
    assert parse_name("teacher-12") == {**none, "family": "teacher", "bits": 12, "seed": None}
    assert parse_name("ttq-fc+conv-24-t0.05") == {**none, "family": "ttq", "bits": 24, "seed": None,
                                                   "layers": "fc+conv", "t": 0.05}
    assert parse_name("csq-resnet34-24") == {**none, "family": "backbone", "bits": 24, "seed": None,
                                              "method": "csq", "arch": "resnet34"}
    for bad in ("dsh-12", "ttq-conv-12-t0.1", "teacher", "DSH-12-s0", "dsh-vgg16-12"):
        with pytest.raises(ValueError, match="not a model name"):
            parse_name(bad)


def test_dvc_yaml_templates_spell_the_same_names():
    """dvc.yaml cannot import dth.names: its output paths must follow the same grammar."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    item = {"${item.method}": "csq", "${item.bits}": "12", "${item.seed}": "1", "${item.t}": "0.05",
            "${quantize.layers}": "fc", "${quantize.compare_layers}": "fc+conv", "${quantize.compare_t}": "0.05",
            "${seed}": "0", "${teacher.arch}": "resnet18"}
    expected = {student_name("csq", 12, 1), student_name("dth", 12, 1), ternary_name("fc", 12, 0.05),
                ternary_name("fc+conv", 12, 0.05), student_name("dth", 12, 0), backbone_name("csq", "resnet18")}
    found = set()
    for name in ("train_student", "train_student_dth", "ternarize", "ternarize_compare", "evaluate_student",
                 "evaluate_ternary", "train_backbone", "encode_backbone", "evaluate_backbone"):
        for out in stages[name]["outs"]:
            path = next(iter(out)) if isinstance(out, dict) else out
            if path.startswith("models/"):
                for key, value in item.items():
                    path = path.replace(key, value)
                stem = path.split("/")[-1].rsplit(".", 1)[0]
                if stem != backbone_name("csq", "resnet18"):  # one checkpoint of every head, as the teacher's
                    parse_name(stem)  # raises for a name of another grammar
                found.add(stem)
            elif path.startswith("results/metrics/") and name == "evaluate_backbone":
                for key, value in item.items():
                    path = path.replace(key, value)
                assert parse_name(path.split("/")[-1].rsplit(".", 1)[0])["family"] == "backbone"
    assert found <= expected and len(found) >= 3
