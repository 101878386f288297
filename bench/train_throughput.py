"""Training and inference throughput (images/s) of the student and the teacher on this machine.

    .venv/bin/python bench/train_throughput.py                       # student 32x32x3 fp32 batch 128 + teacher
    .venv/bin/python bench/train_throughput.py --size 28 --channels 1 --teacher-amp bf16 none
    .venv/bin/python bench/train_throughput.py --skip-teacher --repeats 5

For each model it times, alternately and `--repeats` times (medians are printed):
- bare: a plain PyTorch loop over pre-made float batches (forward, the same objective,
  backward, optimizer step), the model's own cost;
- dth.train.fit: the project's loop on uint8 data in memory (whole-batch augmentation,
  per-step lr schedule, NaN check, progress bookkeeping), no validation or checkpoint;
- inference: eval-mode forward of 1024-image batches, no gradient.
The ratio fit / bare is the loop's overhead, measured in the same run (the timing
noise of a shared machine cancels out of it better than out of absolute figures).
Target on 2 CPU cores: student training at 32x32x3, fp32, batch 128 >= 2,400 images/s.
Synthetic random images: throughput does not depend on pixel values.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dth.losses import student_objective, teacher_objective, top1_accuracy
from dth.models import Student, Teacher
from dth.train import TrainConfig, TrainSet, autocast, fit

PARAMS = {"dsh": {"margin_factor": 2.0, "alpha": 0.01},
          "distill": {"ce_weight": 1.0, "weight": 1.0, "temperature": 1.0, "loss": "bce", "pairwise_weight": 0.0}}


def synthetic(n, channels, size, classes=10, bits=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)
    labels = torch.nn.functional.one_hot(torch.randint(0, classes, (n,), generator=g), classes).float()
    extras = {"teacher_h": torch.randn(n, bits, generator=g)} if bits else {}
    return TrainSet(images, labels, extras)


def student_loss(m, x, y, extras):
    h, logits = m(x)
    return student_objective("dth", h, logits, y, extras["teacher_h"], PARAMS), top1_accuracy(logits.detach(), y)


def teacher_loss(m, x, y, extras):
    hs, logits = m(x)
    return teacher_objective(logits, y), top1_accuracy(next(iter(logits.values())).detach(), y)


CL = torch.channels_last  # both loops run NHWC, the faster layout on CPU (dth.train does too)


def bare_loop(model, loss_fn, data, batch, amp):
    """Plain loop: the batches are float tensors made beforehand, no augmentation."""
    model = model.to(memory_format=CL)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = [((data.images[i:i + batch].float() / 255.0).contiguous(memory_format=CL), data.labels[i:i + batch],
                {k: v[i:i + batch] for k, v in data.extras.items()}) for i in range(0, len(data) - batch + 1, batch)]
    model.train()
    start = time.perf_counter()
    for x, y, extras in batches:
        with autocast(torch.device("cpu"), amp):
            loss, _ = loss_fn(model, x, y, extras)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(batches) * batch / (time.perf_counter() - start)


def fit_loop(model, loss_fn, data, batch, amp):
    cfg = TrainConfig(epochs=1, batch_size=batch, optimizer="adam", lr=1e-4, weight_decay=0.0, schedule="cosine",
                      warmup_epochs=0, decay_epochs=0, amp=amp, augment="crop+flip", crop_pad=4)
    start = time.perf_counter()
    fit(model, loss_fn, data, cfg, seed=0, device=torch.device("cpu"), name="bench",
        checkpoint_dir=None, progress=False)
    return (len(data) // batch) * batch / (time.perf_counter() - start)


@torch.no_grad()
def inference(model, data, amp, batch=1024):
    model = model.eval().to(memory_format=CL)
    start = time.perf_counter()
    for i in range(0, len(data), batch):
        with autocast(torch.device("cpu"), amp):
            model((data.images[i:i + batch].float() / 255.0).contiguous(memory_format=CL))
    return len(data) / (time.perf_counter() - start)


def measure(label, make_model, loss_fn, data, batch, amp, repeats):
    results = {"bare": [], "fit": [], "infer": []}
    for _ in range(repeats):
        torch.manual_seed(0)
        results["bare"].append(bare_loop(make_model(), loss_fn, data, batch, amp))
        torch.manual_seed(0)
        results["fit"].append(fit_loop(make_model(), loss_fn, data, batch, amp))
        results["infer"].append(inference(make_model(), data, amp))
    med = {k: statistics.median(v) for k, v in results.items()}
    ratios = statistics.median(f / b for f, b in zip(results["fit"], results["bare"]))
    print(f"{label:44s} train bare {med['bare']:8.0f} img/s | train dth.fit {med['fit']:8.0f} img/s "
          f"(fit/bare {ratios:.3f}) | inference {med['infer']:8.0f} img/s", flush=True)
    return med


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=32, help="image side, px (default: %(default)s)")
    p.add_argument("--channels", type=int, default=3, help="image channels (default: %(default)s)")
    p.add_argument("--batch", type=int, default=128, help="training batch size (default: %(default)s)")
    p.add_argument("--bits", type=int, default=48, help="code length (default: %(default)s)")
    p.add_argument("--student-images", type=int, default=5120, help="images per student timing (default: %(default)s)")
    p.add_argument("--student-amp", nargs="+", default=["none"], choices=["none", "bf16"])
    p.add_argument("--teacher-arch", default="resnet18", choices=["resnet18", "resnet34", "resnet50"])
    p.add_argument("--teacher-images", type=int, default=512, help="images per teacher timing (default: %(default)s)")
    p.add_argument("--teacher-amp", nargs="+", default=["none", "bf16"], choices=["none", "bf16"])
    p.add_argument("--skip-teacher", action="store_true")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; input {a.size}x{a.size}x{a.channels}, batch {a.batch}")
    stats = dict(mean=[0.5] * a.channels, std=[0.25] * a.channels)
    data = synthetic(a.student_images, a.channels, a.size, bits=a.bits)
    for amp in a.student_amp:
        measure(f"student k={a.bits} amp={amp}",
                lambda: Student(a.bits, 10, a.channels, a.size, **stats), student_loss, data, a.batch, amp, a.repeats)
    if not a.skip_teacher:
        tdata = synthetic(a.teacher_images, a.channels, a.size)
        for amp in a.teacher_amp:
            measure(f"teacher {a.teacher_arch} 4 heads amp={amp}",
                    lambda: Teacher(a.teacher_arch, [12, 24, 32, 48], 10, a.channels, a.size, **stats),
                    teacher_loss, tdata, a.batch, amp, a.repeats)


if __name__ == "__main__":
    main()
