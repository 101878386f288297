# Stage 7: the tables, figures and REPORT.md (dth/report.py).

GALLERY_CODES = f"codes/{student_name('dth', BITS[0], SEED)}.npz"  # the gallery's queries


rule report:
    input:
        expand("results/metrics/{name}.json", name=MODELS),
        "results/metrics/teacher.json",
        expand("results/plots/pr/{name}.csv", name=MODELS),
        expand("results/plots/pn/{name}.csv", name=MODELS),
        expand("results/plots/train/{name}.csv", name=["teacher"] + STUDENTS + TERNARY + BACKBONES),
        expand("results/ternary/{name}.json", name=TERNARY),
        expand("results/speed/{name}.json", name=["teacher"] + STUDENTS + TERNARY + BACKBONES),
        GALLERY_CODES,
        "results/experiments.csv",
        code_deps("report"),
    output:
        tables=directory("results/tables"),
        figures=directory("results/figures"),
        report="results/REPORT.md",
        summary="results/summary.json",
    params:
        **stage_params("report"),
    log:
        "logs/report/report.log",
    threads: 1
    shell:
        "dth report --params {params.file} --results results --data data/prepared"
        f" --gallery-codes {GALLERY_CODES} --attempts results/experiments.csv"
        " --out results 2> {log}"
