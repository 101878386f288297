"""Load and validate params.yaml, the single source of the pipeline's parameters.

    from dth.params import load_params
    p = load_params("params.yaml")          # whole file, validated
    p["student"]["lr"]                      # 0.001

Every stage calls `load_params` and reads its own section. The schema below is the
list of accepted keys: an unknown key, a wrong type or a value out of range raises
`ParamsError` with the key's dotted name and what would be accepted, and the CLI
turns that into one line on stderr and exit status 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import yaml


class ParamsError(ValueError):
    """A params.yaml key is unknown, missing, of the wrong type or out of range."""


# --- checkers: each returns None when the value is fine, else what is accepted ---

def _int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], str | None]:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):
            return "an integer" + (f" >= {lo}" if lo is not None else "")
        if lo is not None and v < lo:
            return f"an integer >= {lo}"
        if hi is not None and v > hi:
            return f"an integer <= {hi}"
        return None
    return check


def _float(lo: float | None = None, hi: float | None = None, lo_open=False, hi_open=False):
    def accepted():
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        return f"a number in {left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}{right}"

    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return accepted()
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return accepted()
        if hi is not None and (v > hi or (hi_open and v == hi)):
            return accepted()
        return None
    return check


def _choice(*options):
    def check(v):
        return None if v in options else "one of " + ", ".join(repr(o) for o in options)
    return check


def _bool(v):
    return None if isinstance(v, bool) else "true or false"


def _optional(inner):
    def check(v):
        return None if v is None else (None if inner(v) is None else f"null or {inner(v)}")
    return check


def _str(v):
    return None if isinstance(v, str) and v else "a non-empty string"


def _list(inner, unique=True):
    def check(v):
        if not isinstance(v, list) or not v:
            return f"a non-empty list, each item {inner(None) or 'valid'}"
        for item in v:
            problem = inner(item)
            if problem is not None:
                return f"a non-empty list, each item {problem} (got {item!r})"
        if unique and len(set(map(repr, v))) != len(v):
            return "a list without repeated values"
        return None
    return check


_lr = _float(0.0, None, lo_open=True)
_train = {
    "epochs": _int(1),
    "batch_size": _int(2),
    "optimizer": _choice("sgd", "adam"),
    "lr": _lr,
    "weight_decay": _float(0.0),
    "schedule": _choice("cosine", "step", "constant"),
    "warmup_epochs": _int(0),
    "amp": _choice("auto", "bf16", "none"),
    "augment": _choice("none", "flip", "crop+flip"),
    "crop_pad": _int(0, 64),
}

DATASETS = ("fashion-mnist", "cifar10", "nus-wide")
# The compared methods' objectives (dth/baselines.py), each with its own params section below.
BASELINES = ("ce", "dpsh", "hashnet", "dch", "greedyhash", "csq")
# How the report and figures name every student method.
METHOD_NAMES = {"dsh": "DSH", "dth": "DTH", "ce": "CE", "dpsh": "DPSH", "hashnet": "HashNet", "dch": "DCH",
                "greedyhash": "GreedyHash", "csq": "CSQ"}
LAYER_SETS = ("fc", "fc+conv", "all")

SCHEMA: dict[str, Any] = {
    "seed": _int(0),
    "bits": _list(_int(1, 4096)),
    "seeds": _list(_int(0)),
    "baselines": _list(_choice("dsh", *BASELINES)),
    "data": {
        "dataset": _choice(*DATASETS),
        "protocol": _str,  # checked against the dataset's protocols by dth.splits
        "root": _optional(_str),
        "download": _bool,
        "image_size": _int(8, 1024),
        "split_seed": _int(0),
    },
    "teacher": {"arch": _choice("resnet18", "resnet34", "resnet50"), "stem_stride": _choice(1, 2), **_train,
                "val_queries": _int(1), "val_database": _int(1)},
    "student": {**_train, "decay_epochs": _int(0), "val_queries": _int(1), "val_database": _int(1),
                "baseline_validate_every": _int(1)},
    "dsh": {"margin_factor": _float(0.0, None, lo_open=True), "alpha": _float(0.0)},
    "distill": {
        "ce_weight": _float(0.0),
        "weight": _float(0.0),
        "temperature": _float(0.0, None, lo_open=True),
        "loss": _choice("bce", "mse"),
        "pairwise_weight": _float(0.0),
        "teacher_outputs": _choice("cache", "online"),
    },
    "ce": {"lr": _lr},
    "dpsh": {"eta": _float(0.0), "lr": _lr},
    "hashnet": {"alpha_factor": _float(0.0, None, lo_open=True), "beta_step_epochs": _int(1), "lr": _lr},
    "dch": {"gamma": _float(0.0, None, lo_open=True), "lambda": _float(0.0), "lr": _lr},
    "greedyhash": {"alpha": _float(0.0), "lr": _lr},
    "csq": {"lambda": _float(0.0), "centre_seed": _int(0), "lr": _lr},
    "quantize": {
        "t": _list(_float(0.0, 1.0, lo_open=True, hi_open=True)),
        "layers": _choice(*LAYER_SETS),
        "compare_layers": _choice(*LAYER_SETS),
        "compare_t": _float(0.0, 1.0, lo_open=True, hi_open=True),
        "epochs": _int(0),
        "lr": _lr,
        "scale_lr": _lr,
    },
    "convergence": {"share": _float(0.0, 1.0, lo_open=True, hi_open=True)},
    "encode": {"batch_size": _int(1), "amp": _choice("auto", "bf16", "none")},
    "evaluate": {"topk": _optional(_int(1)), "precision_at": _int(1), "radius": _int(0)},
    "search": {"index": _choice("flat", "hash"), "topk": _int(1), "hash_bits": _int(1, 64), "nflip": _int(0, 8)},
}


def validate(params: Any, schema: dict = SCHEMA, where: str = "", source: str = "params.yaml") -> dict:
    """Check `params` against `schema`; return it unchanged or raise ParamsError."""
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: {where or 'the file'} must be a mapping of keys, got {type(params).__name__}")
    for key in params:
        if key not in schema:
            accepted = ", ".join(schema)
            raise ParamsError(f"{source}: unknown key '{where}{key}'; accepted keys here: {accepted}")
    for key, rule in schema.items():
        name = f"{where}{key}"
        if key not in params:
            raise ParamsError(f"{source}: missing key '{name}'")
        value = params[key]
        if isinstance(rule, dict):
            validate(value, rule, name + ".", source)
        else:
            problem = rule(value)
            if problem is not None:
                raise ParamsError(f"{source}: '{name}' is {value!r}; accepted: {problem}")
    if schema is SCHEMA:
        check_consistency(params, source)
    return params


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate a params file (the default run's, or a preset's)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ParamsError(f"cannot read params file {path}: {e.strerror}") from None
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    return validate(params, source=str(path))


def check_consistency(params: dict, source: str = "params.yaml") -> dict:
    """Checks across keys, after the per-key schema (called by `validate` at the top level)."""
    if params["seed"] not in params["seeds"]:
        raise ParamsError(f"{source}: 'seed' is {params['seed']}; accepted: one of 'seeds' {params['seeds']} "
                          "(its DTH students are the ones ternarised)")
    if params["student"]["augment"] == "crop+flip" and params["distill"]["teacher_outputs"] == "cache":
        raise ParamsError(
            f"{source}: 'student.augment' is 'crop+flip' while 'distill.teacher_outputs' is 'cache': the cached "
            "teacher outputs exist for each train image and its horizontal flip only, so a cropped student input "
            "would be distilled towards another view's target; accepted: student.augment none or flip, or "
            "distill.teacher_outputs online (the teacher encodes every augmented batch)")
    if "dsh" not in params["baselines"]:
        raise ParamsError(f"{source}: 'baselines' is {params['baselines']}; accepted: a list that contains 'dsh' "
                          "(claims 1 to 3 compare the distilled student with it)")
    s = params["student"]
    if s["decay_epochs"] > s["epochs"] - s["warmup_epochs"]:
        raise ParamsError(f"{source}: 'student.decay_epochs' is {s['decay_epochs']}, more than the "
                          f"{s['epochs'] - s['warmup_epochs']} epochs left after the warm-up ('student.epochs' "
                          f"{s['epochs']} - 'student.warmup_epochs' {s['warmup_epochs']}); accepted: 0 to "
                          f"{s['epochs'] - s['warmup_epochs']}")
    q = params["quantize"]
    if q["compare_layers"] == q["layers"]:
        raise ParamsError(f"{source}: 'quantize.compare_layers' is {q['compare_layers']!r}, the same as "
                          f"'quantize.layers'; accepted: another of {', '.join(LAYER_SETS)}")
    return params


def student_methods(params: dict) -> list[str]:
    """Every student method the params train, in the report's order: dsh, dth, then the
    other methods of `baselines` in their listed order."""
    return ["dsh", "dth"] + [m for m in params["baselines"] if m != "dsh"]


def teacher_bits(params: dict) -> list[int]:
    """The code lengths the teacher has a hash head for: every k of `bits` (each DTH
    student is distilled from the head of its own k)."""
    return sorted(params["bits"])


def flat_keys(d: dict, prefix: str = "") -> dict:
    """{"section.key": value} for every leaf of a nested dict (params, summary.json)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_keys(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
