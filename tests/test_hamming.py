"""dth.hamming: packing, bit order, distances against brute force and faiss, the codes file."""

import faiss
import numpy as np
import pytest
import torch

from dth.errors import DthError
from dth.hamming import (hamming_distances, load_codes, pack_codes, save_codes, to_words,
                         unpack_codes)


def test_bit_is_one_where_output_is_positive():
    h = np.array([[0.3, -0.1, 0.0, 2.0, -5.0, 1e-9, -1e-9, 7.0, 0.5]])
    packed = pack_codes(h)
    assert packed.dtype == np.uint8 and packed.shape == (1, 2)
    np.testing.assert_array_equal(unpack_codes(packed, 9), [[1, 0, 0, 1, 0, 1, 0, 1, 1]])
    # documented order: bit j is bit 7 - j % 8 of byte j // 8, zero padding
    assert packed[0, 0] == 0b10010101 and packed[0, 1] == 0b10000000
    np.testing.assert_array_equal(pack_codes(torch.tensor(h)), packed)
    np.testing.assert_array_equal(pack_codes(np.sign(h)), packed)  # ±1 (and 0) codes


@pytest.mark.parametrize("bits", [1, 7, 8, 12, 48, 64, 65, 130, 300])
def test_roundtrip_and_distances_match_brute_force(bits):
    rng = np.random.default_rng(bits)
    q = rng.integers(0, 2, (17, bits))
    db = rng.integers(0, 2, (53, bits))
    qp, dbp = pack_codes(q), pack_codes(db)
    np.testing.assert_array_equal(unpack_codes(qp, bits), q)
    dist = hamming_distances(qp, dbp)
    np.testing.assert_array_equal(dist, (q[:, None, :] != db[None, :, :]).sum(-1))
    assert dist.dtype == (np.uint8 if bits <= 255 else np.uint16)
    assert to_words(qp).dtype == np.uint64


@pytest.mark.parametrize("bits", [8, 48, 64, 128])
def test_distances_match_faiss(bits):
    rng = np.random.default_rng(0)
    qp = rng.integers(0, 256, (20, bits // 8), dtype=np.uint8)
    dbp = rng.integers(0, 256, (300, bits // 8), dtype=np.uint8)
    index = faiss.IndexBinaryFlat(bits)
    index.add(dbp)
    fd, fi = index.search(qp, len(dbp))
    ours = hamming_distances(qp, dbp)
    np.testing.assert_array_equal(np.take_along_axis(ours, fi, axis=1), fd)


def test_codes_file_roundtrip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    q, db = pack_codes(rng.standard_normal((4, 12))), pack_codes(rng.standard_normal((9, 12)))
    ql, dbl = np.eye(3, dtype=np.uint8)[[0, 1, 2, 0]], np.eye(3, dtype=np.uint8)[rng.integers(0, 3, 9)]
    path = tmp_path / "codes" / "m-12.npz"
    save_codes(path, query_codes=q, database_codes=db, query_labels=ql, database_labels=dbl,
               bits=12, model_sha256="ab" * 32, model="m-12")
    assert sorted(p.name for p in path.parent.iterdir()) == ["m-12.npz"]  # no temporary left
    codes = load_codes(path)
    np.testing.assert_array_equal(codes["query_codes"], q)
    np.testing.assert_array_equal(codes["database_labels"], dbl)
    assert codes["bits"] == 12 and codes["model"] == "m-12" and codes["model_sha256"] == "ab" * 32

    with pytest.raises(ValueError, match="packed"):
        save_codes(path, query_codes=q, database_codes=db, query_labels=ql, database_labels=dbl,
                   bits=20, model_sha256="x", model="m")
    with pytest.raises(DthError, match="does not exist"):
        load_codes(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DthError, match="bad.npz"):
        load_codes(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, query_codes=q)
    with pytest.raises(DthError, match="missing array"):
        load_codes(partial)
