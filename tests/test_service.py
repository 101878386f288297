"""`dth service-search` and `dth service-latency` (claim 7) on tiny data and untrained models."""

import csv
import json

import numpy as np
import pytest
import torch
import yaml

from dth.cli import main as dth
from dth.hamming import hamming_distances, pack_codes
from dth.models import Student, Teacher, save_model
from dth.service_search import database_blocks, new_index, real_valued_map
from tests.fakes import make_tiny_fashion_mnist, write_params

BITS = [8, 16]
SIZES = [50, 120, 300]  # 100 database images + 70 other real images: the last size grows 130 synthetic items


def test_real_valued_map_matches_sklearn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    q, db = rng.normal(size=(15, 6)), rng.normal(size=(80, 6))
    ql = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, 15)]
    dbl = (rng.random((80, 4)) < 0.3).astype(np.uint8)
    dbl[np.arange(80), rng.integers(0, 4, 80)] = 1  # multi-hot, every class present
    dist = ((q[:, None, :] - db[None, :, :]) ** 2).sum(-1)
    relevant = (ql.astype(int) @ dbl.T.astype(int)) > 0
    expected = np.mean([average_precision_score(relevant[i], -dist[i]) for i in range(len(q))])
    assert real_valued_map(q, db, ql, dbl) == pytest.approx(expected, abs=1e-12)
    # mAP@topk: the mean of (hits so far / rank) over the hits in the top 10
    order = np.argsort(dist, axis=1, kind="stable")[:, :10]
    ap = []
    for i in range(len(q)):
        rel = relevant[i][order[i]]
        hits = np.cumsum(rel)
        ap.append((hits / np.arange(1, 11))[rel].mean() if rel.any() else 0.0)
    assert real_valued_map(q, db, ql, dbl, topk=10) == pytest.approx(np.mean(ap), abs=1e-12)


def grown(real, heads, n, seed=0, stops=()):
    parts = list(database_blocks(real, heads, n, 0.25, seed, stops))
    assert [start for start, _, _ in parts] == list(np.cumsum([0] + [len(f) for _, f, _ in parts])[:-1])
    features = np.concatenate([f for _, f, _ in parts])
    return features, {k: np.concatenate([h[k] for _, _, h in parts]) for k in heads}


def test_synthetic_growth_is_consistent_and_deterministic():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    real = rng.normal(size=(40, 20)).astype(np.float32) * np.linspace(0.5, 3, 20, dtype=np.float32)
    heads = {k: torch.nn.Linear(20, k) for k in BITS}
    features, hashed = grown(real, heads, 500, stops=[30, 100])
    assert features.shape == (500, 20) and features.dtype == np.float32
    np.testing.assert_array_equal(features[:40], real)
    # noise of growth_noise x each dimension's std around real rows
    noise = features[40:] - real[np.argmin(((features[40:, None] - real[None]) ** 2).sum(-1), axis=1)]
    np.testing.assert_allclose(noise.std(0) / real.std(0), 0.25, rtol=0.25)
    for k, head in heads.items():
        with torch.no_grad():
            expected = head(torch.from_numpy(features)).numpy()
        np.testing.assert_allclose(hashed[k], expected, rtol=1e-5, atol=1e-5)   # (b) = hash layer of (c)
        np.testing.assert_array_equal(pack_codes(hashed[k]), np.packbits(hashed[k] > 0, axis=1))  # (a) = sign (b)
    # the same seed: the same items, whatever the sizes asked for; another seed: others
    again, hashed_again = grown(real, heads, 300, stops=[120])
    np.testing.assert_array_equal(again, features[:300])
    np.testing.assert_array_equal(hashed_again[16], hashed[16][:300])
    other, _ = grown(real, heads, 300, seed=1)
    np.testing.assert_array_equal(other[:40], real)
    assert not np.allclose(other[40:], features[40:300])


def test_binary_index_top_k_is_the_hamming_ranking():
    rng = np.random.default_rng(2)
    for bits in (12, 48):
        db = pack_codes(rng.normal(size=(300, bits)))
        q = pack_codes(rng.normal(size=(20, bits)))
        index = new_index("binary", bits)
        index.add(db)
        dist = hamming_distances(q, db).astype(np.int64)
        for i in range(len(q)):
            d, idx = index.search(q[i:i + 1], 10)
            order = np.argsort(dist[i], kind="stable")[:10]
            np.testing.assert_array_equal(d[0], dist[i][order])
            np.testing.assert_array_equal(idx[0], order)   # ties in database order


# --- the stages, end to end on a tiny run ---

def tiny_split(dataset, protocol, labels, original_test, seed):
    """30 query, 50 train, 100 database images: 70 of the 250 are in no set ("other real images")."""
    order = np.random.default_rng(seed).permutation(len(labels))
    return {"query": order[:30], "train": order[30:80], "database": order[80:180]}


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("dth.prepare.split", tiny_split)
    monkeypatch.setattr("dth.service_search.split", tiny_split)
    make_tiny_fashion_mnist(tmp_path / "fmnist", n_train=200, n_test=50)
    # a sampled protocol (split patched to tiny sizes above) leaves images in no set: the "other real images"
    write_params(tmp_path / "params.yaml", root=str(tmp_path / "fmnist"), protocol="1k-10k")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params.update(bits=BITS, seed=0)
    params["quantize"].update(layers="fc", t=[0.05, 0.1])
    params["encode"].update(amp="none", batch_size=64)
    params["service"].update(database_sizes=[300, 50, 120], topk=5, search_queries=8, search_seconds=0.01,
                             encode_queries=10, warmup=2, ternary_t=0.05)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert dth(["prepare", "--out", "data/prepared"]) == 0

    from dth.ternary import export_packed, ternarize_model
    torch.manual_seed(0)
    common = {"num_classes": 10, "in_channels": 1, "image_size": 28, "mean": [0.3], "std": [0.3]}
    config = {"arch": "resnet18", "bits": BITS, "stem_stride": 2, "input_size": 8, **common}
    save_model("models/teacher.pt", Teacher(**config), "teacher", config)
    for k in BITS:
        student = Student(bits=k, **common)
        save_model(f"models/dth-{k}-s0.pt", student, "student", {"bits": k, **common})
        ternarize_model(student, "fc", 0.05)
        export_packed(student, f"models/ttq-fc-{k}-t0.05.npz", "student", {"bits": k, **common}, "fc")
    return tmp_path


def test_service_search_end_to_end(tiny_run):
    threads = torch.get_num_threads()
    assert dth(["service-search"]) == 0
    assert torch.get_num_threads() == threads  # one thread while timing only
    quality = json.loads((tiny_run / "results/service/quality.json").read_text())
    assert quality["real_items"] == {"50": 50, "120": 120, "300": 170}
    assert quality["dims"] == {"teacher": 512, "dth": 500}
    assert quality["queries"] == 30 and quality["database"] == 100
    for model in ("teacher", "dth"):
        assert set(quality["map"][model]) == {"8", "16"}
        for k in ("8", "16"):
            assert set(quality["map"][model][k]) == {"binary", "binary_stable", "real", "features"}
            assert all(0 < v <= 1 for v in quality["map"][model][k].values())
        assert quality["bytes_per_item"][model]["16"] == {"binary": 2, "real": 64,
                                                           "features": 4 * quality["dims"][model]}
    assert quality["map"]["teacher"]["8"]["features"] == quality["map"]["teacher"]["16"]["features"]

    timings = json.loads((tiny_run / "results/service/search.json").read_text())
    assert timings["threads"] == 1 and timings["cpu"]["threads"] == 1 and timings["topk"] == 5
    for model in ("teacher", "dth"):
        for k in ("8", "16"):
            cells = timings["search_us"][model][k]
            assert set(cells) == {"binary", "real", "features"}
            for kind in cells.values():
                assert set(kind) == {"50", "120", "300"}
                for cell in kind.values():
                    assert 5 <= cell["queries"] <= 8 and 0 < cell["median"] <= cell["p95"]
            assert timings["speedup_binary_over_features"][model][k] > 0
    assert timings["search_us"]["teacher"]["8"]["features"] == timings["search_us"]["teacher"]["16"]["features"]

    rows = list(csv.DictReader(open(tiny_run / "results/service/search-times.csv")))
    # teacher: 2 k x 2 kinds + its shared features; dth: 2 k x 3 kinds; each at 3 sizes
    assert len(rows) == 3 * (2 * 2 + 1 + 2 * 3)
    assert {r["database_size"] for r in rows} == {"50", "120", "300"}
    assert {(r["model"], r["bits"], r["kind"]) for r in rows if r["bits"] == ""} == {("teacher", "", "features")}

    # the same params and models: the same quality numbers
    assert dth(["service-search", "--quality", "again.json", "--timings", "t.json", "--curve", "c.csv"]) == 0
    assert json.loads((tiny_run / "again.json").read_text()) == quality


def test_service_search_refuses_bad_input(tiny_run, capsys):
    params = yaml.safe_load(open("params.yaml"))
    params["service"]["database_sizes"] = [3, 50]
    open("params.yaml", "w").write(yaml.safe_dump(params))
    assert dth(["service-search"]) == 2
    assert "service.database_sizes" in capsys.readouterr().err
    params["service"]["database_sizes"] = [50]
    open("params.yaml", "w").write(yaml.safe_dump(params))
    assert dth(["service-search", "--students", "models/nope-{bits}.pt"]) == 2
    assert "models/nope-8.pt does not exist" in capsys.readouterr().err


def test_service_latency_end_to_end(tiny_run):
    threads = torch.get_num_threads()
    assert dth(["service-latency"]) == 0
    assert torch.get_num_threads() == threads
    out = json.loads((tiny_run / "results/service/latency.json").read_text())
    assert out["threads"] == out["cpu"]["threads"] == 1 and out["precision"] == "fp32" and out["queries"] == 10
    for model in ("teacher", "dth", "ttq"):
        assert set(out["encode_us"][model]) == {"8", "16"}
        for cell in out["encode_us"][model].values():
            assert cell["queries"] == 10 and 0 < cell["median"] <= cell["p95"]
    for k in (8, 16):
        key = str(k)
        # the student on 28x28: three convolutions, fc 256 -> 500, hash layer 500 -> k (no classifier)
        convs = 28 * 28 * 32 * 25 + 13 * 13 * 32 * 32 * 25 + 6 * 6 * 64 * 32 * 25
        assert out["flops"]["dth"][key] == out["flops"]["ttq"][key] == convs + 256 * 500 + 500 * k
        assert out["ternary_layers"][key] == "fc,hash_layer"
        share = (256 * 500 + 500 * k) / out["flops"]["dth"][key]
        assert out["ternary_flop_share"][key] == pytest.approx(share, abs=1e-6)
        assert out["ternary_max_speedup"][key] == pytest.approx(1 / (1 - share), abs=1e-3)
        assert out["ternary_measured_ratio"][key] > 0
        assert out["flops"]["teacher"][key] > out["flops"]["dth"][key]
    assert out["flops"]["teacher"]["16"] - out["flops"]["teacher"]["8"] == 512 * 8


def test_service_latency_refuses_a_missing_ternary_model(tiny_run, capsys):
    assert dth(["service-latency", "--ternary", "models/ttq-{layers}-{bits}-t0.5.npz"]) == 2
    assert "models/ttq-fc-8-t0.5.npz does not exist" in capsys.readouterr().err
