"""The `dth` command: one subcommand per pipeline stage.

    dth prepare                      # fetch + split the dataset named in params.yaml
    dth train-teacher                # ResNet teacher, one hash head per k
    dth train-student --bits 12 --method dth
    dth ternarize --bits 12 --t 0.05
    dth encode --model models/student-dth-12.pt --out codes/dth-12.npz
    dth evaluate --codes codes/dth-12.npz
    dth report
    dth search --codes codes/dth-12.npz --query-index 0 1 2

`dth <stage> --help` explains each one. Each stage reads its own section of
params.yaml (`--params` to use another file) and takes its input and output paths
as arguments, so that dvc.yaml and the Snakefile run the same commands.
Bad input exits with status 2 and one line naming the file, key or value.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module in the dth package, one-line help). Modules are imported
# only when their subcommand runs, so `dth --help` does not pay for importing torch.
STAGES = {
    "prepare": ("prepare", "fetch and split the dataset into query / train / database (params: data)"),
    "train-teacher": ("train_teacher", "train the ResNet teacher with one hash head per code length (params: teacher)"),
    "train-student": ("train_student", "train a DSH student, as the baseline (dsh) or distilled (dth) (params: student, dsh, distill)"),
    "ternarize": ("ternarize", "fine-tune the DTH student with ternary (TTQ) weights and export it packed (params: quantize)"),
    "encode": ("encode", "encode the query and database sets to packed binary codes (params: encode)"),
    "evaluate": ("evaluate", "mAP, precision@N, precision-recall and radius precision of a codes file (params: evaluate)"),
    "report": ("report", "render the tables, figures and REPORT.md from the evaluated artifacts"),
    "search": ("search", "Hamming search of the database codes with faiss; print or draw the top hits (params: search)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", metavar="STAGE")
    sub.required = True
    for name, (module, help_text) in STAGES.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or argv[0].startswith("-"):
        parser.parse_args(argv)  # prints help / usage and exits
        return 2
    name = argv[0]
    if name not in STAGES:
        parser.parse_args(argv)  # argparse names the valid choices and exits 2
        return 2
    module_name, help_text = STAGES[name]
    module = importlib.import_module(f"dth.{module_name}")
    stage_parser = argparse.ArgumentParser(
        prog=f"dth {name}", description=module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(stage_parser)
    args = stage_parser.parse_args(argv[1:])

    from dth.errors import DthError
    from dth.params import ParamsError
    try:
        return int(module.main(args) or 0)
    except (DthError, ParamsError) as e:
        print(f"dth {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dth {name}: interrupted; nothing partial was left in place of the outputs", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
