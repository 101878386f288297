"""The CUDA path of the CIFAR-10 preset, checked on synthetic CIFAR-shaped data in a few minutes.

    PYTHONPATH=. python bench/gpu_check.py                 # on a machine with a CUDA GPU
    PYTHONPATH=. python bench/gpu_check.py --steps 50 --batch 128

Builds the preset's teacher (configs/cifar10.yaml: ResNet-50 at its input size, one hash head
per code length, ImageNet normalisation; random weights, since only speed is measured) and its
DSH student at 32 px, resolves `amp: auto` as the stages do (dth.hardware), and prints: the
device, the precision chosen and why, images/s of teacher training, student training (the DTH
objective on cached teacher outputs) and encoding of both, and the peak GPU memory. Each phase
runs a bounded number of steps after a warm-up; the whole check takes well under 5 minutes.
Without a CUDA GPU it says so and exits with status 1.

It imports only what it needs from the working tree (torch, torchvision, PyYAML and the dth
modules models, losses, hardware), so it runs on a machine whose Python has an older torch
and no faiss, jsonschema or tqdm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, steps: int, warmup: int, images_per_step: int, device) -> float:
    """images/s of `steps` calls of fn() after `warmup` calls, with the GPU synchronised."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronize(device)
    return steps * images_per_step / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=str(ROOT / "configs" / "cifar10.yaml"), help="params file (default: the CIFAR-10 preset)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per phase (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: the preset's)")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="cpu: run the same phases on the CPU, to check the script itself (default: cuda)")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU: torch.cuda.is_available() is False on this machine; nothing to check "
              "(the CPU path is what `make test` runs)")
        return 1

    from dth.hardware import resolve_amp
    from dth.losses import student_objective, teacher_objective
    from dth.models import Student, Teacher, imagenet_normalisation

    params = yaml.safe_load(Path(args.preset).read_text())
    t_cfg, s_cfg = params["teacher"], params["student"]
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)} "
              f"({torch.cuda.get_device_properties(device).total_memory / 2**30:.0f} GiB)")
    else:
        print(f"device: cpu, {torch.get_num_threads()} threads (a check of this script, not of CUDA)")
    amp, why = resolve_amp(t_cfg["amp"], device)
    print(f"amp {t_cfg['amp']} -> {amp} ({why})")
    dtype = torch.bfloat16 if amp == "bf16" else None

    bits, classes = list(params["bits"]), 10
    mean, std = imagenet_normalisation(t_cfg["arch"], 3) if t_cfg["pretrained"] == "imagenet" else ([0.5] * 3, [0.25] * 3)
    teacher = Teacher(arch=t_cfg["arch"], bits=bits, num_classes=classes, in_channels=3, image_size=32, mean=mean,
                      std=std, stem_stride=t_cfg["stem_stride"], input_size=t_cfg["input_size"]).to(device)
    teacher = teacher.to(memory_format=torch.channels_last)
    student = Student(bits=bits[-1], num_classes=classes, in_channels=3, image_size=32, mean=[0.5] * 3,
                      std=[0.25] * 3).to(device).to(memory_format=torch.channels_last)
    print(f"teacher {t_cfg['arch']} seeing {t_cfg['input_size'] or 32} px, heads {bits}; student k={bits[-1]} at 32 px")

    def batch(n):
        x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, device=device).float().div_(255.0)
        y = torch.nn.functional.one_hot(torch.randint(0, classes, (n,), device=device), classes).float()
        return x.contiguous(memory_format=torch.channels_last), y

    def autocast():
        return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)

    rates = {}
    tb = args.batch or t_cfg["batch_size"]
    x, y = batch(tb)
    opt = torch.optim.SGD(teacher.parameters(), lr=1e-3, momentum=0.9, nesterov=True)

    def teacher_step():
        with autocast():
            _, logits = teacher(x)
            loss = teacher_objective(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    teacher.train()
    rates["teacher training"] = timed(teacher_step, args.steps, args.warmup, tb, device)
    peak_teacher = torch.cuda.max_memory_allocated(device) if cuda else 0

    sb = args.batch or s_cfg["batch_size"]
    xs, ys = batch(sb)
    target = torch.randn(sb, bits[-1], device=device) * 4  # cached teacher outputs
    s_opt = torch.optim.Adam(student.parameters(), lr=1e-3)

    def student_step():
        with autocast():
            h, logits = student(xs)
            loss = student_objective("dth", h, logits, ys, teacher_h=target, params=params)
        s_opt.zero_grad(set_to_none=True)
        loss.backward()
        s_opt.step()

    student.train()
    rates["student training"] = timed(student_step, args.steps, args.warmup, sb, device)

    eb = params["encode"]["batch_size"]
    xe, _ = batch(args.batch or eb)
    eb = len(xe)
    teacher.eval()
    student.eval()

    @torch.inference_mode()
    def encode(model):
        with autocast():
            if model is teacher:
                hs, _ = model(xe)
                return {k: h > 0 for k, h in hs.items()}
            return model.hash(xe) > 0

    rates["teacher encoding (every head)"] = timed(lambda: encode(teacher), args.steps, args.warmup, eb, device)
    rates["student encoding"] = timed(lambda: encode(student), args.steps, args.warmup, eb, device)
    for name, rate in rates.items():
        print(f"{name:32s} {rate:12,.0f} images/s")
    if cuda:
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**20:,.0f} MiB "
              f"(teacher training: {peak_teacher / 2**20:,.0f} MiB at batch {tb})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
