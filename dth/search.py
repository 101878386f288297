"""Hamming search of the database codes with faiss: print (and optionally draw) each query's top hits.

    dth search --codes codes/dth-12-s0.npz --query-index 0 1 2
    dth search --codes codes/dth-12-s0.npz --query-index 5 --gallery gallery.png
    dth search --codes codes/dth-12-s0.npz --model models/dth-12-s0.pt --image shoe.png bag.jpg
    dth search --codes codes/dth-12-s0.npz --query-index 0 --index hash --topk 20

Queries are query-set items (--query-index, their codes are in the codes file) and/or
image files (--image, encoded with --model after conversion to the prepared images'
shape: grey or RGB, resized). For each query it prints the top --topk database items:
rank, database index, Hamming distance, label, and whether it is relevant (shares a
label with the query; known only for query-set items).

Indexes (faiss): `flat` = IndexBinaryFlat, exact; its counting search returns tied
distances in database order, the ranking the metrics use. `hash` = IndexBinaryHash on
the first search.hash_bits bits, probing buckets within search.nflip flipped bits: fast
on large clustered databases, approximate (it may return fewer than topk items).

--gallery out.png draws each query and its top 10 from the prepared images, framed
green where relevant and red where not (grey for image-file queries, whose relevance
is unknown). An unreadable image file gets one error line naming it on stderr; the
other queries are still answered and the exit status is 1.

params (search:): index (flat | hash), topk, hash_bits, nflip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dth.data import load_manifest, load_split
from dth.errors import DthError
from dth.gallery import GALLERY_SIZE, Query, build_index, draw_gallery, label_text, search
from dth.hamming import encode_images, load_codes, load_hash_model, model_bits
from dth.io import sha256_file
from dth.params import load_params



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--codes", required=True, help="codes file written by `dth encode`")
    parser.add_argument("--data", default="data/prepared", help="prepared data folder (default: data/prepared)")
    parser.add_argument("--query-index", type=int, nargs="+", default=[], metavar="I",
                        help="query-set items to search with (0-based)")
    parser.add_argument("--image", nargs="+", default=[], metavar="FILE", help="image files to search with")
    parser.add_argument("--model", default=None, help="model that encodes --image files (.pt or packed .npz)")
    parser.add_argument("--topk", type=int, default=None, help="results per query (default: params search.topk)")
    parser.add_argument("--index", choices=("flat", "hash"), default=None,
                        help="faiss index (default: params search.index)")
    parser.add_argument("--gallery", default=None, metavar="PNG", help="draw the queries and their top 10 here")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")


# --- the search path (bench/search.py times it) ---

# --- queries ---

def read_image(path: str, shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 (H, W, C) of an image file, converted to grey or RGB and resized to `shape`."""
    from PIL import Image

    height, width, channels = shape
    with Image.open(path) as img:
        img = img.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
        array = np.asarray(img, dtype=np.uint8)
    return array.reshape(height, width, channels)


def image_queries(paths, model_path, bits, codes_sha, shape, amp: str = "none") -> tuple[list[Query], list[str]]:
    """Encoded image-file queries, and an error line for each file that cannot be read."""
    if not paths:
        return [], []
    if model_path is None:
        raise DthError("--image needs --model, the model that wrote the codes, to encode the images")
    model = load_hash_model(model_path)
    if bits not in model_bits(model):
        raise DthError(f"--model {model_path} makes codes of k in {model_bits(model)}, the codes file has k={bits}")
    if tuple(model.input_shape) != tuple(shape):
        raise DthError(f"--model {model_path} takes images of shape {model.input_shape}, the data has {shape}")
    if sha256_file(model_path) != codes_sha:
        print(f"dth search: warning: {model_path} is not the model file that wrote the codes", file=sys.stderr)
    queries, errors = [], []
    for path in paths:
        try:
            image = read_image(path, shape)
        except (OSError, ValueError) as e:  # missing, unreadable or not an image (PIL's errors are OSErrors)
            errors.append(f"dth search: error: cannot read image {path}: {e}")
            continue
        code = encode_images(model, image[None], [bits], amp=amp)[bits][0]
        queries.append(Query(name=str(path), code=code, image=image, labels=None))
    return queries, errors


# --- output ---

def print_results(query, distances, indices, db_labels, class_names, topk) -> None:
    known = query.labels is not None
    label = label_text(query.labels, class_names) if known else "unknown (image file)"
    print(f"{query.name}: label {label}")
    print(f"  {'rank':>4}  {'index':>8}  {'distance':>8}  {'relevant':>8}  label")
    for rank, (d, i) in enumerate(zip(distances[:topk], indices[:topk]), start=1):
        if i < 0:
            break
        relevant = ("yes" if (query.labels & db_labels[i]).any() else "no") if known else "-"
        print(f"  {rank:>4}  {i:>8}  {d:>8}  {relevant:>8}  {label_text(db_labels[i], class_names)}")


def main(args) -> int:
    all_params = load_params(args.params)
    params = all_params["search"]
    topk = args.topk if args.topk is not None else params["topk"]
    kind = args.index or params["index"]
    if topk < 1:
        raise DthError(f"--topk must be >= 1, got {topk}")
    if not args.query_index and not args.image:
        raise DthError("nothing to search with: give --query-index I ... and/or --image FILE ...")

    codes = load_codes(args.codes)
    bits = codes["bits"]
    manifest = load_manifest(args.data)
    class_names = list(manifest.get("class_names") or [])
    shape = tuple(int(s) for s in manifest["image_shape"])
    num_queries = len(codes["query_codes"])
    for i in args.query_index:
        if not 0 <= i < num_queries:
            raise DthError(f"--query-index {i}: the codes file has query items 0 .. {num_queries - 1}")

    query_images = db_images = None
    if args.gallery:
        query_images, _ = load_split(args.data, "query")
        db_images, _ = load_split(args.data, "database")
        if len(db_images) != len(codes["database_codes"]) or len(query_images) != num_queries:
            raise DthError(f"{args.data} does not hold the sets that {args.codes} was encoded from "
                           f"({len(db_images)} vs {len(codes['database_codes'])} database items)")

    queries = [Query(name=f"query {i}", code=codes["query_codes"][i],
                     image=None if query_images is None else np.asarray(query_images[i]),
                     labels=codes["query_labels"][i]) for i in args.query_index]
    from dth.hardware import resolve_amp
    import torch
    # an image file is encoded on the CPU in the precision `dth encode` used (params encode.amp)
    amp = resolve_amp(all_params["encode"]["amp"], torch.device("cpu"))[0] if args.image else "none"
    from_files, errors = image_queries(args.image, args.model, bits, codes["model_sha256"], shape, amp)
    queries += from_files
    for line in errors:
        print(line, file=sys.stderr)

    if queries:
        index = build_index(codes["database_codes"], bits, kind, params["hash_bits"], params["nflip"])
        wanted = min(max(topk, GALLERY_SIZE if args.gallery else 0), len(codes["database_codes"]))
        distances, indices = search(index, np.stack([q.code for q in queries]), wanted)
        for q, d, i in zip(queries, distances, indices):
            print_results(q, d, i, codes["database_labels"], class_names, topk)
        if args.gallery:
            draw_gallery(args.gallery, queries, list(zip(distances, indices)), db_images,
                         codes["database_labels"], class_names)
            print(f"dth search: gallery of {len(queries)} queries -> {args.gallery}")
    return 1 if errors else 0
