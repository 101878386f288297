"""Load and validate params.yaml, the single source of the pipeline's parameters.

    from dth.params import load_params
    p = load_params("params.yaml")          # whole file, validated
    p["student"]["lr"]                      # 0.001

Every stage calls `load_params` and reads its own section; the Snakefile calls `validate`
on its config. The schema, dth/params.schema.yaml (JSON Schema, checked with the
jsonschema library), is the list of accepted keys and values: an unknown key, a wrong
type or a value out of range raises `ParamsError` with the key's dotted name and what
would be accepted, and the CLI turns that into one line on stderr and exit status 2.
`choices(key)` gives a choice key's accepted values to the modules that check them again.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml


class ParamsError(ValueError):
    """A params.yaml key is unknown, missing, of the wrong type or out of range."""


SCHEMA_FILE = Path(__file__).with_name("params.schema.yaml")


def _closed(node: Any) -> Any:
    """The schema with every object closed: all its properties required, no other key."""
    if isinstance(node, dict):
        node = {k: _closed(v) for k, v in node.items()}
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("required", list(node["properties"]))
            node.setdefault("additionalProperties", False)
    elif isinstance(node, list):
        node = [_closed(v) for v in node]
    return node


with open(SCHEMA_FILE) as _f:
    SCHEMA: dict[str, Any] = _closed(yaml.safe_load(_f))


def _validator():
    """The jsonschema validator of SCHEMA (imported on first use: `choices` needs only the YAML)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        import jsonschema
        _VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
    return _VALIDATOR


_VALIDATOR = None


def schema_of(key: str) -> dict:
    """The schema of a dotted params key, e.g. "student.augment"."""
    node = SCHEMA
    for part in key.split("."):
        node = node["properties"][part]
    return node


def choices(key: str) -> tuple:
    """The accepted values of a params key that is a choice (its `enum`), e.g. choices("quantize.layers")."""
    node = schema_of(key)
    node = node.get("items", node)  # a list of choices (`baselines`): the choices of its items
    return tuple(node["enum"])


DATASETS = choices("data.dataset")
# The compared methods' objectives (dth/baselines.py), each with its own params section.
BASELINES = choices("baselines")
# The methods that can also be trained on the teacher's network (dth/train_backbone.py); ce is not
# one: on that network it is the teacher.
BACKBONE_METHODS = choices("backbone_methods")
LAYER_SETS = choices("quantize.layers")
# How the report and figures name every student method.
METHOD_NAMES = {"dsh": "DSH", "dth": "DTH", "ce": "CE", "dpsh": "DPSH", "hashnet": "HashNet", "dch": "DCH",
                "greedyhash": "GreedyHash", "csq": "CSQ"}


def accepted(node: dict) -> str:
    """What a schema node accepts, in words (the second half of every error message)."""
    if "anyOf" in node:
        parts = [accepted(n) for n in node["anyOf"]]
        return " or ".join(parts)
    if "enum" in node:
        return "one of " + ", ".join(repr(o) for o in node["enum"])
    kind = node.get("type")
    if kind == "null":
        return "null"
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        return "a non-empty string" if node.get("minLength") else "a string"
    if kind == "integer":
        limits = [f">= {node['minimum']}"] if "minimum" in node else []
        limits += [f"<= {node['maximum']}"] if "maximum" in node else []
        return "an integer" + (" " + " and ".join(limits) if limits else "")
    if kind == "number":
        lo = node.get("exclusiveMinimum", node.get("minimum"))
        hi = node.get("exclusiveMaximum", node.get("maximum"))
        left = "(" if "exclusiveMinimum" in node or lo is None else "["
        right = ")" if "exclusiveMaximum" in node or hi is None else "]"
        return f"a number in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    if kind == "array":
        return f"a {'non-empty ' if node.get('minItems') else ''}list, each item {accepted(node['items'])}"
    return "a mapping of keys"


def _message(error, params: dict, source: str) -> str:
    """One line for a jsonschema.ValidationError: the key, its value and what is accepted."""
    path = list(error.absolute_path)
    keys = [p for p in path if isinstance(p, str)]
    name = ".".join(keys)
    if error.validator == "additionalProperties":
        known = error.schema["properties"]
        unknown = next(k for k in error.instance if k not in known)
        return f"{source}: unknown key '{name + '.' if name else ''}{unknown}'; accepted keys here: {', '.join(known)}"
    if error.validator == "required":
        missing = next(k for k in error.schema["required"] if k not in error.instance)
        return f"{source}: missing key '{name + '.' if name else ''}{missing}'"
    if error.validator == "type" and error.schema.get("type") == "object":
        return f"{source}: {name or 'the file'} must be a mapping of keys, got {type(error.instance).__name__}"
    node = schema_of(name) if name else SCHEMA
    value = params
    for k in keys:
        value = value[k]
    if error.validator == "uniqueItems":
        return f"{source}: '{name}' is {value!r}; accepted: a list without repeated values"
    got = f" (got {error.instance!r})" if len(path) > len(keys) else ""
    return f"{source}: '{name}' is {value!r}; accepted: {accepted(node)}{got}"


def _non_finite(params: Any, where: str = "") -> str | None:
    """The dotted key of the first NaN or infinite number (JSON Schema's bounds let NaN pass)."""
    if isinstance(params, dict):
        for k, v in params.items():
            found = _non_finite(v, f"{where}{k}.")
            if found:
                return found
    elif isinstance(params, list):
        if any(isinstance(v, float) and not math.isfinite(v) for v in params):
            return where[:-1]
    elif isinstance(params, float) and not math.isfinite(params):
        return where[:-1]
    return None


def _order(error) -> tuple:
    """Which error of several to report: unknown keys, then missing ones, then values, outermost first."""
    rank = {"additionalProperties": 0, "required": 1}.get(error.validator, 2)
    return rank, len(error.absolute_path)


def validate(params: Any, source: str = "params.yaml") -> dict:
    """Check `params` against the schema (dth/params.schema.yaml) and across keys; return it
    unchanged or raise ParamsError naming the key and what would be accepted."""
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: the file must be a mapping of keys, got {type(params).__name__}")
    if isinstance(params.get("baselines"), list) and "dsh" in params["baselines"]:  # params files before 2026-12-06
        raise ParamsError(f"{source}: 'baselines' is {params['baselines']}; accepted: the compared methods only, "
                          f"distinct values of {', '.join(BASELINES)}: dsh always trains, at every seed of 'seeds'")
    errors = sorted(_validator().iter_errors(params), key=_order)
    if errors:
        raise ParamsError(_message(errors[0], params, source))
    bad = _non_finite(params)
    if bad:
        value = params
        for k in bad.split("."):
            value = value[k]
        raise ParamsError(f"{source}: '{bad}' is {value!r}; accepted: {accepted(schema_of(bad))}")
    check_consistency(params, source)
    return params


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate a params file (the default run's, or a preset's)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ParamsError(f"cannot read params file {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ParamsError(f"{path}: not UTF-8 text: byte 0x{raw[e.start]:02x} at line {line}; accepted: a YAML "
                          "file saved as UTF-8") from None
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
    if not set(params["baseline_seeds"]) <= set(params["seeds"]):
        raise ParamsError(f"{source}: 'baseline_seeds' is {params['baseline_seeds']}; accepted: a non-empty subset of "
                          f"'seeds' {params['seeds']} (the compared methods train at these of the students' seeds)")
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
    if params["service"]["ternary_t"] not in q["t"]:
        raise ParamsError(f"{source}: 'service.ternary_t' is {params['service']['ternary_t']}; accepted: one of "
                          f"'quantize.t' {q['t']} (the ternary students that the run trains)")
    return params


def student_methods(params: dict) -> list[str]:
    """Every student method the params train, in the report's order: dsh, dth, then the
    compared methods of `baselines` in their listed order."""
    return ["dsh", "dth", *params["baselines"]]


def method_seeds(params: dict, method: str) -> list[int]:
    """The seeds a student of `method` trains at: `seeds` for dsh and dth (claims 1 to 5 give
    their spread), `baseline_seeds` for the compared methods (BASELINES)."""
    return list(params["baseline_seeds"] if method in BASELINES else params["seeds"])


def method_epochs(params: dict, method: str) -> int:
    """The epochs a student of `method` trains: student.epochs, times the method's own
    epochs_factor for the compared methods (BASELINES; not dsh and dth)."""
    epochs = params["student"]["epochs"]
    return epochs * params[method]["epochs_factor"] if method in BASELINES else epochs


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
