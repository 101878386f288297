"""Source readers: one function per dataset, each returning the raw pool of images.

    from dth.datasets import read_pool
    pool = read_pool(params["data"])     # Pool(images, labels, original_test, class_names, sources_sha256, paths)
    pool.images.shape                    # fashion-mnist: (70000, 28, 28, 1) uint8; cifar10: (60000, 32, 32, 3)
    pool.labels.shape                    # (N, num_classes) uint8 multi-hot (one-hot for single-label data)

Where each dataset is looked for (first match wins):

  fashion-mnist  the four idx files train-images-idx3-ubyte, train-labels-idx1-ubyte,
                 t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each `.gz` or not):
                 data.root if set, else /usr/share/datasets/fashion-mnist (Debian's
                 dataset-fashion-mnist), else data/raw/FashionMNIST/raw (where
                 torchvision.datasets.FashionMNIST(root="data/raw", download=True) puts them).
                 A `.gz` whose md5 is not torchvision's is still accepted when it
                 decompresses with a valid CRC into a well-formed idx file (Debian
                 recompresses the same files, so their md5s differ).
  cifar10        python version: the folder cifar-10-batches-py/ (batches checked
                 against the md5s torchvision's CIFAR10 class ships), or the archive
                 cifar-10-python.tar.gz (checked against CIFAR10.tgz_md5, extracted to a
                 temporary folder). data.root may be the archive, the extracted folder, or
                 a folder holding either; default data/raw/.
  nus-wide       data.root is required: a folder holding one or more list files `*.txt`
                 in DeepHash-pytorch's format (one image per line: a path relative to
                 data.root, then 21 space-separated 0/1 labels), e.g. test.txt, train.txt,
                 database.txt, and the images those paths name. Lines of all list files
                 are pooled (a path listed twice with the same labels counts once); the
                 split is drawn again by dth.splits. An optional `concepts.txt` (21 lines,
                 not a list file) names the classes; without it they are label00..label20.
                 Images are decoded later, one at a time, by `load_image` (streaming).

With data.download: true, a missing fashion-mnist or cifar10 is downloaded by
torchvision into data/raw/ (md5-checked by torchvision). Missing data raises a
DthError naming the three ways to provide it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torchvision
from torchvision.datasets.utils import check_integrity, extract_archive

from dth.errors import DthError
from dth.io import sha256_file

RAW = Path("data/raw")  # torchvision's download root, relative to the working directory
FASHION_MNIST_DIRS = (Path("/usr/share/datasets/fashion-mnist"), RAW / "FashionMNIST" / "raw")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
NUS_WIDE_NUM_LABELS = 21


@dataclass
class Pool:
    """Every image of a dataset, before splitting."""
    images: np.ndarray | None      # uint8 (N, H, W, C); None for nus-wide (decoded later from `paths`)
    labels: np.ndarray             # uint8 (N, num_classes), multi-hot
    original_test: np.ndarray      # bool (N,): True where the image comes from the official test set
    class_names: list[str]
    sources_sha256: dict[str, str]  # source file name -> sha256 of its bytes
    paths: list[Path] | None = None  # nus-wide: the image file of each row


def read_pool(data: dict) -> Pool:
    """The pool of the dataset that params.yaml's `data:` section names."""
    name = data["dataset"]
    if name == "fashion-mnist":
        return read_fashion_mnist(data["root"], data["download"])
    if name == "cifar10":
        return read_cifar10(data["root"], data["download"])
    if name == "nus-wide":
        return read_nus_wide(data["root"])
    raise DthError(f"params 'data.dataset' is {name!r}; accepted: 'fashion-mnist', 'cifar10', 'nus-wide'")


def _one_hot(targets: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.zeros((len(targets), num_classes), np.uint8)
    labels[np.arange(len(targets)), targets] = 1
    return labels


def _missing(dataset: str, looked: list[Path], what: str) -> DthError:
    defaults = " or ".join(str(p) for p in _default_places(dataset))
    return DthError(
        f"{dataset} data not found: {what} not in {', '.join(str(p) for p in looked)}. Provide it in one of "
        f"three ways: (1) set data.root in params.yaml to the local folder or archive holding it; (2) put it in "
        f"the default place, {defaults} (used when data.root is null); (3) set data.download: true to let "
        f"torchvision download it into {RAW} with its checksums")


def _default_places(dataset: str) -> list[Path]:
    if dataset == "fashion-mnist":
        return list(FASHION_MNIST_DIRS)
    return [RAW / torchvision.datasets.CIFAR10.base_folder, RAW / torchvision.datasets.CIFAR10.filename]


# --- Fashion-MNIST: idx files ---

def read_idx(path: Path, expected_md5: str | None = None) -> np.ndarray:
    """The array in an idx file (gzip-compressed if the name ends in .gz), unsigned bytes only.

    The format (Y. LeCun's, as torchvision.datasets.mnist reads it): 2 zero bytes, a type
    byte (0x08 = uint8), the number of dimensions d, d big-endian int32 sizes, the data.
    """
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)  # checks the gzip CRC-32 and length of the content
        except (OSError, EOFError, zlib.error) as e:
            expected = f"md5 {expected_md5} (torchvision's)" if expected_md5 else "a valid gzip file"
            raise DthError(f"{path} is corrupted ({e}); expected {expected}, or any intact gzip of the "
                           f"idx file: replace it") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 3:
        raise DthError(f"{path} is not an idx file of unsigned bytes (header {raw[:4].hex()}, expected 000008 "
                       f"followed by 1..3 dimensions)")
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(shape)):
        raise DthError(f"{path} is truncated or padded: header says {shape} = {int(np.prod(shape))} bytes, "
                       f"the file holds {len(raw) - offset}")
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)


def _find_fashion_mnist(folder: Path) -> list[Path] | None:
    """The four idx files in `folder` (.gz preferred), or None if any is missing."""
    found = []
    for name in FASHION_MNIST_FILES:
        candidates = [folder / f"{name}.gz", folder / name]
        hit = next((p for p in candidates if p.is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found


def read_fashion_mnist(root: str | None, download: bool) -> Pool:
    """70,000 grey 28x28 images: the 60,000 of train-* then the 10,000 of t10k-*."""
    folders = [Path(root)] if root is not None else list(FASHION_MNIST_DIRS)
    files = next((f for f in map(_find_fashion_mnist, folders) if f is not None), None)
    if files is None and download:
        try:
            torchvision.datasets.FashionMNIST(root=str(RAW), train=True, download=True)
        except Exception as e:  # network or checksum failure inside torchvision
            raise DthError(f"fashion-mnist download into {RAW} failed ({type(e).__name__}: {e}); "
                           f"set data.root to a local folder holding the four idx .gz files instead") from None
        folders.append(RAW / "FashionMNIST" / "raw")
        files = _find_fashion_mnist(folders[-1])
    if files is None:
        raise _missing("fashion-mnist", folders, "the four idx files (" + ", ".join(f + "[.gz]" for f in FASHION_MNIST_FILES) + ")")

    md5 = {name: m for name, m in torchvision.datasets.FashionMNIST.resources}
    arrays = [read_idx(p, md5.get(p.name)) for p in files]
    train_x, train_y, test_x, test_y = arrays
    for x, y, xp, yp in ((train_x, train_y, files[0], files[1]), (test_x, test_y, files[2], files[3])):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DthError(f"{xp} and {yp} do not match: images {x.shape}, labels {y.shape}; expected "
                           f"(N, 28, 28) images and N labels")
        if y.size and y.max() >= 10:
            raise DthError(f"{yp}: label {int(y.max())} out of range; Fashion-MNIST labels are 0..9")
    images = np.concatenate([train_x, test_x])[..., None]  # (N, 28, 28, 1)
    targets = np.concatenate([train_y, test_y]).astype(np.int64)
    original_test = np.r_[np.zeros(len(train_y), bool), np.ones(len(test_y), bool)]
    return Pool(images=np.ascontiguousarray(images), labels=_one_hot(targets, 10),
                original_test=original_test,
                class_names=list(torchvision.datasets.FashionMNIST.classes),
                sources_sha256={p.name: sha256_file(p) for p in files})


# --- CIFAR-10: python pickled batches, via torchvision ---

def _check_cifar_folder(batches: Path) -> None:
    """Every batch file present and with torchvision's md5, or a DthError naming the file."""
    cls = torchvision.datasets.CIFAR10
    for name, md5 in cls.train_list + cls.test_list + [[cls.meta["filename"], cls.meta["md5"]]]:
        path = batches / name
        if not path.is_file():
            raise DthError(f"{path} is missing: {batches} must hold data_batch_1..5, test_batch and batches.meta "
                           f"(the python version of CIFAR-10)")
        if not check_integrity(str(path), md5):
            raise DthError(f"{path} is corrupted: md5 {_md5(path)}, expected {md5} (torchvision's CIFAR10); "
                           f"replace it or delete the folder and set data.download: true")


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _load_cifar_folder(batches: Path, sources: dict[str, str]) -> Pool:
    """Read an extracted cifar-10-batches-py/ with torchvision.datasets.CIFAR10."""
    _check_cifar_folder(batches)
    root = str(batches.parent)
    train = torchvision.datasets.CIFAR10(root=root, train=True, download=False)
    test = torchvision.datasets.CIFAR10(root=root, train=False, download=False)
    cls = torchvision.datasets.CIFAR10
    for name, _ in cls.train_list + cls.test_list:
        sources.setdefault(f"{cls.base_folder}/{name}", sha256_file(batches / name))
    images = np.concatenate([train.data, test.data])  # (N, 32, 32, 3) uint8, HWC
    targets = np.asarray(train.targets + test.targets, np.int64)
    original_test = np.r_[np.zeros(len(train.data), bool), np.ones(len(test.data), bool)]
    return Pool(images=np.ascontiguousarray(images, dtype=np.uint8), labels=_one_hot(targets, len(train.classes)),
                original_test=original_test, class_names=list(train.classes), sources_sha256=sources)


def _load_cifar_archive(archive: Path) -> Pool:
    cls = torchvision.datasets.CIFAR10
    if not check_integrity(str(archive), cls.tgz_md5):
        raise DthError(f"{archive} is corrupted: md5 {_md5(archive)}, expected {cls.tgz_md5} (torchvision's "
                       f"CIFAR10.tgz_md5); delete it and download it again (data.download: true)")
    sources = {archive.name: sha256_file(archive)}
    with tempfile.TemporaryDirectory(prefix="dth-cifar10-") as tmp:
        extract_archive(str(archive), tmp)
        return _load_cifar_folder(Path(tmp) / cls.base_folder, sources)


def read_cifar10(root: str | None, download: bool) -> Pool:
    """60,000 colour 32x32 images: the 50,000 of data_batch_1..5 then the 10,000 of test_batch."""
    cls = torchvision.datasets.CIFAR10
    base = Path(root) if root is not None else RAW
    if base.is_file():
        return _load_cifar_archive(base)
    if base.name == cls.base_folder and base.is_dir():
        return _load_cifar_folder(base, {})
    if (base / cls.base_folder).is_dir():
        return _load_cifar_folder(base / cls.base_folder, {})
    if (base / cls.filename).is_file():
        return _load_cifar_archive(base / cls.filename)
    if download:
        try:
            cls(root=str(RAW), train=True, download=True)  # md5-checked download + extraction
        except Exception as e:
            raise DthError(f"cifar10 download into {RAW} failed ({type(e).__name__}: {e}); "
                           f"set data.root to a local {cls.filename} or {cls.base_folder}/ instead") from None
        return _load_cifar_folder(RAW / cls.base_folder, {cls.filename: sha256_file(RAW / cls.filename)})
    raise _missing("cifar10", [base], f"{cls.base_folder}/ or {cls.filename}")


# --- NUS-WIDE: DeepHash list files + image files ---

def read_nus_wide(root: str | None) -> Pool:
    """Paths and 21-label multi-hot labels of every image listed in data.root's *.txt list files."""
    if root is None:
        raise DthError("nus-wide needs data.root: a folder with DeepHash list files (*.txt: a relative image path "
                       "and 21 space-separated 0/1 labels per line) and the images they name")
    folder = Path(root)
    lists = sorted(p for p in folder.glob("*.txt") if p.name != "concepts.txt") if folder.is_dir() else []
    if not lists:
        raise DthError(f"nus-wide data not found: {folder} holds no list file (*.txt); set data.root to the folder "
                       f"holding the DeepHash list files and images (nus-wide cannot be downloaded by torchvision)")
    rows: dict[str, tuple[np.ndarray, str]] = {}  # relative path -> (labels, "file:line" first seen)
    for list_file in lists:
        for number, line in enumerate(list_file.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            values = fields[1:]
            if len(values) != NUS_WIDE_NUM_LABELS or any(v not in ("0", "1") for v in values):
                raise DthError(f"{list_file}, line {number}: expected an image path and {NUS_WIDE_NUM_LABELS} "
                               f"space-separated 0/1 labels, got {len(values)} values after the path")
            labels = np.array(values, dtype=np.uint8)
            seen = rows.get(fields[0])
            if seen is not None and not np.array_equal(seen[0], labels):
                raise DthError(f"{list_file}, line {number}: {fields[0]} is also listed at {seen[1]} with "
                               f"other labels")
            if seen is None:
                rows[fields[0]] = (labels, f"{list_file}:{number}")
    concepts = folder / "concepts.txt"
    if concepts.is_file():
        class_names = [c.strip() for c in concepts.read_text().splitlines() if c.strip()]
        if len(class_names) != NUS_WIDE_NUM_LABELS:
            raise DthError(f"{concepts}: {len(class_names)} names, expected {NUS_WIDE_NUM_LABELS} (one per line)")
    else:
        class_names = [f"label{i:02d}" for i in range(NUS_WIDE_NUM_LABELS)]
    names = list(rows)
    sources = {p.name: sha256_file(p) for p in lists}
    return Pool(images=None, labels=np.stack([rows[n][0] for n in names]),
                original_test=np.zeros(len(names), bool), class_names=class_names,
                sources_sha256=sources, paths=[folder / n for n in names])


def load_image(path: Path, size: int) -> tuple[np.ndarray, bytes]:
    """(uint8 (size, size, 3) RGB image, sha256 digest of the file's bytes) of one image file."""
    from PIL import Image, UnidentifiedImageError

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DthError(f"image {path} cannot be read ({e.strerror}); fix the list file or restore the image") from None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.draft("RGB", (size, size))  # JPEG: let the decoder downscale by 1/2..1/8 first (much faster)
            img = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DthError(f"image {path} cannot be decoded ({e}); replace it or remove its line from the list") from None
    return pixels, hashlib.sha256(raw).digest()
