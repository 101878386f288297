"""Trained ternary quantization (TTQ, Zhu et al. 2017) of a model's layers, and its 2-bit export.

    from dth.ternary import ternarize_model, export_packed, load_packed, ternary_report
    names = ternarize_model(student, "fc", t=0.05)   # swaps Linear layers for TernaryLinear, in place
    h, logits = student(x)                           # forward with ternary weights {+Wp, 0, -Wn}
    ...fine-tune: latent weights and the scales Wp, Wn are ordinary parameters...
    export_packed(student, "models/ttq-fc-12-t0.05.npz", kind="student", config=cfg)
    model = load_packed("models/ttq-fc-12-t0.05.npz")   # plain Student, same codes bit for bit

TTQ, as docs/method.md ("Trained ternary quantization") states it. Each quantised layer keeps its
full-precision (latent) weight w and two trained positive scalars Wp, Wn:
    delta = t * max|w|                          (recomputed from w at every forward)
    w_t   = +Wp where w > delta, 0 where |w| <= delta, -Wn where w < -delta
and, with g = dL/dw_t, the backward of `TernaryWeight` is
    dL/dWp = sum of g over the + set
    dL/dWn = -(sum of g over the - set)         (w_t = -Wn there, hence the minus)
    dL/dw  = Wp*g on the + set, g on the zero set, Wn*g on the - set
(TTQ's straight-through-style rule for w; delta gets no gradient).

Initialisation of the scales (`init_scales`): Wp = mean of w over the + set, Wn = mean
of -w over the - set, at the layer's t. For fixed sets these are the values that
minimise ||w - w_t||^2, so the first ternary forward is the closest ternary
approximation of the full-precision layer; an empty set falls back to mean|w|.

Layer sets (`LAYER_SETS`), by module type, on any model:
    fc       every nn.Linear. For the Student: fc (features -> 500), hash_layer
             (500 -> k) and the training-only classifier (k -> C, not used to encode).
    fc+conv  every nn.Linear and every nn.Conv2d (the Student's three convolutions).
    all      every layer with a weight matrix/kernel: nn.Linear and every nn.Conv1d/2d/3d.
             For the Student this is the same set as fc+conv; norm layers, biases and
             buffers are never ternarised.
`ternarize_model` returns the names of the layers it replaced; reports list them.

Packed format (`export_packed`, format "dth-ternary-packed/1"): an uncompressed
numpy .npz (np.savez; read with allow_pickle=False) holding
    __format__              0-d str array "dth-ternary-packed/1"
    __config__              0-d str array, JSON: {"kind": "student"|"teacher",
                            "config": the models.build_model kwargs, "t": float,
                            "layer_set": "fc"|..., "ternary_layers": {name: weight
                            shape}, "meta": {...}}
    <layer>.weight.codes    uint8 (ceil(n/4),): the n = numel ternary weights in
                            row-major (C) order, 2 bits each, 4 per byte; weight i is in
                            bits 2*(i%4) .. 2*(i%4)+1 of byte i//4 (first weight in the
                            lowest bits); code 0 = 0, 1 = +Wp, 2 = -Wn (3 is invalid);
                            padding codes are 0
    <layer>.scales          float32 (2,): [Wp, Wn]
    <every other tensor>    its state_dict entry as is (biases, non-ternary weights,
                            normalisation buffers), same name, same dtype
(The shapes live in the JSON header and the two scales share one array because
every .npz member costs a 128-byte .npy header plus ~100 bytes of zip entries.)
`load_packed(path)` rebuilds the plain model (models.build_model) from that file
alone, with each dense ternary weight built by `dense_ternary` exactly as the
ternary forward builds it, so its codes equal the fine-tuned model's bit for bit.

Ternary checkpoint (`.pt`, `save_ternary_checkpoint`): an ordinary dth-model/1
checkpoint (models.load_model reads it as a plain model whose weights are the dense
ternary ones), with meta["ternary"] = {"t", "layer_set", "layers", "latent": {name:
latent weight}, "scales": {name: [Wp, Wn]}} so that `load_ternary_checkpoint` can
rebuild the trainable ternary model.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dth.errors import DthError
from dth.io import atomic_path
from dth.params import choices

PACKED_FORMAT = "dth-ternary-packed/1"
LAYER_SETS = choices("quantize.layers")

# 2-bit codes of the three ternary values
CODE_ZERO, CODE_POS, CODE_NEG = 0, 1, 2


# --------------------------------------------------------------------------- the ternary function

def threshold(w: torch.Tensor, t: float) -> torch.Tensor:
    """delta = t * max|w| (0-d tensor, no gradient)."""
    return t * w.detach().abs().max()


def ternary_sets(w: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean masks (positive set, negative set) of w at threshold t; the rest is the zero set."""
    delta = threshold(w, t)
    return w.detach() > delta, w.detach() < -delta


def dense_ternary(pos: torch.Tensor, neg: torch.Tensor, wp: torch.Tensor, wn: torch.Tensor) -> torch.Tensor:
    """The dense ternary weight +Wp / 0 / -Wn from the two masks.

    The one place that builds it: the training forward, the checkpoint and
    `load_packed` all call this, so every path gives the same floats.
    """
    wp, wn = wp.detach(), wn.detach()
    zero = torch.zeros((), dtype=wp.dtype, device=pos.device)
    return torch.where(pos, wp, torch.where(neg, -wn, zero))


class TernaryWeight(torch.autograd.Function):
    """w, Wp, Wn, t -> ternary weight, with TTQ's gradients (see the module docstring)."""

    @staticmethod
    def forward(ctx, w, wp, wn, t: float):
        pos, neg = ternary_sets(w, t)
        ctx.save_for_backward(pos, neg, wp, wn)
        return dense_ternary(pos, neg, wp, wn)

    @staticmethod
    def backward(ctx, g):
        pos, neg, wp, wn = ctx.saved_tensors
        # dL/dw: Wp*g on the + set, Wn*g on the - set, g on the zero set
        scale = torch.where(pos, wp.detach(), torch.where(neg, wn.detach(), torch.ones_like(wp.detach())))
        grad_w = g * scale
        grad_wp = g[pos].sum().reshape(wp.shape)
        grad_wn = -g[neg].sum().reshape(wn.shape)   # w_t = -Wn on the - set
        return grad_w, grad_wp, grad_wn, None


def ternary_weight(w: torch.Tensor, wp: torch.Tensor, wn: torch.Tensor, t: float) -> torch.Tensor:
    return TernaryWeight.apply(w, wp, wn, t)


def init_scales(w: torch.Tensor, t: float) -> tuple[float, float]:
    """(Wp, Wn): the mean magnitude of the weights in the + and in the - set at threshold t.

    For fixed sets these minimise ||w - w_t||^2; an empty set falls back to mean|w|.
    """
    w = w.detach().float()
    pos, neg = ternary_sets(w, t)
    fallback = w.abs().mean().item()
    wp = w[pos].mean().item() if pos.any() else fallback
    wn = (-w[neg]).mean().item() if neg.any() else fallback
    return wp, wn


# --------------------------------------------------------------------------- ternary layers

class _TernaryMixin:
    """Adds the scales Wp, Wn (parameters) and the threshold t to a Linear / Conv layer."""

    def _setup_ternary(self, t: float):
        if not 0.0 < t < 1.0:
            raise ValueError(f"the ternary threshold t must be in (0, 1), got {t}")
        self.t = float(t)
        wp, wn = init_scales(self.weight, self.t)
        self.wp = nn.Parameter(torch.tensor(wp, dtype=self.weight.dtype, device=self.weight.device))
        self.wn = nn.Parameter(torch.tensor(wn, dtype=self.weight.dtype, device=self.weight.device))

    def ternary_weight(self) -> torch.Tensor:
        return ternary_weight(self.weight, self.wp, self.wn, self.t)

    def ternary_codes(self) -> torch.Tensor:
        """int8 tensor of the weight's shape: +1 / 0 / -1."""
        pos, neg = ternary_sets(self.weight, self.t)
        return pos.to(torch.int8) - neg.to(torch.int8)

    def extra_repr(self):
        return super().extra_repr() + f", ternary t={self.t:g}"


class TernaryLinear(_TernaryMixin, nn.Linear):
    """nn.Linear whose forward uses the TTQ ternary weight; `weight` is the latent one."""

    @classmethod
    def from_linear(cls, layer: nn.Linear, t: float) -> "TernaryLinear":
        new = cls(layer.in_features, layer.out_features, bias=layer.bias is not None,
                  device=layer.weight.device, dtype=layer.weight.dtype)
        new.load_state_dict(layer.state_dict())
        new._setup_ternary(t)
        return new

    def forward(self, x):
        return F.linear(x, self.ternary_weight(), self.bias)


class TernaryConv2d(_TernaryMixin, nn.Conv2d):
    """nn.Conv2d whose forward uses the TTQ ternary weight; `weight` is the latent one."""

    @classmethod
    def from_conv(cls, layer: nn.Conv2d, t: float) -> "TernaryConv2d":
        new = cls(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                  padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                  bias=layer.bias is not None, padding_mode=layer.padding_mode,
                  device=layer.weight.device, dtype=layer.weight.dtype)
        new.load_state_dict(layer.state_dict())
        new._setup_ternary(t)
        return new

    def forward(self, x):
        return self._conv_forward(x, self.ternary_weight(), self.bias)


TERNARY_TYPES = (TernaryLinear, TernaryConv2d)


def _selected(module: nn.Module, layer_set: str) -> bool:
    if isinstance(module, TERNARY_TYPES):
        return False
    if layer_set == "fc":
        return isinstance(module, nn.Linear)
    if layer_set == "fc+conv":
        return isinstance(module, (nn.Linear, nn.Conv2d))
    return isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))


def select_layers(model: nn.Module, layer_set: str) -> list[str]:
    """Names (as in named_modules) of the layers that `layer_set` ternarises, in model order."""
    if layer_set not in LAYER_SETS:
        raise DthError(f"unknown layer set {layer_set!r}; accepted: {', '.join(LAYER_SETS)}")
    names = [name for name, m in model.named_modules() if _selected(m, layer_set)]
    if layer_set == "all" and any(isinstance(model.get_submodule(n), (nn.Conv1d, nn.Conv3d)) for n in names):
        raise DthError("layer set 'all': only Linear and Conv2d layers can be ternarised in this model")
    return names


def ternarize_model(model: nn.Module, layer_set: str, t: float) -> list[str]:
    """Replace the layers of `layer_set` by ternary ones (in place); return their names."""
    names = select_layers(model, layer_set)
    for name in names:
        old = model.get_submodule(name)
        new = (TernaryLinear.from_linear(old, t) if isinstance(old, nn.Linear)
               else TernaryConv2d.from_conv(old, t))
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, new)
    return names


def ternary_layers(model: nn.Module) -> dict[str, nn.Module]:
    """{name: ternary layer} of a ternarised model, in model order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, TERNARY_TYPES)}


def param_groups(model: nn.Module, lr: float, scale_lr: float) -> list[dict]:
    """Optimizer groups: the scales Wp, Wn at `scale_lr`, every other parameter at `lr`."""
    scales, others = [], []
    for name, p in model.named_parameters():
        (scales if name.rsplit(".", 1)[-1] in ("wp", "wn") and isinstance(
            model.get_submodule(name.rpartition(".")[0]), TERNARY_TYPES) else others).append(p)
    return [{"params": others, "lr": lr, "name": "latent"}, {"params": scales, "lr": scale_lr, "name": "scales"}]


@torch.no_grad()
def clamp_scales_(model: nn.Module, minimum: float = 1e-8) -> None:
    """Keep Wp, Wn > 0 (call after each optimizer step): a ternary layer's scales are magnitudes."""
    for layer in ternary_layers(model).values():
        layer.wp.clamp_(min=minimum)
        layer.wn.clamp_(min=minimum)


@torch.no_grad()
def dense_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict of the equivalent plain model: dense ternary weights, no latent weights or scales."""
    layers = ternary_layers(model)
    out = {}
    for key, value in model.state_dict().items():
        owner, _, leaf = key.rpartition(".")
        if owner in layers and leaf in ("wp", "wn"):
            continue
        if owner in layers and leaf == "weight":
            layer = layers[owner]
            pos, neg = ternary_sets(layer.weight, layer.t)
            value = dense_ternary(pos, neg, layer.wp, layer.wn)
        out[key] = value.detach().cpu().clone()
    return out


# --------------------------------------------------------------------------- 2-bit packing

def pack_ternary(values: np.ndarray) -> np.ndarray:
    """int array of -1/0/+1 (any shape) -> uint8 (ceil(n/4),), 4 values per byte, row-major order."""
    v = np.asarray(values).reshape(-1)
    if v.size and not np.isin(v, (-1, 0, 1)).all():
        raise ValueError("pack_ternary takes only -1, 0 and +1")
    codes = np.where(v > 0, CODE_POS, np.where(v < 0, CODE_NEG, CODE_ZERO)).astype(np.uint8)
    codes = np.concatenate([codes, np.zeros((-codes.size) % 4, np.uint8)]).reshape(-1, 4)
    return (codes[:, 0] | (codes[:, 1] << 2) | (codes[:, 2] << 4) | (codes[:, 3] << 6)).astype(np.uint8)


def unpack_ternary(packed: np.ndarray, shape) -> np.ndarray:
    """Inverse of pack_ternary: uint8 codes -> int8 array of -1/0/+1 of `shape`."""
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if packed.size != (n + 3) // 4:
        raise ValueError(f"{packed.size} bytes of 2-bit codes cannot hold a {shape} weight ({(n + 3) // 4} needed)")
    codes = np.stack([(packed >> s) & 3 for s in (0, 2, 4, 6)], axis=1).reshape(-1)[:n]
    if (codes == 3).any():
        raise ValueError("2-bit code 3 is not a ternary value (corrupted file?)")
    values = (codes == CODE_POS).astype(np.int8) - (codes == CODE_NEG).astype(np.int8)
    return values.reshape(shape)


# --------------------------------------------------------------------------- export / load

def packed_arrays(model: nn.Module, kind: str, config: dict, layer_set: str, meta: dict | None = None) -> dict[str, np.ndarray]:
    """The arrays of the packed file (see the module docstring), in state_dict order."""
    layers = ternary_layers(model)
    if not layers:
        raise ValueError("the model has no ternary layers: call ternarize_model first")
    ts = {layer.t for layer in layers.values()}
    header = {"kind": kind, "config": config, "t": ts.pop() if len(ts) == 1 else None,
              "layer_set": layer_set, "meta": meta or {},
              "ternary_layers": {name: list(layer.weight.shape) for name, layer in layers.items()}}
    arrays = {"__format__": np.array(PACKED_FORMAT), "__config__": np.array(json.dumps(header, sort_keys=True))}
    for key, value in model.state_dict().items():
        owner, _, leaf = key.rpartition(".")
        if owner in layers and leaf == "wp":
            layer = layers[owner]
            arrays[f"{owner}.scales"] = torch.stack([layer.wp.detach(), layer.wn.detach()]).cpu().numpy().astype(np.float32)
        elif owner in layers and leaf == "wn":
            continue
        elif owner in layers and leaf == "weight":
            arrays[key + ".codes"] = pack_ternary(layers[owner].ternary_codes().cpu().numpy())
        else:
            arrays[key] = value.detach().cpu().numpy()
    return arrays


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def export_packed(model: nn.Module, path: str | Path, kind: str, config: dict, layer_set: str,
                  meta: dict | None = None) -> int:
    """Write the packed 2-bit file atomically; return its size in bytes."""
    data = _npz_bytes(packed_arrays(model, kind, config, layer_set, meta))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return len(data)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DthError(f"packed model {path} does not exist: run `dth ternarize` first") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DthError(f"{path} is not a readable .npz file ({e}): run `dth ternarize` again") from None


def read_packed(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(header, dense state_dict) of a packed file; the header is the __config__ JSON."""
    from dth.models import build_model  # noqa: F401  (imported here: models imports torchvision)

    path = Path(path)
    arrays = _read_npz(path)
    if "__format__" not in arrays or str(arrays["__format__"]) != PACKED_FORMAT:
        raise DthError(f"{path} is not a packed ternary model (expected __format__ {PACKED_FORMAT!r})")
    try:
        header = json.loads(str(arrays["__config__"]))
        shapes = dict(header["ternary_layers"])
    except (KeyError, TypeError, ValueError) as e:
        raise DthError(f"{path}: the __config__ entry is missing or not valid JSON ({e})") from None
    state: dict[str, torch.Tensor] = {}
    try:
        for name, shape in shapes.items():
            v = torch.from_numpy(unpack_ternary(arrays[f"{name}.weight.codes"], shape))
            scales = torch.from_numpy(np.asarray(arrays[f"{name}.scales"], np.float32).reshape(2))
            state[f"{name}.weight"] = dense_ternary(v > 0, v < 0, scales[0], scales[1])
    except KeyError as e:
        raise DthError(f"{path}: entry {e} of a ternary layer is missing") from None
    except ValueError as e:
        raise DthError(f"{path}: {e}") from None
    ternary_keys = {f"{n}.{leaf}" for n in shapes for leaf in ("weight.codes", "scales")}
    for key, value in arrays.items():
        if key.startswith("__") or key in ternary_keys:
            continue
        state[key] = torch.from_numpy(np.array(value))
    return header, state


def load_packed(path: str | Path) -> nn.Module:
    """A plain model (eval mode) rebuilt from the packed file alone; weights = dense ternary ones.

    The header (t, layer set, ternary layer names, meta) is attached as `model.packed_header`.
    """
    from dth.models import build_model

    header, state = read_packed(path)
    try:
        model = build_model(header["kind"], header["config"])
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise DthError(f"{path}: cannot rebuild the model from the packed file ({e})") from None
    model.eval()
    model.packed_header = header
    return model


def save_ternary_checkpoint(path: str | Path, model: nn.Module, kind: str, config: dict, layer_set: str,
                            meta: dict | None = None) -> None:
    """A dth-model/1 checkpoint of the dense ternary model, with what rebuilds the trainable one in meta."""
    from dth.models import save_model

    layers = ternary_layers(model)
    ternary_meta = {
        "t": next(iter(layers.values())).t if layers else None,
        "layer_set": layer_set,
        "layers": list(layers),
        "latent": {name: layer.weight.detach().cpu().clone() for name, layer in layers.items()},
        "scales": {name: [layer.wp.item(), layer.wn.item()] for name, layer in layers.items()},
    }
    save_model(path, _DenseView(dense_state_dict(model)), kind, config, {**(meta or {}), "ternary": ternary_meta})


class _DenseView(nn.Module):
    """Lets models.save_model write a plain state_dict."""

    def __init__(self, state):
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):
        return dict(self._state)


def load_ternary_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """The trainable ternary model (latent weights, scales) of a `save_ternary_checkpoint` file."""
    from dth.models import load_model

    model, ckpt = load_model(path)
    info = ckpt.get("meta", {}).get("ternary")
    if not info:
        raise DthError(f"{path} is not a ternary checkpoint (no meta['ternary']): run `dth ternarize`")
    with torch.no_grad():
        for name in info["layers"]:
            model.get_submodule(name).weight.copy_(info["latent"][name])
    ternarize_model(model, info["layer_set"], info["t"])
    with torch.no_grad():
        for name, layer in ternary_layers(model).items():
            layer.wp.fill_(info["scales"][name][0])
            layer.wn.fill_(info["scales"][name][1])
    model.eval()
    return model, ckpt


# --------------------------------------------------------------------------- size / sparsity report

def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _member_bytes(npz: bytes, layer_names: list[str]) -> int:
    """Bytes that the .npy members of these layers (weight or codes, shape, scales, bias) take in an .npz."""
    prefixes = tuple(name + "." for name in layer_names)
    with zipfile.ZipFile(io.BytesIO(npz)) as z:
        return sum(info.compress_size for info in z.infolist() if info.filename.startswith(prefixes))


@torch.no_grad()
def ternary_report(model: nn.Module, layer_set: str, packed_path: str | Path | None = None) -> dict:
    """Per-layer +/0/- fractions and bytes, fp32 against ternary; compression ratios.

    Bytes are payload bytes: fp32 = 4 per weight and bias; ternary = ceil(n/4) for the
    2-bit weights + 8 for Wp, Wn + the bias as stored. "fc" totals cover the ternarised
    Linear layers. With `packed_path`, the packed file's size on disk is compared with
    an fp32 .npz of the same model written the same way (np.savez of the plain state_dict).
    """
    layers = ternary_layers(model)
    per_layer = {}
    for name, layer in layers.items():
        codes = layer.ternary_codes()
        n = codes.numel()
        bias = _nbytes(layer.bias) if layer.bias is not None else 0
        fp32 = n * 4 + bias
        ternary = (n + 3) // 4 + 8 + bias
        per_layer[name] = {
            "type": "linear" if isinstance(layer, nn.Linear) else "conv2d",
            "shape": list(codes.shape),
            "weights": n,
            "frac_pos": (codes > 0).sum().item() / n,
            "frac_zero": (codes == 0).sum().item() / n,
            "frac_neg": (codes < 0).sum().item() / n,
            "t": layer.t,
            "delta": threshold(layer.weight, layer.t).item(),
            "wp": float(layer.wp),
            "wn": float(layer.wn),
            "fp32_bytes": fp32,
            "ternary_bytes": ternary,
            "compression": fp32 / ternary,
        }
    dense = dense_state_dict(model)
    model_fp32 = sum(_nbytes(v) for v in dense.values())
    ternary_weight_keys = {f"{n}.weight" for n in layers}
    model_ternary = sum(_nbytes(v) for k, v in dense.items() if k not in ternary_weight_keys) \
        + sum((layer.weight.numel() + 3) // 4 + 8 for layer in layers.values())
    fc = [v for v in per_layer.values() if v["type"] == "linear"]
    fc_fp32 = sum(v["fp32_bytes"] for v in fc)
    fc_ternary = sum(v["ternary_bytes"] for v in fc)
    report = {
        "layer_set": layer_set,
        "ternary_layers": list(layers),
        "full_precision_layers": [name for name, m in model.named_modules()
                                  if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))
                                  and name not in layers],
        "layers": per_layer,
        "sparsity": sum(v["frac_zero"] * v["weights"] for v in per_layer.values())
        / max(1, sum(v["weights"] for v in per_layer.values())),
        "fc_fp32_bytes": fc_fp32,
        "fc_ternary_bytes": fc_ternary,
        "fc_compression": fc_fp32 / fc_ternary if fc_ternary else None,
        "model_fp32_bytes": model_fp32,
        "model_ternary_bytes": model_ternary,
        "model_compression": model_fp32 / model_ternary,
    }
    if packed_path is not None:
        on_disk = Path(packed_path).stat().st_size
        fp32_npz = _npz_bytes({k: v.numpy() for k, v in dense.items()})
        fc_names = [name for name, v in per_layer.items() if v["type"] == "linear"]
        fc_packed_file = _member_bytes(Path(packed_path).read_bytes(), fc_names)
        fc_fp32_file = _member_bytes(fp32_npz, fc_names)
        report.update({
            "packed_file_bytes": on_disk,
            "fp32_file_bytes": len(fp32_npz),
            "file_compression": len(fp32_npz) / on_disk,
            "packed_overhead": on_disk / model_ternary - 1.0,
            "fc_packed_file_bytes": fc_packed_file,
            "fc_fp32_file_bytes": fc_fp32_file,
            "fc_file_compression": fc_fp32_file / fc_packed_file if fc_packed_file else None,
        })
    return report
