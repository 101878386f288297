# Stages 5 and 6: mAP, precision@N, precision-recall, radius precision (dth/evaluate.py).
# A student or ternary model is encoded into its codes file and evaluated by one job
# (`dth evaluate --model`); the teacher's heads are evaluated from codes/teacher.


rule evaluate_teacher:
    input:
        "codes/teacher",
        code_deps("evaluate_teacher"),
    output:
        metrics="results/metrics/teacher-{bits}.json",
        pr="results/plots/pr/teacher-{bits}.csv",
        pn="results/plots/pn/teacher-{bits}.csv",
    params:
        **stage_params("evaluate_teacher"),
    log:
        "logs/evaluate/teacher-{bits}.log",
    threads: 1
    shell:
        "dth evaluate --params {params.file} --codes codes/teacher/teacher-{wildcards.bits}.npz"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"


rule evaluate_student:
    input:
        "data/prepared",
        model="models/{method}-{bits}-s{seed}.pt",
        code=code_deps("evaluate_student"),
    output:
        codes="codes/{method}-{bits}-s{seed}.npz",
        speed="results/speed/{method}-{bits}-s{seed}.json",
        metrics="results/metrics/{method}-{bits}-s{seed}.json",
        pr="results/plots/pr/{method}-{bits}-s{seed}.csv",
        pn="results/plots/pn/{method}-{bits}-s{seed}.csv",
    params:
        **stage_params("evaluate_student"),
    log:
        "logs/evaluate/{method}-{bits}-s{seed}.log",
    threads: workflow.cores
    shell:
        "dth evaluate --params {params.file} --model {input.model} --data data/prepared"
        " --codes {output.codes} --speed {output.speed}"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"


rule evaluate_ternary:
    input:
        "data/prepared",
        model="models/ttq-{layers}-{bits}-t{t}.npz",
        code=code_deps("evaluate_ternary"),
    output:
        codes="codes/ttq-{layers}-{bits}-t{t}.npz",
        speed="results/speed/ttq-{layers}-{bits}-t{t}.json",
        metrics="results/metrics/ttq-{layers}-{bits}-t{t}.json",
        pr="results/plots/pr/ttq-{layers}-{bits}-t{t}.csv",
        pn="results/plots/pn/ttq-{layers}-{bits}-t{t}.csv",
    params:
        **stage_params("evaluate_ternary"),
    log:
        "logs/evaluate/ttq-{layers}-{bits}-t{t}.log",
    threads: workflow.cores
    shell:
        "dth evaluate --params {params.file} --model {input.model} --data data/prepared"
        " --codes {output.codes} --speed {output.speed}"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"
