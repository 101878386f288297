"""The networks: a ResNet teacher with one hash head per code length, and the DSH student.

    from dth.models import Teacher, Student, save_model, load_model
    t = Teacher(arch="resnet18", bits=[12, 48], num_classes=10, in_channels=1, image_size=28,
                mean=[0.286], std=[0.353])
    hs, logits = t(x)          # dicts keyed by k: hash outputs (N, k), class logits (N, C)
    h = t.hash(x, 12)          # (N, 12) real hash outputs; the code is h > 0
    s = Student(bits=12, num_classes=10, in_channels=1, image_size=28, mean=[0.286], std=[0.353])
    h, logits = s(x)           # (N, 12), (N, C)

Inputs are float images in [0, 1], NCHW; each model normalises with its own
per-channel mean/std buffers (computed from the train set by the training stage),
so whoever encodes with a model needs nothing but the model file.

Checkpoint format (`save_model` / `load_model`): a torch.save'd dict
{"format": "dth-model/1", "kind": "teacher"|"student", "config": constructor kwargs,
 "state_dict": ..., "meta": free-form (training params, data manifest hash, ...)}.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dth.io import atomic_path

FORMAT = "dth-model/1"


class Normalize(nn.Module):
    """(x - mean) / std per channel; mean and std are buffers saved with the model."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class Teacher(nn.Module):
    """torchvision ResNet backbone -> per-k hash layer fc k -> classifier on sigmoid(h).

    One backbone serves every code length: the heads are trained together, each
    with its own cross-entropy, so the run trains one teacher instead of one per k.
    `input_size` (None: the images' own side) is the side the backbone sees: images are
    resized to it (bilinear) inside the model, so that training, encoding and the
    distilled students' targets all see the same input (a pretrained ResNet at 224 px
    on 32 px CIFAR images). Below 64 px the stem is a 3x3 conv without max-pool
    (CIFAR-style), of stride `stem_stride`: 1 as in the paper's setting; 2 makes every
    later layer work on a 4x smaller map (4x cheaper), which is what a 2-core CPU can
    afford. From 64 px on it is torchvision's own (7x7 conv, max-pool), the stem that
    ImageNet weights (`load_backbone`) fit.
    """

    def __init__(self, arch: str, bits: list[int], num_classes: int, in_channels: int,
                 image_size: int, mean, std, stem_stride: int = 1, input_size: int | None = None):
        super().__init__()
        self.bits = [int(k) for k in bits]
        self.norm = Normalize(mean, std)
        self.input_size = None if input_size is None or input_size == image_size else int(input_size)
        import torchvision  # here, not at the top: importing it costs ~3 s, and students do not need it

        net = getattr(torchvision.models, arch)(weights=None)
        if (self.input_size or image_size) < 64:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=stem_stride, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        features = net.fc.in_features
        net.fc = nn.Identity()
        self.backbone = net
        self.hash_layers = nn.ModuleDict({str(k): nn.Linear(features, k) for k in self.bits})
        self.classifiers = nn.ModuleDict({str(k): nn.Linear(k, num_classes) for k in self.bits})

    def features(self, x):
        if self.input_size is not None:
            x = nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                          align_corners=False)
        return self.backbone(self.norm(x))

    def load_backbone(self, state_dict: dict) -> None:
        """Load a torchvision ResNet state dict (e.g. its ImageNet weights) into the backbone:
        every tensor but the 1000-class fc; for grey images, conv1's weights summed over the
        colour channels (a grey image is the same on R, G and B). The stem must be
        torchvision's own (input side >= 64 px)."""
        state = {k: v for k, v in state_dict.items() if not k.startswith("fc.")}
        conv1 = self.backbone.conv1.weight
        if "conv1.weight" in state and state["conv1.weight"].shape[1] != conv1.shape[1]:
            if conv1.shape[1] != 1:
                raise ValueError(f"conv1 has {conv1.shape[1]} input channels; the weights have "
                                 f"{state['conv1.weight'].shape[1]}")
            state["conv1.weight"] = state["conv1.weight"].sum(dim=1, keepdim=True)
        if "conv1.weight" in state and state["conv1.weight"].shape != conv1.shape:
            raise ValueError(f"the weights' stem conv1 is {tuple(state['conv1.weight'].shape)}, this teacher's "
                             f"{tuple(conv1.shape)}: ImageNet weights need torchvision's 7x7 stem (teacher.input_size "
                             ">= 64)")
        self.backbone.load_state_dict(state, strict=True)

    def forward(self, x):
        f = self.features(x)
        hs = {k: self.hash_layers[str(k)](f) for k in self.bits}
        logits = {k: self.classifiers[str(k)](torch.sigmoid(h)) for k, h in hs.items()}
        return hs, logits

    def hash(self, x, bits: int):
        """Real-valued hash outputs (N, bits) of the head for code length `bits`."""
        if bits not in self.bits:
            raise ValueError(f"this teacher has hash heads for k in {self.bits}, not k={bits}")
        return self.hash_layers[str(bits)](self.features(x))


class Student(nn.Module):
    """The DSH network (Liu et al. 2016, official Caffe prototxt) with a hash layer of k bits.

    conv 32@5x5 pad 2 -> max-pool 3/2 -> ReLU -> conv 32@5x5 pad 2 -> ReLU -> avg-pool 3/2
    -> conv 64@5x5 pad 2 -> ReLU -> avg-pool 3/2 -> fc 500 -> ReLU -> fc k (hash layer),
    plus a classifier fc C on sigmoid(h) so that cross-entropy can train it.
    Pooling floors (PyTorch's default): a 32x32 input gives 64x3x3 features, ~0.37M
    parameters, ~78% of them in the two fc layers.
    """

    def __init__(self, bits: int, num_classes: int, in_channels: int, image_size: int, mean, std):
        super().__init__()
        self.bits = int(bits)
        self.norm = Normalize(mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, padding=2),
            nn.MaxPool2d(3, 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.AvgPool2d(3, 2),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.AvgPool2d(3, 2),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
        self.fc = nn.Linear(flat, 500)
        self.hash_layer = nn.Linear(500, self.bits)
        self.classifier = nn.Linear(self.bits, num_classes)

    def hash(self, x, bits: int | None = None):
        """Real-valued hash outputs (N, k); `bits`, if given, must equal k."""
        if bits is not None and bits != self.bits:
            raise ValueError(f"this student has k={self.bits} bits, not {bits}")
        return self.hash_layer(torch.relu(self.fc(self.features(self.norm(x)))))

    def forward(self, x):
        h = self.hash(x)
        return h, self.classifier(torch.sigmoid(h))


KINDS = {"teacher": Teacher, "student": Student}


def imagenet_weights(arch: str):
    """(torchvision's ImageNet weights entry for `arch` (its DEFAULT), the file torch.hub keeps it
    as: <TORCH_HOME or ~/.cache/torch>/hub/checkpoints/<the URL's file name>)."""
    import torchvision
    from urllib.parse import urlparse

    weights = torchvision.models.get_model_weights(arch).DEFAULT
    return weights, Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def imagenet_state(arch: str) -> dict:
    """The ImageNet state dict of torchvision's `arch`, read from torch.hub's cache; a clear
    error naming the file when it is not there (nothing is downloaded: the pipeline's stages
    run offline, e.g. on cluster nodes)."""
    from dth.errors import DthError

    weights, path = imagenet_weights(arch)
    if not path.is_file():
        raise DthError(
            f"teacher.pretrained imagenet: torchvision's {arch} ImageNet weights ({weights}) are not in its "
            f"cache: expected the file {path} (the folder is $TORCH_HOME/hub/checkpoints; TORCH_HOME "
            f"defaults to ~/.cache/torch). Download {weights.url} to that path, or run `python -c \"import "
            f"torchvision; torchvision.models.{type(weights).__name__}.{weights.name}.get_state_dict()\"` "
            "once on a machine with internet access and copy the file")
    return weights.get_state_dict(progress=False, check_hash=False)


def imagenet_normalisation(arch: str, channels: int) -> tuple[list[float], list[float]]:
    """The per-channel mean and std the ImageNet weights were trained with (grey: their means)."""
    weights, _ = imagenet_weights(arch)
    t = weights.transforms()
    mean, std = list(t.mean), list(t.std)
    if channels == 1:
        mean, std = [sum(mean) / 3], [sum(std) / 3]
    return mean, std


def build_model(kind: str, config: dict) -> nn.Module:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; accepted: {', '.join(KINDS)}")
    return KINDS[kind](**config)


def save_model(path: str | Path, model: nn.Module, kind: str, config: dict, meta: dict | None = None) -> None:
    """Write a model checkpoint atomically (see the module docstring for the format)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    obj = {"format": FORMAT, "kind": kind, "config": config, "state_dict": state, "meta": meta or {}}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_model(path: str | Path, map_location="cpu") -> tuple[nn.Module, dict]:
    """Rebuild a model from a checkpoint; returns (model in eval mode, the checkpoint dict)."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {path} does not exist") from None
    except Exception as e:  # truncated or foreign file
        raise ValueError(f"{path} is not a readable dth model checkpoint ({e})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path} is not a dth model checkpoint (expected format {FORMAT})")
    model = build_model(obj["kind"], obj["config"])
    model.load_state_dict(obj["state_dict"])
    model.eval()
    return model, obj
