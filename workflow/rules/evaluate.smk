# Stages 5 and 6: mAP, precision@N, precision-recall, radius precision (dth/evaluate.py).
# A student or ternary model is encoded into its codes file and evaluated by one job
# (`dth evaluate --model`); the teacher's heads are evaluated from codes/teacher, those of the
# compared methods on its network from codes/<method>-<arch>.


rule evaluate_teacher:
    input:
        "codes/teacher",
        code_deps("evaluate_teacher"),
    output:
        metrics=f"results/metrics/{TEACHER_HEAD}.json",
        pr=f"results/plots/pr/{TEACHER_HEAD}.csv",
        pn=f"results/plots/pn/{TEACHER_HEAD}.csv",
    params:
        **stage_params("evaluate_teacher"),
    log:
        f"logs/evaluate/{TEACHER_HEAD}.log",
    threads: 1
    shell:
        "dth evaluate --params {params.file} --codes codes/teacher/teacher-{wildcards.bits}.npz"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"


rule evaluate_student:
    input:
        "data/prepared",
        model=f"models/{STUDENT}.pt",
        code=code_deps("evaluate_student"),
    output:
        codes=f"codes/{STUDENT}.npz",
        speed=f"results/speed/{STUDENT}.json",
        metrics=f"results/metrics/{STUDENT}.json",
        pr=f"results/plots/pr/{STUDENT}.csv",
        pn=f"results/plots/pn/{STUDENT}.csv",
    params:
        **stage_params("evaluate_student"),
    log:
        f"logs/evaluate/{STUDENT}.log",
    threads: workflow.cores
    shell:
        "dth evaluate --params {params.file} --model {input.model} --data data/prepared"
        " --codes {output.codes} --speed {output.speed}"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"


rule evaluate_ternary:
    input:
        "data/prepared",
        model=f"models/{TERNARY_MODEL}.npz",
        code=code_deps("evaluate_ternary"),
    output:
        codes=f"codes/{TERNARY_MODEL}.npz",
        speed=f"results/speed/{TERNARY_MODEL}.json",
        metrics=f"results/metrics/{TERNARY_MODEL}.json",
        pr=f"results/plots/pr/{TERNARY_MODEL}.csv",
        pn=f"results/plots/pn/{TERNARY_MODEL}.csv",
    params:
        **stage_params("evaluate_ternary"),
    log:
        f"logs/evaluate/{TERNARY_MODEL}.log",
    threads: workflow.cores
    shell:
        "dth evaluate --params {params.file} --model {input.model} --data data/prepared"
        " --codes {output.codes} --speed {output.speed}"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"


rule evaluate_backbone:
    input:
        f"codes/{BACKBONE}",
        code_deps("evaluate_backbone"),
    output:
        metrics=f"results/metrics/{BACKBONE_HEAD}.json",
        pr=f"results/plots/pr/{BACKBONE_HEAD}.csv",
        pn=f"results/plots/pn/{BACKBONE_HEAD}.csv",
    params:
        **stage_params("evaluate_backbone"),
    log:
        f"logs/evaluate/{BACKBONE_HEAD}.log",
    threads: 1
    shell:
        f"dth evaluate --params {{params.file}} --codes codes/{BACKBONE_JOB}/{BACKBONE_HEAD_JOB}.npz"
        " --out {output.metrics} --pr {output.pr} --pn {output.pn} 2> {log}"
