# Stage 7: the claims' verdicts (dth/claims.py), then REPORT.md, APPENDIX.md, tables and figures
# (dth/report.py), and the retrieval gallery (dth/gallery.py).

GALLERY_CODES = f"codes/{student_name('dth', BITS[0], SEED)}.npz"  # the gallery's queries
RESULTS_INPUTS = [
    *expand("results/metrics/{name}.json", name=MODELS),
    "results/metrics/teacher.json",
    *expand("results/plots/train/{name}.csv", name=["teacher"] + STUDENTS + TERNARY + BACKBONES),
    *expand("results/ternary/{name}.json", name=TERNARY),
    *expand("results/speed/{name}.json", name=["teacher"] + STUDENTS + TERNARY + BACKBONES),
    *SERVICE_OUTPUTS,
    "results/experiments.csv",
]


rule claims:
    input:
        RESULTS_INPUTS,
        code_deps("claims"),
    output:
        claims="results/claims.json",
        summary="results/summary.json",
    params:
        **stage_params("claims"),
    log:
        "logs/claims/claims.log",
    threads: 1
    shell:
        "dth claims --params {params.file} --results results --attempts results/experiments.csv"
        " --service results/service --out results/claims.json --summary results/summary.json 2> {log}"


rule report:
    input:
        RESULTS_INPUTS,
        expand("results/plots/pr/{name}.csv", name=MODELS),
        expand("results/plots/pn/{name}.csv", name=MODELS),
        "results/claims.json",
        "results/summary.json",
        code_deps("report"),
    output:
        tables=directory("results/tables"),
        figures=directory("results/figures"),
        report="results/REPORT.md",
        appendix="results/APPENDIX.md",
    params:
        **stage_params("report"),
    log:
        "logs/report/report.log",
    threads: 1
    shell:
        "dth report --params {params.file} --results results --claims results/claims.json"
        " --service results/service --attempts results/experiments.csv --out results 2> {log}"


rule gallery:
    input:
        "data/prepared",
        GALLERY_CODES,
        code_deps("gallery"),
    output:
        directory("results/gallery"),
    params:
        **stage_params("gallery"),
    log:
        "logs/gallery/gallery.log",
    threads: 1
    shell:
        "dth gallery --params {params.file} --data data/prepared --codes {GALLERY_CODES}"
        " --out results/gallery/gallery.png 2> {log}"
