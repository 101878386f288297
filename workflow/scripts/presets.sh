#!/usr/bin/env bash
# Regenerate configs/*.yaml from params.yaml (run after adding or renaming a key).
#   bash workflow/scripts/presets.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${PYTHON:-.venv/bin/python}
gpu_training="bits=[12,24,32,48] baseline_seeds=[0,1,2] teacher.arch=resnet50 teacher.stem_stride=1 teacher.epochs=100 teacher.optimizer=sgd
  teacher.warmup_epochs=5 teacher.val_queries=1000 teacher.val_database=5000
  student.epochs=400 student.decay_epochs=40 student.val_queries=1000 student.val_database=5000 quantize.epochs=50"
# ImageNet-pretrained teacher at 224 px, as deep hashing work on CIFAR-10 and NUS-WIDE trains it
# (torchvision's weights, ImageNet normalisation), fine-tuned at a tenth of the from-scratch rate
pretrained="teacher.pretrained=imagenet teacher.input_size=224 teacher.lr=0.01"
# The paper's CIFAR-10 setting: 1k protocol, ResNet-50 teacher, DSH student at 32x32, mAP@all.
$py workflow/scripts/make_preset.py configs/cifar10.yaml data.dataset=cifar10 data.protocol=1k $gpu_training $pretrained
# The paper's NUS-WIDE setting: 21 concepts, 2100 protocol, 64 px images, mAP@5000.
$py workflow/scripts/make_preset.py configs/nus-wide.yaml data.dataset=nus-wide data.protocol='"2100"' \
  data.root=data/raw/nus-wide data.image_size=64 evaluate.topk=5000 $gpu_training $pretrained
# Fashion-MNIST at the paper-like epochs and the full 64,000-image database (a GPU run).
$py workflow/scripts/make_preset.py configs/fashion-mnist-paper.yaml data.protocol=1k $gpu_training
