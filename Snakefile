# The DAG for Snakemake: `snakemake --cores 8` runs it on params.yaml; a preset with
# `snakemake --cores 8 --configfile configs/cifar10.yaml`. The same stages, commands and
# output paths as dvc.yaml (tests/test_dag.py checks that the two agree).
# Rules live in workflow/rules/, one file per stage; each job logs to logs/<rule>/.

configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/ternarize.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/service.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/REPORT.md",
        "results/gallery",
