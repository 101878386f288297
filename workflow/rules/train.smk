# Stages 2 and 3: the teacher (dth/train_teacher.py), the students (dth/train_student.py) and
# the compared methods on the teacher's network (dth/train_backbone.py, params `backbone_methods`).
# DSH and the compared methods (params `baselines`) need no teacher: their jobs (rule train_student;
# DVC's train_student_dsh and train_student) neither wait for it nor rerun when it changes; each
# reruns when `student` or its own section changes.
# Training jobs take every core: one at a time, as under `dvc repro`, so both give the
# same weights.

TEACHER_OUTPUTS = ["models/teacher.pt", "models/teacher-train-hash.npz"]


rule train_teacher:
    input:
        "data/prepared",
        code_deps("train_teacher"),
    output:
        model="models/teacher.pt",
        train_outputs="models/teacher-train-hash.npz",
        curve="results/plots/train/teacher.csv",
        metrics="results/metrics/teacher.json",
    params:
        **stage_params("train_teacher"),
    log:
        "logs/train_teacher/teacher.log",
    benchmark:
        "benchmarks/train_teacher/teacher.tsv"
    threads: workflow.cores
    shell:
        "dth train-teacher --params {params.file} --data data/prepared"
        " --out {output.model} --train-outputs {output.train_outputs}"
        " --curve {output.curve} --metrics {output.metrics} 2> {log}"


rule train_student:
    input:
        "data/prepared",
        code_deps("train_student"),
    output:
        model=f"models/{STUDENT}.pt",
        curve=f"results/plots/train/{STUDENT}.csv",
    wildcard_constraints:
        method=WITHOUT_TEACHER_PATTERN,
    params:
        declared=method_params("train_student"),
        file=PARAMS,
    log:
        f"logs/train_student/{STUDENT}.log",
    benchmark:
        f"benchmarks/train_student/{STUDENT}.tsv"
    threads: workflow.cores
    shell:
        "dth train-student --params {params.file} --bits {wildcards.bits} --method {wildcards.method}"
        " --seed {wildcards.seed} --data data/prepared"
        " --out {output.model} --curve {output.curve} 2> {log}"


rule train_student_dth:
    input:
        "data/prepared",
        TEACHER_OUTPUTS,
        code_deps("train_student_dth"),
    output:
        model=f"models/{DTH_STUDENT}.pt",
        curve=f"results/plots/train/{DTH_STUDENT}.csv",
    params:
        **stage_params("train_student_dth"),
    log:
        f"logs/train_student/{DTH_STUDENT}.log",
    benchmark:
        f"benchmarks/train_student/{DTH_STUDENT}.tsv"
    threads: workflow.cores
    shell:
        "dth train-student --params {params.file} --bits {wildcards.bits} --method dth"
        " --seed {wildcards.seed} --data data/prepared --teacher models/teacher.pt"
        " --teacher-outputs models/teacher-train-hash.npz"
        " --out {output.model} --curve {output.curve} 2> {log}"


rule train_backbone:
    input:
        "data/prepared",
        code_deps("train_backbone"),
    output:
        model=f"models/{BACKBONE}.pt",
        curve=f"results/plots/train/{BACKBONE}.csv",
    params:
        declared=method_params("train_backbone"),
        file=PARAMS,
    log:
        f"logs/train_backbone/{BACKBONE}.log",
    benchmark:
        f"benchmarks/train_backbone/{BACKBONE}.tsv"
    threads: workflow.cores
    shell:
        "dth train-backbone --params {params.file} --method {wildcards.method} --data data/prepared"
        " --out {output.model} --curve {output.curve} 2> {log}"
