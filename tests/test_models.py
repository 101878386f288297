"""The teacher and the student: output shapes per input kind, hash(), checkpoint round trip."""

import pytest
import torch

from dth.models import Student, Teacher, load_model, save_model

SHAPES = [(28, 1), (32, 3), (64, 3)]


@pytest.mark.parametrize("size,channels", SHAPES)
def test_student_shapes(size, channels):
    torch.manual_seed(0)
    s = Student(bits=24, num_classes=10, in_channels=channels, image_size=size,
                mean=[0.5] * channels, std=[0.25] * channels)
    x = torch.rand(3, channels, size, size)
    h, logits = s(x)
    assert h.shape == (3, 24) and logits.shape == (3, 10)
    assert torch.equal(s.hash(x), h)
    with pytest.raises(ValueError, match="12"):
        s.hash(x, 12)


@pytest.mark.parametrize("size,channels", SHAPES)
def test_teacher_shapes(size, channels):
    torch.manual_seed(0)
    t = Teacher(arch="resnet18", bits=[12, 48], num_classes=7, in_channels=channels, image_size=size,
                mean=[0.5] * channels, std=[0.25] * channels).eval()
    x = torch.rand(2, channels, size, size)
    hs, logits = t(x)
    assert {k: v.shape for k, v in hs.items()} == {12: (2, 12), 48: (2, 48)}
    assert {k: v.shape for k, v in logits.items()} == {12: (2, 7), 48: (2, 7)}
    assert torch.allclose(t.hash(x, 48), hs[48])
    # small images: 3x3 stride-1 stem without max-pool; from 64 px the standard 7x7/2 stem
    assert t.backbone.conv1.kernel_size == ((3, 3) if size < 64 else (7, 7))
    assert t.backbone.conv1.in_channels == channels
    with pytest.raises(ValueError, match="24"):
        t.hash(x, 24)


def test_student_is_the_dsh_network():
    s = Student(bits=48, num_classes=10, in_channels=3, image_size=32, mean=[0.5] * 3, std=[0.25] * 3)
    n_params = sum(p.numel() for n, p in s.named_parameters() if not n.startswith("classifier"))
    fc = sum(p.numel() for p in [*s.fc.parameters(), *s.hash_layer.parameters()])
    assert s.fc.in_features == 64 * 3 * 3 and s.fc.out_features == 500
    assert 0.3e6 < n_params < 0.45e6 and 0.7 < fc / n_params < 0.85


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    config = dict(bits=12, num_classes=10, in_channels=1, image_size=28, mean=[0.3], std=[0.35])
    s = Student(**config).eval()
    save_model(tmp_path / "s.pt", s, "student", config, {"seed": 0})
    loaded, obj = load_model(tmp_path / "s.pt")
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(loaded(x)[0], s(x)[0]) and obj["meta"] == {"seed": 0}
