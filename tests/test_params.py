"""params.yaml is validated on load: every bad value is named with what is accepted."""

import copy
from pathlib import Path

import pytest
import yaml

from dth.cli import main as dth_main
from dth.params import ParamsError, load_params, validate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_default_and_presets_are_valid():
    load_params(ROOT / "params.yaml")
    for preset in sorted((ROOT / "configs").glob("*.yaml")):
        load_params(preset)


def changed(path, value):
    p = copy.deepcopy(DEFAULT)
    *parents, last = path.split(".")
    node = p
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return p


@pytest.mark.parametrize("path, value, expected", [
    ("student.learning_rate", 0.1, "unknown key 'student.learning_rate'"),
    ("student.lr", "fast", "'student.lr' is 'fast'; accepted: a number"),
    ("student.epochs", 2.5, "'student.epochs' is 2.5; accepted: an integer >= 1"),
    ("student.augment", "yes", "'student.augment' is 'yes'; accepted: one of 'none', 'flip', 'crop+flip'"),
    ("student.augment", "crop+flip", "'student.augment' is 'crop+flip' while 'distill.teacher_outputs' is 'cache'"),
    ("teacher.amp", "fp16", "'teacher.amp' is 'fp16'; accepted: one of 'auto', 'bf16', 'none'"),
    ("quantize.t", [0.05, 1.0], "'quantize.t' is [0.05, 1.0]; accepted: a non-empty list, each item a number in (0.0, 1.0)"),
    ("quantize.t", [0.0], "each item a number in (0.0, 1.0)"),
    ("quantize.compare_t", -0.1, "'quantize.compare_t' is -0.1"),
    ("bits", [12, 0], "'bits' is [12, 0]; accepted: a non-empty list, each item an integer >= 1"),
    ("bits", [12, -4], "each item an integer >= 1"),
    ("bits", [], "'bits' is []"),
    ("bits", [12, 12], "without repeated values"),
    ("data.dataset", "mnist", "'data.dataset' is 'mnist'; accepted: one of 'fashion-mnist', 'cifar10', 'nus-wide'"),
    ("teacher.arch", "vgg16", "accepted: one of 'resnet18', 'resnet34', 'resnet50'"),
    ("distill", KeyError, "missing key 'distill'"),
    ("seed", 7, "'seed' is 7; accepted: one of 'seeds'"),
    ("baseline_seeds", [0, 5], "'baseline_seeds' is [0, 5]; accepted: a non-empty subset of 'seeds'"),
    ("baseline_seeds", [], "'baseline_seeds' is []"),
    ("baselines", ["dsh", "ce"], "'baselines' is ['dsh', 'ce']; accepted: the compared methods only"),
    ("baselines", ["dth"], "'baselines' is ['dth']; accepted: a list, each item one of 'ce'"),
    ("student.decay_epochs", 40, "'student.decay_epochs' is 40, more than the 39 epochs left after the warm-up"),
    ("student.decay_epochs", -1, "'student.decay_epochs' is -1; accepted: an integer >= 0"),
    ("quantize.compare_layers", "fc", "'quantize.compare_layers' is 'fc', the same as 'quantize.layers'"),
])
def test_bad_values_are_named(path, value, expected):
    with pytest.raises(ParamsError) as e:
        validate(changed(path, value), source="p.yaml")
    assert expected in str(e.value)
    assert str(e.value).startswith("p.yaml: ")


def test_cli_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(changed("quantize.t", [1.5])))
    code = dth_main(["report", "--params", str(bad), "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'quantize.t' is [1.5]" in err[0] and str(bad) in err[0]
    assert not (tmp_path / "REPORT.md").exists()


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="cannot read params file"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("bits: [12\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "x.yaml")


def test_non_utf8_params_file_is_one_line(tmp_path, capsys):
    """A params file with bytes that are not UTF-8 gets the one-line error, not a traceback."""
    bad = tmp_path / "latin.yaml"
    bad.write_bytes(b"seed: 0\n\xff\xfe bad\n")
    with pytest.raises(ParamsError, match=r"not UTF-8 text: byte 0xff at line 2"):
        load_params(bad)
    code = dth_main(["prepare", "--params", str(bad), "--out", str(tmp_path / "prepared")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "UTF-8" in err[0]
    assert not (tmp_path / "prepared").exists()


@pytest.mark.parametrize("path, value, expected", [
    ("service.ternary_t", 0.3, "'service.ternary_t' is 0.3; accepted: one of 'quantize.t'"),
    ("service.database_sizes", [5], "'service.database_sizes' is [5]"),
    ("claims.confidence", 1.0, "'claims.confidence' is 1.0; accepted: a number in (0.0, 1.0)"),
])
def test_service_and_claims_keys_are_checked(path, value, expected):
    with pytest.raises(ParamsError) as e:
        validate(changed(path, value), source="p.yaml")
    assert expected in str(e.value)
