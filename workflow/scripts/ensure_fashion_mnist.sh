#!/usr/bin/env bash
# Make sure Fashion-MNIST (the embedded default data set) is on this machine.
#   1. /usr/share/datasets/fashion-mnist (Debian's package dataset-fashion-mnist): use it;
#   2. else, where apt is usable (root, apt-get present): install that package;
#   3. else: fall back to torchvision's download (with its checksums) into data/raw/,
#      where `dth prepare` looks next. Needs the network; says so.
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
have() { for f in $files; do [ -s "$1/$f" ] || return 1; done; }

have "$dir" && exit 0
if [ -s data/raw/FashionMNIST/raw/train-images-idx3-ubyte.gz ]; then exit 0; fi

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Fashion-MNIST missing: installing Debian's dataset-fashion-mnist with apt-get" >&2
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null; then
    have "$dir" && exit 0
  fi
  echo "apt-get could not install dataset-fashion-mnist" >&2
fi

echo "Fashion-MNIST not in $dir and apt unusable: falling back to torchvision's download into data/raw/" >&2
python - <<'PY'
import torchvision
torchvision.datasets.FashionMNIST("data/raw", train=True, download=True)
torchvision.datasets.FashionMNIST("data/raw", train=False, download=True)
PY
