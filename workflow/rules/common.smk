# Shared by every rule: the params file the `dth` commands read and its validation, the
# params.yaml keys each rule declares, and the lists of models the run makes.
#
# Software environment: every rule runs the `dth` command of this project's virtualenv
# (.venv, made by `make run` / `make test` from the exact pins of pyproject.toml). The
# rules name no conda environment or container (snakemake --lint asks for one): the
# pins in pyproject.toml are the one description of the software, shared with `dvc repro`,
# which has no per-stage environments, and a second, per-rule description would drift
# from it. On a cluster, jobs inherit the submitting shell's PATH, i.e. .venv/bin.
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, workflow.basedir)  # the dth package of this checkout
from dth.names import (  # noqa: E402  (the model names)
    LAYERS_PATTERN, backbone_head_name, backbone_name, student_name, teacher_name, ternary_name)
from dth.params import method_seeds, student_methods, validate  # noqa: E402  (params.yaml: schema, who trains)

# A preset given with --configfile is a complete params file: the commands read it. A
# path inside the working directory is written relative (the same commands as dvc.yaml);
# one outside it (e.g. /shared/presets/mine.yaml) stays absolute.
_given = Path(workflow.overwrite_configfiles[-1] if workflow.overwrite_configfiles else "params.yaml")
PARAMS = (str(_given.resolve().relative_to(Path.cwd().resolve()))
          if _given.is_absolute() and _given.resolve().is_relative_to(Path.cwd().resolve()) else str(_given))
validate(config, source=PARAMS)

# The params.yaml keys each DVC stage declares (dvc.yaml, `params:`) are the keys that
# the Snakemake job of the same name declares, so one list decides both tools' reruns. Snakemake reruns a job
# whose declared params changed (its `params` rerun trigger), as `dvc repro` does.
with open(Path(workflow.basedir) / "dvc.yaml") as _f:
    _DVC_STAGES = yaml.safe_load(_f)["stages"]


def _canonical(value):
    """`value` with every dict's keys sorted: Snakemake compares params by their text, so a
    section whose keys were merely reordered in params.yaml must read the same (as for DVC)."""
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _param_values(keys):
    """{key: value in this run's config} for params keys (dots become '__': `student.lr` ->
    student__lr)."""
    values = {}
    for key in keys:
        node = config
        for part in key.split("."):
            node = node[part]
        values[key.replace(".", "__")] = _canonical(node)
    return values


def stage_params(stage):
    """{key: value in this run's config} for every params key of DVC stage `stage`, plus the
    params file."""
    return {"file": PARAMS, **_param_values(_DVC_STAGES[stage].get("params", []))}


def method_params(stage):
    """For a rule with a {method} wildcard: a function of its wildcards giving the params of DVC
    stage `stage`, whose list names the method's own section as `${item.method}`."""
    def declared(wildcards):
        return _param_values([wildcards.method if key == "${item.method}" else key
                              for key in _DVC_STAGES[stage].get("params", [])])
    return declared


def code_deps(stage):
    """The project modules DVC stage `stage` lists as deps (dvc.yaml): its code and every
    module that code imports (tests/test_dag.py checks the list), the same for both tools."""
    return [d for d in _DVC_STAGES[stage]["deps"] if d.startswith("dth/")]


BITS = config["bits"]
SEED = config["seed"]  # the seed whose DTH students are ternarised
Q = config["quantize"]
LAYERS, COMPARE_LAYERS, COMPARE_T = Q["layers"], Q["compare_layers"], Q["compare_t"]

BASELINES = config["baselines"]  # the compared methods, trained at the seeds of `baseline_seeds`
WITHOUT_TEACHER_PATTERN = "|".join(["dsh", *BASELINES])  # the students of rule train_student
# the rules' wildcard patterns of the model names (dth/names.py), e.g. "{method}-{bits}-s{seed}"
STUDENT = student_name("{method}", "{bits}", "{seed}")
DTH_STUDENT = student_name("dth", "{bits}", "{seed}")
TERNARY_MODEL = ternary_name("{layers}", "{bits}", "{t}")
TEACHER_HEAD = teacher_name("{bits}")
STUDENTS = [student_name(m, k, s) for m in student_methods(config) for k in BITS for s in method_seeds(config, m)]
TERNARY = [ternary_name(LAYERS, k, t) for k in BITS for t in Q["t"]] + [
    ternary_name(COMPARE_LAYERS, k, COMPARE_T) for k in BITS
]
TEACHERS = [teacher_name(k) for k in BITS]
# the compared methods on the teacher's network (params `backbone_methods`): one checkpoint of
# every k per method, e.g. "{method}-resnet18", and its heads "{method}-resnet18-{bits}"
ARCH = config["teacher"]["arch"]
BACKBONE_METHODS = config["backbone_methods"]
BACKBONE = backbone_name("{method}", ARCH)
BACKBONE_HEAD = backbone_head_name("{method}", ARCH, "{bits}")
BACKBONE_JOB = backbone_name("{wildcards.method}", ARCH)  # the same names in a job's shell command
BACKBONE_HEAD_JOB = backbone_head_name("{wildcards.method}", ARCH, "{wildcards.bits}")
BACKBONES = [backbone_name(m, ARCH) for m in BACKBONE_METHODS]
BACKBONE_HEADS = [backbone_head_name(m, ARCH, k) for m in BACKBONE_METHODS for k in BITS]
MODELS = TEACHERS + STUDENTS + TERNARY + BACKBONE_HEADS  # every model that is encoded and evaluated


wildcard_constraints:
    method="|".join(dict.fromkeys(["dth", "dsh", *BASELINES, *BACKBONE_METHODS])),
    bits=r"\d+",
    seed=r"\d+",
    layers=LAYERS_PATTERN,
    t=r"[0-9.e-]+",
