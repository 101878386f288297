"""dth.search: faiss indexes against brute force, and the `dth search` command."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dth.cli import main as dth
from dth.data import to_float
from dth.hamming import hamming_distances, load_codes, pack_codes
from dth.search import build_index, search
from test_encode_evaluate import make_prepared, make_student


def brute_top(qp, dbp, topk):
    """Stable ranking: ascending distance, ties by database index."""
    dist = hamming_distances(qp, dbp).astype(np.int64)
    order = np.argsort(dist, axis=1, kind="stable")[:, :topk]
    return np.take_along_axis(dist, order, axis=1), order


@pytest.mark.parametrize("bits", [6, 12, 48, 70])
def test_flat_index_matches_stable_brute_force(bits):
    rng = np.random.default_rng(bits)
    qp = pack_codes(rng.integers(0, 2, (25, bits)))
    dbp = pack_codes(rng.integers(0, 2, (500, bits)))  # few bits: many ties
    index = build_index(dbp, bits, "flat")
    for topk in (1, 10, 500):
        d, i = search(index, qp, topk)
        bd, bi = brute_top(qp, dbp, topk)
        np.testing.assert_array_equal(d, bd)
        np.testing.assert_array_equal(i, bi)  # ties in database order, like the metrics


def test_hash_index_is_exact_when_probing_every_bucket_and_never_wrong():
    rng = np.random.default_rng(0)
    bits = 16
    qp = pack_codes(rng.integers(0, 2, (20, bits)))
    dbp = pack_codes(rng.integers(0, 2, (400, bits)))
    true = hamming_distances(qp, dbp)
    # 4 hash bits, up to 4 flips: every bucket is probed, so the distances are the exact top 10
    d, i = search(build_index(dbp, bits, "hash", hash_bits=4, nflip=4), qp, 10)
    np.testing.assert_array_equal(d, brute_top(qp, dbp, 10)[0])
    np.testing.assert_array_equal(np.take_along_axis(true, i, axis=1), d)
    # fewer probes: maybe fewer results, but each reported distance is right and sorted
    d, i = search(build_index(dbp, bits, "hash", hash_bits=12, nflip=1), qp, 10)
    found = i >= 0
    np.testing.assert_array_equal(true[np.nonzero(found)[0], i[found]], d[found])
    assert (np.diff(np.where(found, d, 10**6), axis=1) >= 0).all()


@pytest.fixture
def searchable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text((Path(__file__).parents[1] / "params.yaml").read_text())
    make_prepared(tmp_path / "data" / "prepared")
    model = make_student(tmp_path / "models" / "s.pt")
    assert dth(["encode", "--model", "models/s.pt", "--out", "codes/s.npz"]) == 0
    return model


def test_search_by_query_index_prints_stable_top_k(searchable, capsys):
    assert dth(["search", "--codes", "codes/s.npz", "--query-index", "0", "3", "--topk", "5"]) == 0
    out = capsys.readouterr().out
    codes = load_codes("codes/s.npz")
    d, i = brute_top(codes["query_codes"][[0, 3]], codes["database_codes"], 5)
    blocks = out.split("query ")[1:]
    assert len(blocks) == 2
    for block, dist, idx, q in zip(blocks, d, i, (0, 3)):
        rows = [line.split() for line in block.splitlines()[2:] if line.strip()]
        assert [int(r[1]) for r in rows] == list(idx)
        assert [int(r[2]) for r in rows] == list(dist)
        relevant = [(codes["query_labels"][q] & codes["database_labels"][j]).any() for j in idx]
        assert [r[3] for r in rows] == ["yes" if r else "no" for r in relevant]
    assert dth(["search", "--codes", "codes/s.npz", "--query-index", "12"]) == 2  # 12 queries: 0 .. 11
    assert "0 .. 11" in capsys.readouterr().err


def test_search_images_with_an_unreadable_one_and_a_gallery(searchable, tmp_path, capsys):
    db_images = np.load("data/prepared/database_images.npy")
    Image.fromarray(db_images[7][..., 0]).resize((56, 56)).convert("RGB").save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    rc = dth(["search", "--codes", "codes/s.npz", "--model", "models/s.pt", "--image", "broken.png",
              "good.png", "missing.png", "--query-index", "1", "--gallery", "gallery.png"])
    captured = capsys.readouterr()
    assert rc == 1
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 2 and "broken.png" in errors[0] and "missing.png" in errors[1]
    assert "good.png: label unknown" in captured.out and "query 1: label" in captured.out
    # the image query's code is what the model gives the converted image
    image = np.array(Image.open(tmp_path / "good.png").convert("L").resize((28, 28), Image.BILINEAR))
    with torch.no_grad():
        code = pack_codes(searchable.hash(to_float(image[None, :, :, None])))
    d, i = brute_top(code, load_codes("codes/s.npz")["database_codes"], 10)
    block = captured.out.split("good.png: label unknown")[1]
    rows = [line.split() for line in block.splitlines()[2:12]]
    assert [int(r[1]) for r in rows] == list(i[0]) and [r[3] for r in rows] == ["-"] * 10
    png = Image.open(tmp_path / "gallery.png")
    assert png.size[0] > 500 and png.size[1] > 100

    assert dth(["search", "--codes", "codes/s.npz", "--image", "good.png"]) == 2  # no --model
    assert "--model" in capsys.readouterr().err
