# Stages 2 and 3: the teacher (dth/train_teacher.py) and the students (dth/train_student.py).
# Training jobs take every core: one at a time, as under `dvc repro`, so both give the
# same weights.


rule train_teacher:
    input:
        "data/prepared",
        "dth/train_teacher.py",
        "dth/train.py",
        "dth/losses.py",
        "dth/models.py",
    output:
        model="models/teacher.pt",
        train_outputs="models/teacher-train-hash.npz",
        curve="results/plots/train/teacher.csv",
    log:
        "logs/train_teacher/teacher.log",
    benchmark:
        "benchmarks/train_teacher/teacher.tsv"
    threads: workflow.cores
    shell:
        "dth train-teacher --params {PARAMS} --data data/prepared"
        " --out {output.model} --train-outputs {output.train_outputs}"
        " --curve {output.curve} 2> {log}"


rule train_student:
    input:
        "data/prepared",
        "models/teacher.pt",
        "models/teacher-train-hash.npz",
        "dth/train_student.py",
        "dth/train.py",
        "dth/losses.py",
        "dth/models.py",
    output:
        model="models/{method}-{bits}-s{seed}.pt",
        curve="results/plots/train/{method}-{bits}-s{seed}.csv",
    log:
        "logs/train_student/{method}-{bits}-s{seed}.log",
    benchmark:
        "benchmarks/train_student/{method}-{bits}-s{seed}.tsv"
    threads: workflow.cores
    shell:
        "dth train-student --params {PARAMS} --bits {wildcards.bits} --method {wildcards.method}"
        " --seed {wildcards.seed} --data data/prepared --teacher models/teacher.pt"
        " --teacher-outputs models/teacher-train-hash.npz"
        " --out {output.model} --curve {output.curve} 2> {log}"
