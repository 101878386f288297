# Stage 6: mAP, precision@N, precision-recall, radius precision (dth/evaluate.py).
# numpy only, one thread: these run in parallel with each other.


def codes_of(wildcards):
    name = wildcards.name
    return "codes/teacher" if name.startswith("teacher-") else f"codes/{name}.npz"


def codes_file(name):
    return f"codes/teacher/{name}.npz" if name.startswith("teacher-") else f"codes/{name}.npz"


rule evaluate:
    input:
        codes_of,
        "dth/evaluate.py",
        "dth/metrics.py",
    output:
        metrics="results/metrics/{name}.json",
        pr="results/plots/pr/{name}.csv",
        pn="results/plots/pn/{name}.csv",
    params:
        codes=lambda wildcards: codes_file(wildcards.name),
    log:
        "logs/evaluate/{name}.log",
    threads: 1
    shell:
        "dth evaluate --params {PARAMS} --codes {params.codes}"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"
