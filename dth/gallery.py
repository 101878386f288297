"""Hamming search with faiss and the retrieval gallery: the `gallery` stage, shared with `dth search`.

    dth gallery --params params.yaml --data data/prepared --codes codes/dth-12-s0.npz --out results/gallery/gallery.png

    from dth.gallery import Query, build_index, search, draw_gallery
    index = build_index(database_codes, bits=12)                 # faiss IndexBinaryFlat (exact)
    distances, indices = search(index, query_codes, topk=10)     # ties in database order
    draw_gallery("gallery.png", queries, list(zip(distances, indices)), db_images, db_labels, class_names)

Indexes: `flat` = IndexBinaryFlat, exact; its counting search returns tied distances
in database order, the ranking the metrics use. `hash` = IndexBinaryHash on the first
`hash_bits` bits, probing buckets within `nflip` flipped bits (approximate).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dth.hamming import packed_width
from dth.io import atomic_path

GALLERY_SIZE = 10  # results drawn per query


def build_index(database_codes: np.ndarray, bits: int, kind: str = "flat", hash_bits: int = 16,
                nflip: int = 2):
    """A faiss binary index over packed database codes, uint8 (N, ceil(bits/8))."""
    import faiss

    dim = 8 * packed_width(bits)  # faiss counts whole bytes; our padding bits are always 0
    if kind == "flat":
        index = faiss.IndexBinaryFlat(dim)
        index.use_heap = False  # counting search: results by distance, ties in database order
    elif kind == "hash":
        index = faiss.IndexBinaryHash(dim, min(hash_bits, bits))
        index.nflip = nflip
    else:
        raise ValueError(f"index must be flat or hash, not {kind!r}")
    index.add(np.ascontiguousarray(database_codes))
    return index


def search(index, query_codes: np.ndarray, topk: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances int32, indices int64), each (Q, topk); missing results (hash index) are -1."""
    distances, indices = index.search(np.ascontiguousarray(query_codes), topk)
    distances = np.where(indices >= 0, distances, -1)
    return distances, indices


@dataclass
class Query:
    name: str                    # "query 3" or the image file's path
    code: np.ndarray             # uint8 (ceil(k/8),)
    image: np.ndarray            # uint8 (H, W, C), for the gallery
    labels: np.ndarray | None    # multi-hot, None when unknown (image files)


def label_text(labels: np.ndarray, class_names: list[str]) -> str:
    return ",".join(class_names[j] if j < len(class_names) else str(j) for j in np.flatnonzero(labels)) or "-"



def draw_gallery(path, queries, results, db_images, db_labels, class_names) -> None:
    """One row per query: the query, then its top 10, framed green (relevant) / red / grey (unknown)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = GALLERY_SIZE + 1
    fig, axes = plt.subplots(len(queries), cols, figsize=(1.3 * cols, 1.6 * len(queries)), squeeze=False)
    grey = db_images.shape[-1] == 1
    for row, (query, (distances, indices)) in enumerate(zip(queries, results)):
        known = query.labels is not None
        cells = [(query.image, (f"{Path(query.name).name}\nrelevance unknown" if not known
                                else f"{query.name}\n{label_text(query.labels, class_names)}"), "black")]
        for d, i in zip(distances[:GALLERY_SIZE], indices[:GALLERY_SIZE]):
            if i < 0:
                break
            colour = ("green" if (query.labels & db_labels[i]).any() else "red") if known else "grey"
            cells.append((np.asarray(db_images[i]), f"#{i} d={d}", colour))
        for col in range(cols):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(cells):
                ax.axis("off")
                continue
            image, title, colour = cells[col]
            ax.imshow(image[..., 0] if grey else image, cmap="gray" if grey else None, vmin=0, vmax=255)
            ax.set_title(title, fontsize=6)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3 if col else 1)
    fig.suptitle("top 10 by Hamming distance: green relevant, red not, grey unknown (image-file query)",
                 fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- the gallery stage

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data, for the images (default: %(default)s)")
    p.add_argument("--codes", required=True, help="codes file whose queries the gallery shows, e.g. codes/dth-12-s0.npz")
    p.add_argument("--out", default="results/gallery/gallery.png", help="the figure (default: %(default)s)")
    p.add_argument("--queries", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="query indices (default: 0-4)")


def main(args) -> int:
    """The first query images and their top 10, found the way `dth search` finds them."""
    from dth.data import load_manifest, load_split
    from dth.hamming import load_codes
    from dth.params import load_params

    load_params(args.params)  # a bad params file stops here, like every stage
    codes = load_codes(args.codes)
    q_images, _ = load_split(args.data, "query")
    db_images, db_labels = load_split(args.data, "database")
    index = build_index(codes["database_codes"], codes["bits"])
    chosen = [Query(name=f"query {i}", code=codes["query_codes"][i], image=np.asarray(q_images[i]),
                    labels=codes["query_labels"][i]) for i in args.queries]
    distances, indices = search(index, np.stack([q.code for q in chosen]), GALLERY_SIZE)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    draw_gallery(args.out, chosen, list(zip(distances, indices)), db_images, db_labels,
                 load_manifest(args.data).get("class_names", []))
    print(f"wrote {args.out}")
    return 0
