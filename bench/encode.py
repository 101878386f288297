"""Encoding speed: images/s of the student against the teacher, fp32 against ternary-packed.

    .venv/bin/python bench/encode.py                      # models of the default run (make run first)
    .venv/bin/python bench/encode.py --bits 48 --images 4096 --repeats 5

Encodes the same prepared database images with each model through `dth.hamming.encode_images`
(the code path of `dth encode`), interleaving the models in each repeat so that a noisy
machine slows them alike, and prints the median images/s of each and the ratios. The
ternary-packed student is loaded from its packed file alone (`dth.ternary.load_packed`):
its weights are ternary values times Wp / Wn, run as dense fp32 matrices (no ternary
kernel), so the expected ratio to the fp32 student is about 1; what it saves is bytes.
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from dth.data import load_split
from dth.hamming import encode_images, load_hash_model, model_bits
from dth.names import student_name, ternary_name


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bits", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--t", default="0.05", help="threshold of the ternary model (as in its file name)")
    p.add_argument("--data", default="data/prepared")
    p.add_argument("--images", type=int, default=4096, help="database images encoded per timing")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()

    models = {
        "student fp32": Path(f"models/{student_name('dth', args.bits, args.seed)}.pt"),
        "student ternary-packed": Path(f"models/{ternary_name('fc', args.bits, args.t)}.npz"),
        "teacher fp32 (all heads)": Path("models/teacher.pt"),
    }
    missing = [str(m) for m in models.values() if not m.exists()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run `make run` (or dvc repro) first")
    images, _ = load_split(args.data, "database")
    images = images[:args.images]
    loaded = {name: load_hash_model(path) for name, path in models.items()}
    rates = {name: [] for name in loaded}
    for name, model in loaded.items():  # warm-up
        encode_images(model, images[:256], model_bits(model), batch_size=256)
    for _ in range(args.repeats):
        for name, model in loaded.items():
            start = time.perf_counter()
            encode_images(model, images, model_bits(model), batch_size=1024)
            rates[name].append(len(images) / (time.perf_counter() - start))
    median = {name: statistics.median(r) for name, r in rates.items()}
    print(f"encoding {len(images)} images of {tuple(images.shape[1:])}, torch threads {torch.get_num_threads()}, "
          f"median of {args.repeats}")
    for name, path in models.items():
        print(f"  {name:26s} {median[name]:10,.0f} images/s   {path.stat().st_size:>10,} bytes  ({path})")
    s, q, t = median["student fp32"], median["student ternary-packed"], median["teacher fp32 (all heads)"]
    print(f"student / teacher speed: {s / t:.1f}x;  ternary-packed / fp32 student: {q / s:.2f}x;  "
          f"file size fp32 / packed: {models['student fp32'].stat().st_size / models['student ternary-packed'].stat().st_size:.2f}x")


if __name__ == "__main__":
    main()
