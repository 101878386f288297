"""The service stages: what a retrieval service feels, for the teacher or for one DTH student.

    dth service --model teacher --teacher models/teacher.pt --quality results/service/quality/teacher.json \
        --timings results/service/search/teacher.json --curve results/service/curves/teacher.csv \
        --latency results/service/latency/teacher.json
    dth service --model dth --bits 12 --students models/dth-12-s0.pt --ternary models/ttq-fc-12-t0.05.npz \
        --quality results/service/quality/dth-12.json --timings results/service/search/dth-12.json \
        --curve results/service/curves/dth-12.csv --latency results/service/latency/dth-12.json

One process per model does both measurements, on one thread each, with the machine to itself:
claim 7's search (dth/service_search.py: packed codes, real-valued hash outputs and penultimate
features, at every size of service.database_sizes, and their mAP on the run's database), then
one query's encoding at batch size 1 (dth/service_latency.py: the teacher at each k; or the DTH
student of k and its ternary version, with the share of multiply-adds in the ternarised layers).
`dth service-search` and `dth service-latency` run either part alone.
"""

from __future__ import annotations

import argparse

import torch

from dth.data import load_manifest
from dth.errors import DthError
from dth.hardware import resolve_amp
from dth.io import write_json
from dth.names import t_label
from dth.params import load_params
from dth.service_common import fill, load_student, load_teacher
from dth import service_latency, service_search


def add_arguments(parser: argparse.ArgumentParser) -> None:
    service_search.add_arguments(parser)
    parser.add_argument("--ternary", default="models/ttq-{layers}-{bits}-t{t}.npz",
                        help="with --model dth: the packed ternary student per k ({layers} -> quantize.layers, "
                             "{t} -> service.ternary_t; default: models/ttq-{layers}-{bits}-t{t}.npz)")
    parser.add_argument("--latency", default="results/service/latency.json",
                        help="one query's encoding times (default: results/service/latency.json)")


def main(args) -> int:
    if args.model == "all":
        raise DthError("--model all: `dth service` measures one model kind per process; accepted: teacher or dth")
    service_search.main(args)
    params = load_params(args.params)
    bits = params["bits"] if args.model == "teacher" or args.bits is None else args.bits
    shape = tuple(int(s) for s in load_manifest(args.data)["image_shape"])
    if args.model == "teacher":
        teacher = load_teacher(args.teacher, params["bits"], shape).to(memory_format=torch.channels_last)
        models = {"teacher": {k: teacher for k in bits}}
    else:
        layers, t = params["quantize"]["layers"], params["service"]["ternary_t"]
        models = {"dth": {k: load_student(fill(args.students, bits=k, seed=params["seed"]), k, shape) for k in bits},
                  "ttq": {k: service_latency.load_ternary(fill(args.ternary, layers=layers, bits=k, t=t_label(t)), k,
                                                          shape, layers, t) for k in bits}}
    amp, why = resolve_amp(params["encode"]["amp"], torch.device("cpu"))
    write_json(args.latency, service_latency.run_latency(params, args.data, models, bits, amp, why))
    print(f"dth service: {args.latency}")
    return 0
