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
    Below 64 px the stem is a 3x3 conv without max-pool (CIFAR-style), of stride
    `stem_stride`: 1 as in the paper's setting; 2 makes every later layer work on a
    4x smaller map (4x cheaper), which is what a 2-core CPU can afford.
    """

    def __init__(self, arch: str, bits: list[int], num_classes: int, in_channels: int,
                 image_size: int, mean, std, stem_stride: int = 1):
        super().__init__()
        self.bits = [int(k) for k in bits]
        self.norm = Normalize(mean, std)
        import torchvision  # here, not at the top: importing it costs ~3 s, and students do not need it

        net = getattr(torchvision.models, arch)(weights=None)
        if image_size < 64:
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
        return self.backbone(self.norm(x))

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
