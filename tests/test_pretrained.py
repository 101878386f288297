"""teacher.pretrained imagenet: torchvision's ImageNet weights from torch.hub's cache ($TORCH_HOME),
loaded into the teacher's backbone with the stem they fit; a clear error without them."""

import numpy as np
import pytest
import torch

from dth.errors import DthError
from dth.models import Teacher, imagenet_normalisation, imagenet_state
from tests.fakes import write_fake_imagenet_weights


def teacher(in_channels=3, image_size=32, input_size=64):
    return Teacher(arch="resnet18", bits=[12, 48], num_classes=10, in_channels=in_channels, image_size=image_size,
                   mean=[0.5] * in_channels, std=[0.25] * in_channels, input_size=input_size)


def test_weights_are_read_from_the_torch_home_cache_and_loaded_into_the_backbone(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    path, written = write_fake_imagenet_weights(tmp_path / "torch-home", "resnet18")
    assert path.name.startswith("resnet18-") and path.suffix == ".pth"  # the name torchvision looks for
    state = imagenet_state("resnet18")
    t = teacher()
    t.load_backbone(state)
    # the stem is torchvision's 7x7 one, and every backbone tensor is the file's
    assert t.backbone.conv1.weight.shape == (64, 3, 7, 7) and not isinstance(t.backbone.maxpool, torch.nn.Identity)
    for key in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.bn2.running_var"):
        assert torch.equal(t.backbone.state_dict()[key], written[key]), key
    # the hash heads stay as initialised: the 1000-class fc is not used
    assert t.hash_layers["12"].weight.shape == (12, 512)


def test_grey_images_get_the_colour_weights_summed_over_channels(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    _, written = write_fake_imagenet_weights(tmp_path, "resnet18")
    t = teacher(in_channels=1, image_size=28, input_size=64)
    t.load_backbone(imagenet_state("resnet18"))
    torch.testing.assert_close(t.backbone.conv1.weight, written["conv1.weight"].sum(1, keepdim=True))
    mean, std = imagenet_normalisation("resnet18", 1)
    assert mean == pytest.approx([np.mean([0.485, 0.456, 0.406])]) and len(std) == 1


def test_the_small_image_stem_refuses_imagenet_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    write_fake_imagenet_weights(tmp_path, "resnet18")
    t = teacher(input_size=None)  # 32 px: the 3x3 CIFAR stem
    with pytest.raises(ValueError, match="7x7 stem"):
        t.load_backbone(imagenet_state("resnet18"))


def test_without_the_file_the_error_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(DthError) as e:
        imagenet_state("resnet50")
    text = str(e.value)
    assert str(tmp_path / "empty" / "hub" / "checkpoints" / "resnet50-") in text and ".pth" in text
    assert "https://download.pytorch.org/models/resnet50-" in text and "TORCH_HOME" in text


def test_the_teacher_resizes_its_input_to_input_size():
    t = teacher(input_size=64).eval()
    seen = {}

    def record(module, inputs, output):
        seen["side"] = inputs[0].shape[-1]
    t.backbone.conv1.register_forward_hook(record)
    with torch.no_grad():
        hs, _ = t(torch.rand(2, 3, 32, 32))
    assert seen["side"] == 64 and hs[12].shape == (2, 12)
