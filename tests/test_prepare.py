"""Tests of `dth prepare` (dth/prepare.py, dth/datasets.py, dth/splits.py) on tiny upstream-format files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torchvision
from torchvision.datasets.mnist import read_image_file, read_label_file

from dth import datasets, splits
from dth.cli import main as cli_main
from dth.data import SPLITS, load_manifest, load_split
from dth.errors import DthError
from dth.params import load_params
from dth.prepare import prepare
from tests.fakes import (make_tiny_cifar10, make_tiny_fashion_mnist, make_tiny_nus_wide, nus_index,
                         patch_cifar10_md5, pool_index, write_params)


def data_params(**overrides) -> dict:
    data = {"dataset": "fashion-mnist", "protocol": "1k", "root": None, "download": False,
            "image_size": 16, "split_seed": 0}
    data.update(overrides)
    return data


def read_all(out: Path) -> dict:
    return {name: load_split(out, name, mmap=False) for name in SPLITS}


def folder_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def assert_nothing_written(parent: Path, name: str) -> None:
    """Neither the output folder nor any temporary folder of it is left in `parent`."""
    assert not [p.name for p in parent.iterdir() if name in p.name]


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory) -> Path:
    # 700 images per class in all: just enough for `1k` (100 query + 500 train per class)
    return make_tiny_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=6000, n_test=1000)


@pytest.fixture(scope="module")
def cifar(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("cifar")
    return folder, make_tiny_cifar10(folder, n_per_batch=1200, n_test=1000)  # 700 per class


# --- Fashion-MNIST ---

def test_read_idx_matches_torchvision(tmp_path, fmnist):
    for name, reader in [("t10k-images-idx3-ubyte", read_image_file), ("t10k-labels-idx1-ubyte", read_label_file)]:
        plain = tmp_path / name
        plain.write_bytes(gzip.decompress((fmnist / f"{name}.gz").read_bytes()))
        expected = reader(str(plain)).numpy()
        np.testing.assert_array_equal(datasets.read_idx(fmnist / f"{name}.gz"), expected)
        np.testing.assert_array_equal(datasets.read_idx(plain), expected)  # uncompressed too


def test_fashion_mnist_1k_counts_balance_disjoint(tmp_path, fmnist):
    out = tmp_path / "prepared"
    manifest = prepare(data_params(root=str(fmnist)), out)
    sets = read_all(out)
    assert manifest["counts"] == {"query": 1000, "train": 5000, "database": 1000}
    assert manifest["class_counts"] == {"query": [100] * 10, "train": [500] * 10, "database": [100] * 10}
    assert manifest["image_shape"] == [28, 28, 1] and manifest["num_classes"] == 10
    assert manifest["class_names"][0] == "T-shirt/top"
    assert sorted(manifest["sources_sha256"]) == sorted(f"{n}.gz" for n in datasets.FASHION_MNIST_FILES)
    pool_labels = np.r_[datasets.read_idx(fmnist / "train-labels-idx1-ubyte.gz"),
                        datasets.read_idx(fmnist / "t10k-labels-idx1-ubyte.gz")]
    seen = []
    for name, (images, labels) in sets.items():
        assert images.dtype == np.uint8 and images.shape == (manifest["counts"][name], 28, 28, 1)
        assert labels.dtype == np.uint8 and (labels.sum(axis=1) == 1).all()  # one-hot
        index = pool_index(images)
        np.testing.assert_array_equal(labels.argmax(axis=1), pool_labels[index])  # labels follow their images
        seen.append(index)
    everything = np.concatenate(seen)
    assert len(np.unique(everything)) == len(everything) == 7000  # disjoint, and the whole pool


def test_fashion_mnist_1k_10k_samples_a_balanced_database(tmp_path):
    src = make_tiny_fashion_mnist(tmp_path / "src", n_train=16000, n_test=1000)  # 1,700 per class
    manifest = prepare(data_params(root=str(src), protocol="1k-10k"), tmp_path / "prepared")
    assert manifest["counts"] == {"query": 1000, "train": 5000, "database": 10000}
    assert manifest["class_counts"]["database"] == [1000] * 10
    index = np.concatenate([pool_index(images) for images, _ in read_all(tmp_path / "prepared").values()])
    assert len(np.unique(index)) == 16000  # disjoint
    with pytest.raises(DthError, match=r"needs 100 query \+ 500 train \+ 1000 database = 1600 images"):
        prepare(data_params(root=str(make_tiny_fashion_mnist(tmp_path / "small", n_train=600, n_test=100)),
                            protocol="1k-10k"), tmp_path / "p2")


def test_fashion_mnist_full_uses_official_sets(tmp_path):
    src = make_tiny_fashion_mnist(tmp_path / "src", n_train=120, n_test=30)
    out = tmp_path / "prepared"
    manifest = prepare(data_params(root=str(src), protocol="full"), out)
    sets = read_all(out)
    assert manifest["counts"] == {"query": 30, "train": 120, "database": 120}
    np.testing.assert_array_equal(pool_index(sets["query"][0]), np.arange(120, 150))  # test set, in order
    np.testing.assert_array_equal(pool_index(sets["train"][0]), np.arange(120))
    np.testing.assert_array_equal(sets["train"][0], sets["database"][0])
    np.testing.assert_array_equal(sets["train"][1], sets["database"][1])


def test_same_seed_same_bytes_other_seed_other_split(tmp_path, fmnist):
    outs = [tmp_path / name for name in ("a", "b", "c")]
    for out, seed in zip(outs, (3, 3, 4)):
        prepare(data_params(root=str(fmnist), split_seed=seed), out)
    assert folder_bytes(outs[0]) == folder_bytes(outs[1])
    a, c = read_all(outs[0]), read_all(outs[2])
    assert not np.array_equal(pool_index(a["query"][0]), pool_index(c["query"][0]))
    assert json.loads((outs[2] / "manifest.json").read_text())["split_seed"] == 4


def test_cli_writes_the_artifact_and_overwrites_atomically(tmp_path, capsys, timing_log_of_the_test):
    src = make_tiny_fashion_mnist(tmp_path / "src", n_train=60, n_test=20)
    params = write_params(tmp_path / "params.yaml", root=str(src), protocol="full")
    out = tmp_path / "prepared"
    assert cli_main(["prepare", "--params", str(params), "--out", str(out)]) == 0
    assert "query 20, train 60, database 60" in capsys.readouterr().out
    assert load_manifest(out)["counts"]["query"] == 20
    before = folder_bytes(out)
    # a failing rerun leaves the previous, complete artifact untouched
    write_params(params, root=str(tmp_path / "nowhere"), protocol="full")
    assert cli_main(["prepare", "--params", str(params), "--out", str(out)]) == 2
    assert folder_bytes(out) == before
    assert [p.name for p in tmp_path.iterdir() if "prepared" in p.name] == ["prepared"]
    # each `dth` run appended its timing record (dth/timing.py) to $DTH_TIMING_LOG (tests/conftest.py)
    records = [json.loads(line) for line in timing_log_of_the_test.read_text().splitlines()]
    assert [(r["stage"], r["status"]) for r in records] == [("prepare", 0), ("prepare", 2)]
    assert records[0]["loop_seconds"]["prepare"] > 0 and records[0]["start"] <= records[0]["end"]


def test_corrupted_fashion_mnist_gz_names_file_and_md5(tmp_path):
    src = make_tiny_fashion_mnist(tmp_path / "src", n_train=60, n_test=20)
    path = src / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    md5 = dict(torchvision.datasets.FashionMNIST.resources)["train-images-idx3-ubyte.gz"]
    with pytest.raises(DthError, match=f"{path}.*corrupted.*{md5}"):
        prepare(data_params(root=str(src), protocol="full"), tmp_path / "prepared")
    assert_nothing_written(tmp_path, "prepared")
    path.write_bytes(bytes(raw[: len(raw) // 2]))  # truncated
    with pytest.raises(DthError, match=f"{path}.*corrupted"):
        prepare(data_params(root=str(src), protocol="full"), tmp_path / "prepared")


def test_bad_idx_content(tmp_path):
    src = make_tiny_fashion_mnist(tmp_path / "src", n_train=60, n_test=20)
    labels = src / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-3]))  # 3 labels short
    with pytest.raises(DthError, match=f"{labels}.*truncated"):
        prepare(data_params(root=str(src), protocol="full"), tmp_path / "prepared")
    labels.write_bytes(gzip.compress(b"PK\x03\x04 not an idx file"))
    with pytest.raises(DthError, match=f"{labels}.*not an idx file"):
        prepare(data_params(root=str(src), protocol="full"), tmp_path / "prepared")


def test_missing_data_offline_names_three_ways(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIRS", (tmp_path / "debian", tmp_path / "data/raw/FashionMNIST/raw"))
    for data in (data_params(), data_params(root=str(tmp_path / "mine")), data_params(dataset="cifar10")):
        with pytest.raises(DthError) as e:
            prepare(data, tmp_path / "prepared")
        message = str(e.value)
        assert "data.root" in message and "data.download: true" in message and "default place" in message
        assert "\n" not in message
    assert_nothing_written(tmp_path, "prepared")


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIRS", (tmp_path / "debian",))

    def offline(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", offline)
    with pytest.raises(DthError, match="download into data/raw failed.*no network.*data.root"):
        prepare(data_params(download=True), tmp_path / "prepared")


def test_fashion_mnist_found_where_torchvision_downloads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = make_tiny_fashion_mnist(tmp_path / "data/raw/FashionMNIST/raw", n_train=40, n_test=10)
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIRS", (tmp_path / "debian", Path("data/raw/FashionMNIST/raw")))
    manifest = prepare(data_params(protocol="full"), "data/prepared")
    assert manifest["counts"] == {"query": 10, "train": 40, "database": 40} and raw.is_dir()


# --- CIFAR-10 ---

def test_cifar10_protocols_from_archive_and_folder(tmp_path, cifar, monkeypatch):
    folder, md5s = cifar
    patch_cifar10_md5(monkeypatch, md5s)
    expect = {"1k": {"query": 1000, "train": 5000, "database": 1000},
              "59k": {"query": 1000, "train": 5000, "database": 6000},
              "full": {"query": 1000, "train": 6000, "database": 6000}}
    for protocol, counts in expect.items():
        out = tmp_path / protocol
        manifest = prepare(data_params(dataset="cifar10", protocol=protocol, root=str(folder / "cifar-10-python.tar.gz")), out)
        assert manifest["counts"] == counts
        assert manifest["image_shape"] == [32, 32, 3] and manifest["class_names"][0] == "airplane"
        sets = {name: pool_index(images) for name, (images, _) in read_all(out).items()}
        if protocol != "full":
            assert manifest["class_counts"]["query"] == [100] * 10
            assert manifest["class_counts"]["train"] == [500] * 10
        if protocol == "1k":
            assert len(np.unique(np.concatenate(list(sets.values())))) == 7000
        if protocol == "59k":
            assert np.isin(sets["train"], sets["database"]).all()
            assert not np.isin(sets["query"], sets["database"]).any()
            assert len(np.unique(np.r_[sets["query"], sets["database"]])) == 7000
        if protocol == "full":
            np.testing.assert_array_equal(sets["query"], np.arange(6000, 7000))
            np.testing.assert_array_equal(sets["database"], np.arange(6000))
    # the extracted folder (or its parent) gives the same arrays as the archive
    for root in (folder / "cifar-10-batches-py", folder):
        out = tmp_path / "from-folder"
        prepare(data_params(dataset="cifar10", protocol="1k", root=str(root)), out)
        got = folder_bytes(out)
        ref = folder_bytes(tmp_path / "1k")
        assert {k: v for k, v in got.items() if k.endswith(".npy")} == {k: v for k, v in ref.items() if k.endswith(".npy")}


def test_cifar10_pixels_are_hwc(tmp_path, monkeypatch):
    md5s = make_tiny_cifar10(tmp_path / "src", n_per_batch=10, n_test=10)
    patch_cifar10_md5(monkeypatch, md5s)
    pool = datasets.read_cifar10(str(tmp_path / "src"), download=False)
    import pickle
    batch = pickle.loads((tmp_path / "src/cifar-10-batches-py/data_batch_1").read_bytes())
    np.testing.assert_array_equal(pool.images[:10], batch["data"].reshape(10, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(pool.labels[:10].argmax(axis=1), batch["labels"])


def test_corrupted_cifar10_archive_and_batch(tmp_path, monkeypatch):
    md5s = make_tiny_cifar10(tmp_path / "src", n_per_batch=10, n_test=10)
    patch_cifar10_md5(monkeypatch, md5s)
    archive = tmp_path / "src/cifar-10-python.tar.gz"
    raw = bytearray(archive.read_bytes())
    raw[100] ^= 0xFF
    archive.write_bytes(bytes(raw))
    with pytest.raises(DthError, match=f"{archive} is corrupted.*expected {md5s['tgz_md5']}"):
        prepare(data_params(dataset="cifar10", protocol="full", root=str(archive)), tmp_path / "prepared")
    batch = tmp_path / "src/cifar-10-batches-py/data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-10])
    with pytest.raises(DthError, match=f"{batch} is corrupted.*expected {md5s['train_list'][2][1]}"):
        prepare(data_params(dataset="cifar10", protocol="full", root=str(tmp_path / "src/cifar-10-batches-py")),
                tmp_path / "prepared")
    assert_nothing_written(tmp_path, "prepared")


def test_real_cifar10_checksums_come_from_torchvision(tmp_path):
    # with torchvision's real md5s, a fake archive is rejected as corrupted, naming torchvision's md5
    make_tiny_cifar10(tmp_path / "src", n_per_batch=2, n_test=2)
    with pytest.raises(DthError, match="c58f30108f718f92721af3b95e74349a"):
        datasets.read_cifar10(str(tmp_path / "src/cifar-10-python.tar.gz"), download=False)


# --- NUS-WIDE ---

def nus_labels(n: int, seed: int = 0) -> np.ndarray:
    """Multi-label rows (N, 21), each with 1..3 labels."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 21)) < 0.08).astype(np.uint8)
    labels[np.arange(n), np.arange(n) % 21] = 1
    return labels


def test_nus_wide_streams_resized_images(tmp_path, monkeypatch):
    labels = nus_labels(210)
    src = make_tiny_nus_wide(tmp_path / "nus", labels)
    # the real 2100 protocol needs 600 images per label; a tiny one runs the same code
    monkeypatch.setitem(splits.PROTOCOLS["nus-wide"], "2100", splits.Protocol("disjoint", 2, 3))
    out = tmp_path / "prepared"
    manifest = prepare(data_params(dataset="nus-wide", protocol="2100", root=str(src), image_size=12), out)
    assert manifest["counts"] == {"query": 42, "train": 63, "database": 105}
    assert manifest["image_shape"] == [12, 12, 3] and manifest["num_classes"] == 21
    assert set(manifest["sources_sha256"]) == {"test.txt", "train.txt", "database.txt", "images"}
    seen = []
    for name, (images, got_labels) in read_all(out).items():
        assert images.shape == (manifest["counts"][name], 12, 12, 3) and images.dtype == np.uint8
        index = nus_index(images)
        np.testing.assert_array_equal(got_labels, labels[index])
        assert manifest["class_counts"][name] == got_labels.sum(axis=0).tolist()
        seen.append(index)
    assert len(np.unique(np.concatenate(seen))) == 210  # disjoint, whole pool
    again = tmp_path / "again"
    prepare(data_params(dataset="nus-wide", protocol="2100", root=str(src), image_size=12), again)
    assert folder_bytes(out) == folder_bytes(again)


def test_nus_wide_2100_split_at_full_size():
    labels = nus_labels(20000, seed=1)
    sets = splits.split("nus-wide", "2100", labels, np.zeros(len(labels), bool), seed=0)
    assert (len(sets["query"]), len(sets["train"])) == (2100, 10500)
    assert len(sets["database"]) == 20000 - 2100 - 10500
    everything = np.concatenate(list(sets.values()))
    assert len(np.unique(everything)) == 20000
    # every label got at least its 100 query / 500 train images
    assert (labels[sets["query"]].sum(axis=0) >= 100).all() and (labels[sets["train"]].sum(axis=0) >= 500).all()
    again = splits.split("nus-wide", "2100", labels, np.zeros(len(labels), bool), seed=0)
    assert all(np.array_equal(sets[k], again[k]) for k in sets)


def test_nus_wide_list_line_with_wrong_label_count(tmp_path):
    src = make_tiny_nus_wide(tmp_path / "nus", nus_labels(9))
    lines = (src / "train.txt").read_text().splitlines()
    lines[1] = lines[1].rsplit(" ", 1)[0]  # 20 labels
    (src / "train.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DthError, match=r"train\.txt, line 2: .*21 .*got 20"):
        prepare(data_params(dataset="nus-wide", protocol="2100", root=str(src)), tmp_path / "prepared")


@pytest.mark.parametrize("damage", ["missing", "undecodable"])
def test_nus_wide_bad_image_names_path_and_leaves_nothing(tmp_path, monkeypatch, damage):
    src = make_tiny_nus_wide(tmp_path / "nus", nus_labels(63))
    monkeypatch.setitem(splits.PROTOCOLS["nus-wide"], "2100", splits.Protocol("disjoint", 1, 1))
    bad = src / "images/00040.jpg"
    if damage == "missing":
        bad.unlink()
    else:
        bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    with pytest.raises(DthError, match=f"image {bad} cannot be"):
        prepare(data_params(dataset="nus-wide", protocol="2100", root=str(src)), tmp_path / "prepared")
    assert_nothing_written(tmp_path, "prepared")


def test_nus_wide_needs_a_root(tmp_path):
    with pytest.raises(DthError, match="nus-wide needs data.root"):
        prepare(data_params(dataset="nus-wide", protocol="2100"), tmp_path / "prepared")
    with pytest.raises(DthError, match="no list file"):
        prepare(data_params(dataset="nus-wide", protocol="2100", root=str(tmp_path)), tmp_path / "prepared")


# --- protocol names and sizes ---

def test_unknown_protocol_names_key_and_accepted_values(tmp_path, fmnist):
    with pytest.raises(DthError, match=r"'data.protocol' is '59k'; accepted for fashion-mnist: '1k', 'full', '1k-10k'"):
        prepare(data_params(root=str(fmnist), protocol="59k"), tmp_path / "prepared")
    with pytest.raises(DthError, match=r"'data.dataset' is 'mnist'; accepted: 'fashion-mnist', 'cifar10', 'nus-wide'"):
        splits.check_protocol("mnist", "1k")
    assert_nothing_written(tmp_path, "prepared")


def test_unknown_dataset_is_rejected_by_params(tmp_path):
    from dth.params import ParamsError
    params = write_params(tmp_path / "params.yaml", dataset="mnist")
    with pytest.raises(ParamsError, match="data.dataset"):
        load_params(params)


def test_protocol_asking_for_more_than_exist(tmp_path):
    src = make_tiny_fashion_mnist(tmp_path / "src", n_train=500, n_test=100)  # 60 per class
    with pytest.raises(DthError, match=r"'data.protocol' is '1k', which needs 100 query \+ 500 train = 600 images "
                                       r"of class 0.*only 60; accepted: .*at least 600.*'full'"):
        prepare(data_params(root=str(src)), tmp_path / "prepared")
    assert_nothing_written(tmp_path, "prepared")


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    params = write_params(tmp_path / "params.yaml", protocol="2100")
    assert cli_main(["prepare", "--params", str(params), "--out", str(tmp_path / "prepared")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dth prepare: error:") and "data.protocol" in err and "\n" not in err
