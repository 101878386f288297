"""Encode the query and database sets with a model into packed binary codes (bit = 1 where h > 0).

    dth encode --model models/dth-12-s0.pt --data data/prepared --out codes/dth-12-s0.npz \\
        --speed results/speed/dth-12-s0.json
    dth encode --model models/teacher.pt --bits 12 --out codes/teacher-12.npz   # one teacher head
    dth encode --model models/teacher.pt --out "codes/teacher-{bits}.npz"      # every head, one pass
    dth encode --model models/ttq-fc-12-t0.05.npz --out codes/ttq-fc-12-t0.05.npz   # packed ternary

--model is a `.pt` checkpoint (dth.models) or a packed ternary `.npz` (dth.ternary).
A teacher has one hash head per k: with --bits it encodes that head only; without,
it computes the backbone once per batch and writes every head's codes, so --out
must contain `{bits}`, replaced by each k (--speed stays one file: one pass).

Output (docs/artifacts.md, "Codes"): query_codes, database_codes uint8 (N, ceil(k/8))
packed with np.packbits (bit j of a code is bit 7 - j % 8 of byte j // 8),
query_labels, database_labels (uint8 multi-hot), bits, model_sha256 (of the model
file), model (the name: the out file's stem). Written atomically.
--speed writes a JSON with the database pass's images/s, the device, the torch
thread count and the model file's size in bytes.

params (encode:): batch_size, images per forward pass; amp, the precision of the forward
pass: auto (bf16 autocast on CUDA or a CPU with native bf16, fp32 elsewhere; the choice and
its reason are printed and recorded in --speed), bf16 or none (fp32).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dth.data import load_manifest, load_split
from dth.errors import DthError
from dth.hamming import encode_images, load_hash_model, model_bits, save_codes
from dth.io import sha256_file, write_json
from dth.params import load_params
from dth.timing import loop_timer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file: .pt checkpoint or packed ternary .npz")
    parser.add_argument("--bits", type=int, default=None,
                        help="code length k; a teacher encodes only this head (default: every head)")
    parser.add_argument("--data", default="data/prepared", help="prepared data folder (default: data/prepared)")
    parser.add_argument("--out", required=True,
                        help="codes file, e.g. codes/dth-12-s0.npz; must contain {bits} for several heads")
    parser.add_argument("--speed", default=None, help="optional JSON of the encoding speed (images/s)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto = cuda when available, else cpu (default: auto)")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")


def heads_to_encode(model, bits: int | None, model_path) -> list[int]:
    available = model_bits(model)
    if bits is None:
        return available
    if bits not in available:
        raise DthError(f"--bits {bits}: model {model_path} produces codes of k in {available}")
    return [bits]


def with_bits(template: str, k: int, several: bool, option: str) -> Path:
    if "{bits}" in template:
        return Path(template.replace("{bits}", str(k)))
    if several:
        raise DthError(f"{option} {template}: this model has several hash heads; put {{bits}} in the "
                       "path (e.g. codes/teacher-{bits}.npz) or choose one head with --bits")
    return Path(template)


def encode_model(model_path, data, out: str, params: dict, *, bits: int | None = None,
                 speed: str | None = None, device: str = "auto") -> dict[int, Path]:
    """Encode the query and database sets of `data` with the model file `model_path` and
    write the codes file of each head to `out` ({bits} replaced by k when several), and
    the speed JSON to `speed` if given; params: the `encode` section. {k: codes path}."""
    import torch

    from dth.hardware import describe, resolve_amp, resolve_device

    device = resolve_device(device)
    amp, why = resolve_amp(params["amp"], device)  # auto: bf16 where the hardware runs it natively
    print(f"dth encode: {'bf16 autocast' if amp == 'bf16' else 'fp32'} on {device.type} ({why})", file=sys.stderr)
    model = load_hash_model(model_path).to(device)
    bits = heads_to_encode(model, bits, model_path)
    several = len(bits) > 1
    outs = {k: with_bits(out, k, several, "--out") for k in bits}

    manifest = load_manifest(data)
    shape = tuple(int(s) for s in manifest["image_shape"])  # H, W, C
    if shape != model.input_shape:
        raise DthError(f"{data}: images are {shape} (H, W, C) but model {model_path} was built for "
                       f"{model.input_shape}")

    codes, labels, seconds, count = {}, {}, {}, {}
    for split in ("query", "database"):
        images, labels[split] = load_split(data, split)
        start = time.perf_counter()
        with loop_timer("encode"):
            codes[split] = encode_images(model, images, bits, batch_size=params["batch_size"], device=device,
                                         progress=f"encode {split}", amp=amp)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds[split], count[split] = time.perf_counter() - start, len(images)

    model_sha = sha256_file(model_path)
    rate = count["database"] / max(seconds["database"], 1e-9)
    for k in bits:
        name = outs[k].stem
        save_codes(outs[k], query_codes=codes["query"][k], database_codes=codes["database"][k],
                   query_labels=labels["query"], database_labels=labels["database"], bits=k,
                   model_sha256=model_sha, model=name)
        print(f"dth encode: {outs[k]}: {count['query']} query + {count['database']} database codes of "
              f"{k} bits; database pass {rate:,.0f} images/s on {device.type}")
    if speed:  # one encoding pass, whatever the number of heads
        write_json(speed, {
            "model": Path(model_path).stem,
            "model_file": str(model_path),
            "model_bytes": Path(model_path).stat().st_size,
            "bits": bits if several else bits[0],
            "heads_per_pass": len(bits),
            "device": device.type if device.type == "cpu" else torch.cuda.get_device_name(device),
            "threads": torch.get_num_threads(),
            "batch_size": params["batch_size"],
            "amp": amp,
            "hardware": describe(device),
            "database_images": count["database"],
            "database_seconds": round(seconds["database"], 4),
            "images_per_second": round(rate, 1),
            "query_images": count["query"],
            "query_seconds": round(seconds["query"], 4),
        })
    return outs


def main(args) -> int:
    params = load_params(args.params)["encode"]
    encode_model(args.model, args.data, args.out, params, bits=args.bits, speed=args.speed, device=args.device)
    return 0
