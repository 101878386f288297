# Stage 6: mAP, precision@N, precision-recall, radius precision (dth/evaluate.py).
# numpy only, one thread: these run in parallel with each other.


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
        codes=codes_file,
        declared=evaluate_params,
        file=PARAMS,
    log:
        "logs/evaluate/{name}.log",
    threads: 1
    shell:
        "dth evaluate --params {params.file} --codes {params.codes}"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"
