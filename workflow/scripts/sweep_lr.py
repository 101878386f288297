"""Learning-rate (and length) sweep of the students trained without the teacher, judged on a
validation split of the training images (never on the query set), recorded in
results/experiments.csv.

    .venv/bin/python workflow/scripts/sweep_lr.py                  # dsh and every method of params `baselines`
    .venv/bin/python workflow/scripts/sweep_lr.py --method hashnet --bits 12 --lr 0.002   # one run
    .venv/bin/python workflow/scripts/sweep_lr.py --method dpsh --lr 0.001 --set dpsh.init_scale=30   # another key too
    .venv/bin/python workflow/scripts/sweep_lr.py --val-database 700 --method ce --lr 0.005 --set ce.epochs_factor=2
    .venv/bin/python workflow/scripts/sweep_lr.py --record-only    # print the choice from the recorded rows

A length (`<method>.epochs_factor`) is compared with --val-database N: the database is then N
of the held-out images, none trained on, since longer training also memorises the training
images and so raises the default protocol's score by itself (docs/baselines.md).

Needs data/prepared (`dvc repro prepare`). The validation split: --holdout training images,
drawn with data.split_seed, are the validation queries; the other training images are both
the training set and the validation database (mAP@all over them), or with --val-database N
the training set only, the last N held-out images being the database. Each run is one student
of the default schedule (params `student`, at seed --seed) with the method's learning rate
replaced, validated once, after its last epoch. Every run's row in results/experiments.csv
(name lr-sweep:<method>-<k>-lr<lr>) carries the command that reproduces it, its validation
mAP and its final training loss; a row already there is not run again (--rerun runs it).
The rate to put in params.yaml (`<method>.lr`, or `student.lr` for dsh) is the one with the
highest validation mAP averaged over the swept code lengths: printed at the end.
--set changes other keys of the method's own section or of the shared `student` schedule for every
run (`dpsh.init_scale=30`, `student.augment=none`; values are YAML); such runs are recorded apart
(their name ends in -<key><value>, their `setting` column says what was set), and the choice is
made per setting.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from dth.data import load_manifest, load_split  # noqa: E402
from dth.hardware import describe, resolve_device  # noqa: E402
from dth.params import load_params, method_epochs, validate  # noqa: E402
from dth.results import SWEEP_PREFIX as PREFIX, fill_validation, validation_text  # noqa: E402  (the appendix shows the rows)

OUT = ROOT / "results" / "experiments.csv"
COLUMNS = ["method", "setting", "validation", "bits", "lr", "seed", "validation_map", "final_loss", "train_seconds", "cpu"]


def validation_split(prepared: Path, dest: Path, holdout: int, seed: int, database: int = 0) -> Path:
    """A prepared folder whose query set is `holdout` training images and whose train set is the
    remaining training images. database 0: the database is that train set too; database N > 0:
    the last N of the held-out images are the database and the others the queries, so that no
    validation image was trained on (as in the query-set protocol)."""
    manifest = load_manifest(prepared)
    images, labels = load_split(prepared, "train", mmap=False)
    if not 0 < holdout < len(images):
        sys.exit(f"--holdout {holdout}: accepted 1 to {len(images) - 1} (the train set has {len(images)} images)")
    if not 0 <= database < holdout:
        sys.exit(f"--val-database {database}: accepted 0 (the training images) to {holdout - 1} (held-out images)")
    order = np.random.default_rng(seed).permutation(len(images))
    train = np.sort(order[holdout:])
    parts = ({"query": order[:holdout], "train": train, "database": train} if database == 0 else
             {"query": order[:holdout - database], "train": train, "database": order[holdout - database:holdout]})
    dest.mkdir(parents=True, exist_ok=True)
    for split, idx in parts.items():
        np.save(dest / f"{split}_images.npy", images[idx])
        np.save(dest / f"{split}_labels.npy", labels[idx])
    manifest = {**manifest, "protocol": f"{manifest.get('protocol')}-validation-{holdout}-{database}",
                "counts": {k: int(len(v)) for k, v in parts.items()}}
    manifest.pop("class_counts", None)
    (dest / "manifest.json").write_text(json.dumps(manifest))
    return dest


def parse_settings(method: str, params: dict, items: list[str]) -> dict[str, object]:
    """{"<section>.<key>": value} of --set items `<section>.<key>=<YAML value>`, each key one of
    `settable(method, params)`."""
    allowed = settable(method, params)
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in allowed:
            sys.exit(f"--set {item}: expected <key>=<value> with a key of params `{method}` or `student` "
                     f"(accepted: {', '.join(allowed) or 'none'})")
        settings[key] = yaml.safe_load(value)
    return settings


def settable(method: str, params: dict) -> list[str]:
    """The keys --set accepts for `method`: its own section's but lr (swept by --lr), then the shared
    student schedule's but lr, the validation sizes and the keys its own section has too (a compared
    method's weight_decay; its epochs_factor scales student.epochs, which dsh sets directly)."""
    own = params.get(method) or {}
    fixed = {"lr", "val_queries", "val_database", *own, *(["epochs"] if "epochs_factor" in own else [])}
    return [f"{method}.{k}" for k in own if k != "lr"] + [f"student.{k}" for k in params["student"] if k not in fixed]


def setting_text(settings: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items())


def run_name(method: str, bits: int, lr: float, settings: dict, database: int = 0, seed: int = 0) -> str:
    """The row's name without its prefix, e.g. dpsh-12-lr0.003-epochs_factor4-vdb700 (-s<seed> for seeds
    other than 0); a setting is named by its key within its section."""
    return (f"{method}-{bits}-lr{lr:g}" + "".join(f"-{k.rpartition('.')[2]}{v}" for k, v in settings.items())
            + (f"-vdb{database}" if database else "") + (f"-s{seed}" if seed else ""))


def command(method: str, bits: int, lr: float, seed: int, holdout: int, settings: dict, database: int = 0) -> str:
    extra = f" --set {setting_text(settings)}" if settings else ""
    return (f"python workflow/scripts/sweep_lr.py --method {method} --bits {bits} --lr {lr:g} "
            f"--seed {seed} --holdout {holdout}" + (f" --val-database {database}" if database else "") + extra)


def one_run(params: dict, method: str, bits: int, lr: float, seed: int, data: Path, holdout: int,
            settings: dict | None = None, database: int = 0) -> dict:
    from dth.students import train_student
    settings = settings or {}
    p = copy.deepcopy(params)
    p[method if method in p and "lr" in p[method] else "student"]["lr"] = lr
    for key, value in settings.items():
        section, _, name = key.partition(".")
        p[section][name] = value
    if settings:
        validate(p)  # a value out of range stops here, naming the key
    counts = load_manifest(data)["counts"]
    p["student"].update(val_queries=counts["query"], val_database=counts["database"])
    device = resolve_device("auto")
    name = run_name(method, bits, lr, settings, database, seed)
    run = train_student(p, method, bits, seed=seed, data=data, device=device, name=name, curve=None,
                        checkpoints=None, validate_every=method_epochs(p, method), progress=False)
    last = run.rows[-1]
    hw = describe(device)
    print(f"{name}: validation mAP {last['val_map']:.4f}, final loss {last['loss']:.4f}, "
          f"{run.meta['train_seconds']:.0f} s", flush=True)
    return {"name": f"{PREFIX}{name}", "set": command(method, bits, lr, seed, holdout, settings, database),
            "about": f"validation run of {method} at {bits} bits: mAP@all of "
                     f"{validation_text(holdout, database)}, after the last epoch",
            "method": method, "setting": setting_text(settings),
            "validation": validation_text(holdout, database), "bits": bits, "lr": lr, "seed": seed,
            "validation_map": round(last["val_map"], 6),
            "final_loss": round(last["loss"], 6), "train_seconds": round(run.meta["train_seconds"], 1),
            "cpu": hw.get("cpu_capability", hw.get("cpu", ""))}


def save(rows: list[dict]) -> None:
    table = pd.read_csv(OUT) if OUT.exists() else pd.DataFrame(columns=["name", "set", "about"])
    new = pd.DataFrame(rows)
    table = pd.concat([table[~table["name"].isin(new["name"])], new], ignore_index=True)
    rest = [c for c in table.columns if c not in ["name", "set", "about", *COLUMNS]]
    table = table[["name", "set", "about", *[c for c in COLUMNS if c in table.columns], *rest]]
    table.to_csv(OUT, index=False)


def choose(table: pd.DataFrame) -> pd.DataFrame:
    """Per method, setting and seed, the rate with the highest validation mAP averaged over the
    code lengths swept (runs of other seeds than 0 measure the spread; they are chosen apart)."""
    sweep = table[table["name"].astype(str).str.startswith(PREFIX)].copy()
    sweep["validation_map"] = pd.to_numeric(sweep["validation_map"])
    sweep["setting"] = sweep["setting"].fillna("") if "setting" in sweep else ""
    sweep["validation"] = fill_validation(sweep)
    sweep["seed"] = pd.to_numeric(sweep["seed"]).fillna(0).astype(int)
    keys = ["method", "validation", "setting", "seed"]
    mean = sweep.groupby([*keys, "lr"])["validation_map"].mean().reset_index()
    return mean.loc[mean.groupby(keys)["validation_map"].idxmax()].reset_index(drop=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data folder (default: %(default)s)")
    p.add_argument("--method", nargs="*", default=None, help="methods (default: dsh and params `baselines`)")
    p.add_argument("--bits", type=int, nargs="*", default=[12, 48], help="code lengths (default: 12 48)")
    p.add_argument("--lr", type=float, nargs="*", default=[2e-3, 5e-3, 1.25e-2],
                   help="peak learning rates (default: the shared 5e-3 and 2.5x below and above it)")
    p.add_argument("--seed", type=int, default=0, help="student seed (default: %(default)s)")
    p.add_argument("--holdout", type=int, default=1000, help="training images held out for validation")
    p.add_argument("--val-database", type=int, default=0, metavar="N",
                   help="0: the held-out images are the queries and the training images the database; N > 0: the "
                        "last N held-out images are the database, none of them trained on (compares lengths "
                        "of training without rewarding memorised database codes)")
    p.add_argument("--set", nargs="*", default=[], metavar="METHOD.KEY=VALUE",
                   help="other keys of the method's params section or of `student`, for every run (one --method only)")
    p.add_argument("--rerun", action="store_true", help="run again the rows already recorded")
    p.add_argument("--record-only", action="store_true", help="run nothing; print the choice")
    a = p.parse_args()
    params = load_params(ROOT / a.params)
    methods = a.method or ["dsh", *params["baselines"]]
    if a.set and len(methods) != 1:
        sys.exit(f"--set needs exactly one --method (got {', '.join(methods)})")
    settings = parse_settings(methods[0], params, a.set) if a.set else {}
    done = set(pd.read_csv(OUT)["name"]) if OUT.exists() else set()
    if not a.record_only:
        with tempfile.TemporaryDirectory() as tmp:
            data = validation_split(ROOT / a.data, Path(tmp) / "validation", a.holdout, params["data"]["split_seed"],
                                    a.val_database)
            for method in methods:
                for bits in a.bits:
                    for lr in a.lr:
                        if f"{PREFIX}{run_name(method, bits, lr, settings, a.val_database, a.seed)}" in done and not a.rerun:
                            continue
                        save([one_run(params, method, bits, lr, a.seed, data, a.holdout, settings, a.val_database)])
    best = choose(pd.read_csv(OUT))
    print("best rate per method (mean validation mAP over the code lengths swept):")
    print(best.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
