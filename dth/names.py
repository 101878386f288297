"""Model names: the one place in Python that spells them (docs/artifacts.md, "Model names").

    from dth.names import student_name, ternary_name, parse_name
    student_name("dth", 12, 0)        # 'dth-12-s0'
    ternary_name("fc", 12, 0.05)      # 'ttq-fc-12-t0.05'
    parse_name("ttq-fc+conv-48-t0.1") # {'family': 'ttq', 'bits': 48, 'layers': 'fc+conv', 't': 0.1, ...}
    backbone_head_name("greedyhash", "resnet18", 12)  # 'greedyhash-resnet18-12'

    teacher-<k>              one hash head of the teacher (codes/teacher/teacher-<k>.npz)
    <method>-<k>-s<seed>     a student: dsh, dth or a compared method (params `baselines`)
    ttq-<layers>-<k>-t<t>    the DTH student of seed `seed`, ternarised at threshold t
    <method>-<arch>          a compared method trained on the teacher's network (one checkpoint,
                             one hash head per k, like the teacher; params `backbone_methods`)
    <method>-<arch>-<k>      one hash head of it (codes/<method>-<arch>/<method>-<arch>-<k>.npz)

Every artifact of a model is named after it: models/<name>.pt (.npz for the packed ternary
one), codes/<name>.npz, results/metrics/<name>.json, results/plots/{pr,pn,train}/<name>.csv,
results/speed/<name>.json. dvc.yaml spells the same names in its `${item...}` templates (DVC
cannot call Python); tests/test_dag.py checks that DVC and Snakemake, whose rules use this
module, make the same files.
"""

from __future__ import annotations

import re

from dth.params import LAYER_SETS

# the wildcard pattern of a layer set in a name (the Snakefile's rules use it too)
LAYERS_PATTERN = "|".join(re.escape(layers) for layers in LAYER_SETS)
TEACHER = "teacher"
TERNARY = "ttq"

_STUDENT = re.compile(r"(?P<family>[a-z]+)-(?P<bits>\d+)-s(?P<seed>\d+)")
_TERNARY = re.compile(rf"ttq-(?P<layers>{LAYERS_PATTERN})-(?P<bits>\d+)-t(?P<t>[0-9.e-]+)")
_TEACHER = re.compile(r"teacher-(?P<bits>\d+)")
_BACKBONE = re.compile(r"(?P<method>[a-z]+)-(?P<arch>resnet\d+)-(?P<bits>\d+)")
BACKBONE = "backbone"  # the family of the compared methods' heads on the teacher's network


def t_label(t: float) -> str:
    """A threshold as DVC's matrix and Snakemake's expand write it in file names: str(0.05) = '0.05'."""
    return str(t)


def teacher_name(bits: int) -> str:
    return f"{TEACHER}-{bits}"


def student_name(method: str, bits: int, seed: int) -> str:
    return f"{method}-{bits}-s{seed}"


def ternary_name(layers: str, bits: int, t: float) -> str:
    return f"{TERNARY}-{layers}-{bits}-t{t_label(t)}"


def backbone_name(method: str, arch: str) -> str:
    return f"{method}-{arch}"


def backbone_head_name(method: str, arch: str, bits: int) -> str:
    return f"{backbone_name(method, arch)}-{bits}"


def parse_name(name: str) -> dict:
    """{family, bits, seed, layers, t, method, arch} of a model name (None where the family has
    none); ValueError for a name of none of the four forms."""
    for pattern, family in ((_TERNARY, TERNARY), (_TEACHER, TEACHER), (_BACKBONE, BACKBONE), (_STUDENT, None)):
        m = pattern.fullmatch(name)
        if m:
            found = m.groupdict()
            return {"family": family or found["family"], "bits": int(found["bits"]),
                    "seed": int(found["seed"]) if "seed" in found else None,
                    "layers": found.get("layers"), "t": float(found["t"]) if "t" in found else None,
                    "method": found.get("method"), "arch": found.get("arch")}
    raise ValueError(f"{name!r} is not a model name: teacher-<k>, <method>-<k>-s<seed>, ttq-<layers>-<k>-t<t> "
                     "or <method>-<arch>-<k>")
