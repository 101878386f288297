"""Binary codes: from hash outputs to packed bytes, Hamming distances, and the codes file.

    from dth.hamming import pack_codes, unpack_codes, hamming_distances, save_codes, load_codes
    packed = pack_codes(h)                   # h: (N, k) hash outputs, ±1 or 0/1 -> uint8 (N, ceil(k/8))
    bits01 = unpack_codes(packed, k)         # uint8 (N, k) of 0/1
    dist = hamming_distances(qp, dbp)        # (Q, N) uint8 (uint16 above 255 bits) Hamming distances
    save_codes("codes/dth-12.npz", query_codes=qp, database_codes=dbp, query_labels=ql,
               database_labels=dbl, bits=12, model_sha256="...", model="dth-12")
    codes = load_codes("codes/dth-12.npz")   # dict with the same keys, validated
    model = load_hash_model("models/dth-12-s0.pt")          # a .pt checkpoint or a packed .npz
    packed = encode_images(model, images, [12], batch_size=1024)   # {12: uint8 (N, 2)}

Bit convention (docs/method.md, "Evaluation protocol"): bit = 1 where the hash output is
> 0. This one rule covers real-valued outputs, ±1 codes and 0/1 codes alike.

Packing: `np.packbits(bits, axis=1)`, i.e. big-endian within each byte: bit j of a
code is bit 7 - j % 8 (value 2**(7 - j % 8)) of byte j // 8, and the last byte is
padded with zero bits. Padding bits are 0 in every code, so they never add to a
Hamming distance.

Distances: the packed bytes are zero-padded to a multiple of 8 bytes and viewed as
uint64 words (`to_words`); the distance is the popcount (`np.bitwise_count`) of the
XOR, summed over words. The byte order inside a word does not matter: the same
permutation of bits is applied to both codes before the XOR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dth.errors import DthError
from dth.io import atomic_path

# the arrays of a codes file (docs/artifacts.md) and what each must be
CODES_FORMAT = "dth-codes/1"
CODE_KEYS = ("query_codes", "database_codes", "query_labels", "database_labels", "bits",
             "model_sha256", "model")


def code_bits(h) -> np.ndarray:
    """bool (N, k): True where the hash output is > 0. Accepts numpy arrays or torch tensors."""
    if hasattr(h, "detach"):  # a torch tensor, possibly on a GPU
        h = h.detach().cpu().numpy()
    h = np.asarray(h)
    if h.ndim != 2:
        raise ValueError(f"codes must be a 2-D array (items, bits), got shape {h.shape}")
    return h > 0


def pack_codes(h) -> np.ndarray:
    """uint8 (N, ceil(k/8)): the codes of hash outputs h (N, k), packed with np.packbits."""
    return np.packbits(code_bits(h), axis=1)


def unpack_codes(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint8 (N, bits) of 0/1: the inverse of `pack_codes`."""
    packed = check_packed(packed, bits)
    return np.unpackbits(packed, axis=1, count=bits)


def packed_width(bits: int) -> int:
    """Bytes per packed code of `bits` bits."""
    return (int(bits) + 7) // 8


def check_packed(packed, bits: int, name: str = "codes") -> np.ndarray:
    """Return `packed` as a C-contiguous uint8 (N, ceil(bits/8)) array, or raise ValueError."""
    packed = np.asarray(packed)
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != packed_width(bits):
        raise ValueError(f"packed {name} must be uint8 of shape (N, {packed_width(bits)}) for "
                         f"{bits} bits, got {packed.dtype} {packed.shape}")
    return np.ascontiguousarray(packed)


def to_words(packed: np.ndarray) -> np.ndarray:
    """uint64 (N, ceil(bytes/8)): packed codes zero-padded to whole 64-bit words."""
    packed = np.asarray(packed, dtype=np.uint8)
    n, nbytes = packed.shape
    words = -(-nbytes // 8)
    padded = np.zeros((n, words * 8), np.uint8)
    padded[:, :nbytes] = packed
    return padded.view(np.uint64)


def distance_dtype(bits: int):
    """Smallest unsigned dtype that holds distances 0 .. bits."""
    return np.uint8 if bits <= 255 else np.uint16


def hamming_distances_words(query_words: np.ndarray, database_words: np.ndarray,
                            out: np.ndarray | None = None, dtype=np.uint8) -> np.ndarray:
    """(Q, N) Hamming distances between uint64 word codes (see `to_words`).

    Works through a few query rows at a time so that the uint64 XOR buffer stays
    around 4 MB (in cache) instead of a (Q, N) uint64 temporary.
    """
    q, n = len(query_words), len(database_words)
    if out is None:
        out = np.empty((q, n), dtype)
    rows = max(1, (1 << 19) // max(n, 1))  # rows * n * 8 bytes ~ 4 MB
    xor = np.empty((rows, n), np.uint64)
    count = np.empty((rows, n), out.dtype) if query_words.shape[1] > 1 else None
    for start in range(0, q, rows):
        stop = min(start + rows, q)
        x = xor[:stop - start]
        o = out[start:stop]
        for w in range(query_words.shape[1]):
            np.bitwise_xor(query_words[start:stop, w, None], database_words[None, :, w], out=x)
            if w == 0:
                np.bitwise_count(x, out=o, casting="unsafe")
            else:
                c = count[:stop - start]
                np.bitwise_count(x, out=c, casting="unsafe")
                o += c
    return out


def hamming_distances(query_packed: np.ndarray, database_packed: np.ndarray) -> np.ndarray:
    """(Q, N) Hamming distances between packed codes (uint8 (·, B) each, same B).

    The result is uint8, or uint16 for codes longer than 255 bits. Memory: Q * N
    entries; call it on chunks of queries for large sets.
    """
    query_packed = np.asarray(query_packed)
    database_packed = np.asarray(database_packed)
    if (query_packed.dtype != np.uint8 or database_packed.dtype != np.uint8
            or query_packed.ndim != 2 or database_packed.ndim != 2
            or query_packed.shape[1] != database_packed.shape[1]):
        raise ValueError("packed codes must be uint8 2-D arrays of the same width, got "
                         f"{query_packed.dtype} {query_packed.shape} and "
                         f"{database_packed.dtype} {database_packed.shape}")
    bits = 8 * query_packed.shape[1]
    return hamming_distances_words(to_words(query_packed), to_words(database_packed),
                                   dtype=distance_dtype(bits))


# --- from a model to codes (used by `dth encode` and by `dth search` for image files) ---

def load_hash_model(path: str | Path):
    """A model in eval mode from a `.pt` checkpoint (dth.models) or a packed ternary `.npz` (dth.ternary).

    `model.input_shape` is set to the (H, W, C) of the images it was built for.

    Raises DthError naming the file when it is missing or not a model file.
    """
    path = Path(path)
    if not path.exists():
        raise DthError(f"model file {path} does not exist")
    if path.suffix == ".npz":
        from dth.ternary import load_packed  # imported only for packed models
        try:
            model = load_packed(path)
        except DthError:
            raise
        except Exception as e:  # not a packed model
            raise DthError(f"{path} is not a readable packed ternary model ({e})") from None
        config = model.packed_header["config"]
    elif path.suffix == ".pt":
        from dth.models import load_model
        try:
            model, checkpoint = load_model(path)
        except (FileNotFoundError, ValueError) as e:
            raise DthError(str(e)) from None
        config = checkpoint["config"]
    else:
        raise DthError(f"model file {path}: expected a .pt checkpoint or a packed .npz model")
    model.input_shape = (int(config["image_size"]), int(config["image_size"]), int(config["in_channels"]))
    return model.float().eval()


def model_bits(model) -> list[int]:
    """The code lengths a model produces: every hash head of a teacher, the one k of a student."""
    bits = model.bits
    return [int(k) for k in bits] if isinstance(bits, (list, tuple)) else [int(bits)]


def encode_images(model, images, bits: list[int], batch_size: int = 1024, device="cpu",
                  progress: str | None = None, amp: str = "none") -> dict[int, np.ndarray]:
    """Packed codes {k: uint8 (N, ceil(k/8))} of uint8 images (N, H, W, C) for each k in `bits`.

    Under torch.inference_mode(), in fp32 (amp "none") or bf16 autocast (amp "bf16": where
    the hardware runs bf16 natively, 2-4x faster; a bit whose output is within bf16
    rounding of 0 may differ from fp32's), `batch_size` images per forward, channels-last
    memory layout (the model is converted in place). A model with
    several hash heads (the teacher) computes its backbone once per batch for all of them.
    `progress`, if given, is the label of a tqdm bar. The batches go through the model by
    dth.data.forward_batches (which refuses an amp other than none or bf16); the real outputs
    (N x sum(bits) float32, 4 bytes each) are packed once all are computed.
    """
    import torch

    from dth.data import forward_batches

    n = len(images)
    multi_head = hasattr(model, "hash_layers")
    model = model.to(memory_format=torch.channels_last)  # NHWC convolutions: ~1.7x faster on CPU

    def forward(x):
        if multi_head:
            features = model.features(x)  # the backbone, once for every head
            return {k: model.hash_layers[str(k)](features) for k in bits}
        return {bits[0]: model.hash(x)}

    with torch.inference_mode():
        h = forward_batches(forward, images, batch_size=batch_size, device=device, amp=amp, progress=progress)
        if n == 0:  # no batches, no outputs
            return {k: np.empty((0, packed_width(k)), np.uint8) for k in bits}
        return {k: np.packbits((h[k] > 0).numpy(), axis=1) for k in bits}


# --- the codes file (docs/artifacts.md, "Codes") ---

def save_codes(path: str | Path, *, query_codes, database_codes, query_labels, database_labels,
               bits: int, model_sha256: str, model: str) -> None:
    """Write a codes file atomically: packed codes, multi-hot labels, k, the model's hash and name."""
    query_codes = check_packed(query_codes, bits, "query codes")
    database_codes = check_packed(database_codes, bits, "database codes")
    arrays = {
        "query_codes": query_codes,
        "database_codes": database_codes,
        "query_labels": np.asarray(query_labels, dtype=np.uint8),
        "database_labels": np.asarray(database_labels, dtype=np.uint8),
        "bits": np.int64(bits),
        "model_sha256": np.str_(model_sha256),
        "model": np.str_(model),
        "format": np.str_(CODES_FORMAT),
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a path
            np.savez(f, **arrays)


def load_codes(path: str | Path) -> dict:
    """Read and check a codes file; returns a dict of its arrays, `bits` as int, names as str.

    Raises DthError naming the file when it is missing, unreadable or inconsistent.
    """
    path = Path(path)
    if not path.exists():
        raise DthError(f"codes file {path} does not exist: run `dth encode` first")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {key: npz[key] for key in npz.files}
    except Exception as e:  # truncated zip, not an npz, ...
        raise DthError(f"{path} is not a readable codes file ({e}): run `dth encode` again") from None
    missing = [key for key in CODE_KEYS if key not in data]
    if missing:
        raise DthError(f"{path}: missing array(s) {', '.join(missing)}; a codes file has "
                       f"{', '.join(CODE_KEYS)}: run `dth encode` again")
    bits = int(data["bits"])
    data["bits"] = bits
    data["model"] = str(data["model"])
    data["model_sha256"] = str(data["model_sha256"])
    try:
        for key in ("query_codes", "database_codes"):
            check_packed(data[key], bits, key)
    except ValueError as e:
        raise DthError(f"{path}: {e}") from None
    for split in ("query", "database"):
        codes, labels = data[f"{split}_codes"], data[f"{split}_labels"]
        if labels.ndim != 2 or len(labels) != len(codes):
            raise DthError(f"{path}: {split}_labels has shape {labels.shape}, expected "
                           f"({len(codes)}, classes) to match {split}_codes")
    if data["query_labels"].shape[1] != data["database_labels"].shape[1]:
        raise DthError(f"{path}: query and database labels have different numbers of classes")
    return data
