"""The `dth` command: one subcommand per pipeline stage.

    dth prepare                                  # fetch + split the dataset of params.yaml
    dth train-teacher                            # ResNet teacher, one hash head per k
    dth train-student --bits 12 --method dth --seed 0 --out models/dth-12-s0.pt
    dth train-backbone --method greedyhash --out models/greedyhash-resnet18.pt --curve results/plots/train/greedyhash-resnet18.csv
    dth ternarize --bits 12 --t 0.05 --out models/ttq-fc-12-t0.05.pt
    dth encode --model models/dth-12-s0.pt --out codes/dth-12-s0.npz
    dth evaluate --codes codes/dth-12-s0.npz     # -> results/metrics/dth-12-s0.json
    dth claims                                   # -> results/claims.json, results/summary.json
    dth report                                   # -> results/REPORT.md, APPENDIX.md, tables/, figures/
    dth gallery --codes codes/dth-12-s0.npz      # -> results/gallery/gallery.png
    dth search --codes codes/dth-12-s0.npz --query-index 0 1 2

Model names (docs/artifacts.md): teacher-<k>, dsh-<k>-s<seed>, dth-<k>-s<seed>,
ttq-<layers>-<k>-t<t>, <method>-<arch>-<k>; `dvc repro` or `snakemake --cores 8` runs every stage in order.

`dth <stage> --help` explains each one. Each stage reads its own section of
params.yaml (`--params` to use another file) and takes its input and output paths
as arguments, so that dvc.yaml and the Snakefile run the same commands.
Bad input exits with status 2 and one line naming the file, key or value.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dth import __version__

# subcommand -> (module in the dth package, one-line help). Modules are imported
# only when their subcommand runs, so `dth --help` does not pay for importing torch.
STAGES = {
    "prepare": ("prepare", "fetch and split the dataset into query / train / database (params: data)"),
    "train-teacher": ("train_teacher", "train the ResNet teacher with one hash head per code length (params: teacher)"),
    "train-student": ("train_student", "train a DSH student, as the baseline (dsh) or distilled (dth) (params: student, dsh, distill)"),
    "train-backbone": ("train_backbone", "train a compared method on the teacher's network, for claim 6 (params: teacher, backbone_methods)"),
    "ternarize": ("ternarize", "fine-tune the DTH student with ternary (TTQ) weights and export it packed (params: quantize)"),
    "encode": ("encode", "encode the query and database sets to packed binary codes (params: encode)"),
    "evaluate": ("evaluate", "mAP, precision@N, precision-recall and radius precision of a codes file (params: evaluate)"),
    "claims": ("claims", "judge the paper's claims from the evaluated artifacts: results/claims.json, summary.json (params: claims)"),
    "report": ("report", "render REPORT.md, APPENDIX.md, the tables and figures from the claims and the artifacts"),
    "gallery": ("gallery", "draw the retrieval gallery: query images and their top 10 by Hamming distance"),
    "search": ("search", "Hamming search of the database codes with faiss; print or draw the top hits (params: search)"),
    "service": ("service", "what a retrieval service feels, one model per process: search (claim 7) and one query's latency (params: service)"),
    "service-search": ("service_search", "claim 7: one-query search times of binary codes vs real vectors, 10k-1M items (params: service)"),
    "service-latency": ("service_latency", "one image to its code at batch size 1, one thread; FLOPs and the ternary bound (params: service)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dth {__version__}")
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
    from dth.timing import write_record
    status = 1
    try:
        status = int(module.main(args) or 0)
    except (DthError, ParamsError) as e:
        print(f"dth {name}: error: {e}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print(f"dth {name}: interrupted; nothing partial was left in place of the outputs", file=sys.stderr)
        status = 130
    finally:
        write_record(name, argv, status)  # logs/timings.jsonl: where this process's time went
    return status


if __name__ == "__main__":
    sys.exit(main())
