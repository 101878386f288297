# Stage 1: fetch and split the dataset (dth/prepare.py).


rule prepare:
    input:
        code_deps("prepare"),
    output:
        directory("data/prepared"),
    params:
        **stage_params("prepare"),
    log:
        "logs/prepare/prepare.log",
    threads: workflow.cores
    shell:
        "dth prepare --params {params.file} --out {output} 2> {log}"
