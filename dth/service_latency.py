"""One query, end to end: the time to turn one image into its packed code, batch size 1, one thread.

    dth service-latency           # params.yaml, data/prepared, models/ -> results/service/latency.json
    dth service-latency --params params.yaml --data data/prepared --teacher models/teacher.pt \\
        --students "models/dth-{bits}-s{seed}.pt" --ternary "models/ttq-{layers}-{bits}-t{t}.npz" \\
        --out results/service/latency.json

Models, at each k of params `bits`: the teacher (one image through its backbone and the head of k,
Teacher.hash(x, k): the other heads are not computed), the DTH student of params `seed`, and the
ternary student of quantize.layers at service.ternary_t, the packed .npz loaded by
dth.ternary.load_packed (dense fp32 weights of values {+Wp, 0, -Wn}: the same kernels as the
student; no 2-bit kernel exists here). In the templates {bits} is k, {seed} params `seed`,
{layers} quantize.layers and {t} service.ternary_t as file names spell it (0.05).

Timing: torch.set_num_threads(1), torch.inference_mode, channels-last, the run's precision
(encode.amp, auto resolved as `dth encode` does: bf16 autocast on a CPU with native bf16, else
fp32). One encode = uint8 image -> model input (dth.data.model_input) -> hash outputs -> packed
code (np.packbits of h > 0), timed with time.perf_counter; service.warmup untimed encodes, then
service.encode_queries timed ones, cycling through the query images (held in memory first).

FLOPs: multiply-adds of every Conv2d and Linear that runs to encode one image (forward hooks, one
fp32 forward; pooling, activations, normalisation and the teacher's resize are not counted).
ternary_flop_share: the share of the ternary student's multiply-adds in its ternarised layers
(the packed file's header; the training-only classifier never runs, so it counts nothing).
ternary_max_speedup: the Amdahl bound 1 / (1 - share) of what a 2-bit kernel could buy if those
layers cost nothing (null when every counted layer is ternary); ternary_measured_ratio: the
ternary student's median / the DTH student's median, as measured here.

Output (--out, atomically; keys of k are strings):
    {"cpu": {...}, "threads": 1, "precision": "bf16"|"fp32", "precision_reason": ..,
     "warmup": .., "queries": .., "encode_us": {"teacher"|"dth"|"ttq": {k: {"median", "p95", "queries"}}},
     "flops": {"teacher"|"dth"|"ttq": {k: multiply-adds per image}},
     "ternary_layers": {k: "fc,hash_layer,..."}, "ternary_flop_share": {k: ..},
     "ternary_max_speedup": {k: ..}, "ternary_measured_ratio": {k: ttq median / dth median}}

params: service (encode_queries, warmup, ternary_t), bits, seed, quantize.layers, encode.amp.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
import torch.nn as nn

from dth.data import bf16_autocast, load_manifest, load_split, model_input
from dth.errors import DthError
from dth.io import write_json
from dth.names import t_label
from dth.params import load_params
from dth.service_common import add_model_arguments, cpu_info, fill, load_student, load_teacher, one_thread, summary_us
from dth.timing import loop_timer

CPU = torch.device("cpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--ternary", default="models/ttq-{layers}-{bits}-t{t}.npz",
                        help="packed ternary student per k: {layers} -> quantize.layers, {bits} -> k, "
                             "{t} -> service.ternary_t (default: models/ttq-{layers}-{bits}-t{t}.npz)")
    parser.add_argument("--bits", type=int, nargs="+", default=None,
                        help="the code lengths to measure (default: every k of params bits; the pipeline runs "
                             "one stage per k)")
    parser.add_argument("--out", default="results/service/latency.json",
                        help="latency JSON (default: results/service/latency.json)")


def count_macs(model, image: np.ndarray, bits: int) -> dict[str, int]:
    """{module name: multiply-adds} of the Conv2d and Linear layers that run to encode one uint8
    image (1, H, W, C) with model.hash(x, bits), in fp32."""
    macs: dict[str, int] = {}

    def hook(name):
        def count(module, inputs, output):
            per_output = module.in_features if isinstance(module, nn.Linear) else \
                (module.in_channels // module.groups) * int(np.prod(module.kernel_size))
            macs[name] = macs.get(name, 0) + (output.numel() // output.shape[0]) * per_output
        return count

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            model.hash(model_input(image, CPU), bits)
    finally:
        for h in handles:
            h.remove()
    return macs


def time_encode(model, images: np.ndarray, bits: int, amp: str, warmup: int, queries: int) -> list[float]:
    """Seconds of each of `queries` timed single-image encodes, after `warmup` untimed ones."""
    times = []
    with torch.inference_mode():
        for i in range(warmup + queries):
            image = images[i % len(images):i % len(images) + 1]
            start = time.perf_counter()
            x = model_input(image, CPU)
            with bf16_autocast(CPU, amp):
                h = model.hash(x, bits)
            np.packbits((h.float() > 0).numpy(), axis=1)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return times


def measure(models: dict, images: np.ndarray, bits: list[int], amp: str, service: dict) -> dict:
    """encode_us, flops and the ternary keys of the output (see the module docstring)."""
    out = {"encode_us": {name: {} for name in models}, "flops": {name: {} for name in models},
           "ternary_layers": {}, "ternary_flop_share": {}, "ternary_max_speedup": {}, "ternary_measured_ratio": {}}
    for k in bits:
        key = str(k)
        for name, per_k in models.items():
            model = per_k[k].to(memory_format=torch.channels_last)
            macs = count_macs(model, images[:1], k)
            out["flops"][name][key] = int(sum(macs.values()))
            with loop_timer("encode"):
                times = time_encode(model, images, k, amp, service["warmup"], service["encode_queries"])
            out["encode_us"][name][key] = summary_us(times)
            if name == "ttq":
                ternary = [n for n in model.packed_header["ternary_layers"] if n in macs]
                share = sum(macs[n] for n in ternary) / max(sum(macs.values()), 1)
                out["ternary_layers"][key] = ",".join(ternary)
                out["ternary_flop_share"][key] = round(share, 6)
                out["ternary_max_speedup"][key] = round(1.0 / (1.0 - share), 3) if share < 1 else None
        if "ttq" in models and "dth" in models:
            ratio = out["encode_us"]["ttq"][key]["median"] / max(out["encode_us"]["dth"][key]["median"], 1e-3)
            out["ternary_measured_ratio"][key] = round(ratio, 3)
        print(f"k={k}: " + ", ".join(f"{name} {out['encode_us'][name][key]['median']:.0f} us "
                                     f"({out['flops'][name][key] / 1e6:.2f} M multiply-adds)" for name in models)
              + (f"; the ternary layers carry {out['ternary_flop_share'][key]:.1%} of the student's"
                 if key in out["ternary_flop_share"] else ""))
    return {name: value for name, value in out.items() if value}


def load_ternary(path, bits: int, shape: tuple, layers: str, t: float):
    model = load_student(path, bits, shape)
    header = getattr(model, "packed_header", None)
    if header is None:
        raise DthError(f"--ternary {path}: not a packed ternary model; expected a .npz of `dth ternarize --packed`")
    if header.get("layer_set") != layers or header.get("t") != t:
        raise DthError(f"--ternary {path}: layer set {header.get('layer_set')!r} at t={header.get('t')}, but params "
                       f"ask for quantize.layers {layers!r} at service.ternary_t {t}")
    return model


def run_latency(params: dict, data, models: dict, bits: list[int], amp: str, why: str) -> dict:
    """The output record (module docstring) for `models` ({name: {k: model}}) on the query images."""
    service = params["service"]
    query_images, _ = load_split(data, "query")
    if len(query_images) == 0:
        raise DthError(f"{data}: the query set is empty; accepted: a prepared folder with query images")
    images = np.array(query_images[:service["warmup"] + service["encode_queries"]])  # in memory, not timed
    with one_thread():
        out = {"cpu": cpu_info(), "threads": 1, "precision": "bf16" if amp == "bf16" else "fp32",
               "precision_reason": why, "warmup": service["warmup"], "queries": service["encode_queries"]}
        out.update(measure(models, images, bits, amp, service))
    return out


def main(args) -> int:
    from dth.hardware import resolve_amp

    params = load_params(args.params)
    service, seed = params["service"], params["seed"]
    bits = params["bits"] if args.bits is None else args.bits
    if not set(bits) <= set(params["bits"]):
        raise DthError(f"--bits {bits}: not all in params 'bits' {params['bits']}; accepted: some of {params['bits']}")
    layers, t = params["quantize"]["layers"], service["ternary_t"]
    amp, why = resolve_amp(params["encode"]["amp"], CPU)
    print(f"dth service-latency: {'bf16 autocast' if amp == 'bf16' else 'fp32'} on one CPU thread ({why})",
          file=sys.stderr)
    shape = tuple(int(s) for s in load_manifest(args.data)["image_shape"])
    teacher = load_teacher(args.teacher, params["bits"], shape).to(memory_format=torch.channels_last)
    models = {"teacher": {k: teacher for k in bits},
              "dth": {k: load_student(fill(args.students, bits=k, seed=seed), k, shape) for k in bits},
              "ttq": {k: load_ternary(fill(args.ternary, layers=layers, bits=k, t=t_label(t)), k, shape, layers, t)
                      for k in bits}}
    write_json(args.out, run_latency(params, args.data, models, bits, amp, why))
    print(f"dth service-latency: {args.out}")
    return 0
