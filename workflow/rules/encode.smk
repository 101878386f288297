# Stage 5 for the teacher and the compared methods on its network: packed binary codes of the
# query and database sets (dth/encode.py), every hash head in one pass over the images. The students and the ternary models are
# encoded by their evaluate jobs (workflow/rules/evaluate.smk).


rule encode_teacher:
    input:
        "data/prepared",
        "models/teacher.pt",
        code_deps("encode_teacher"),
    output:
        codes=directory("codes/teacher"),
        speed="results/speed/teacher.json",
    params:
        **stage_params("encode_teacher"),
    log:
        "logs/encode/teacher.log",
    threads: workflow.cores
    shell:
        "dth encode --params {params.file} --model models/teacher.pt --data data/prepared"
        " --out codes/teacher/teacher-{{bits}}.npz --speed {output.speed} 2> {log}"


rule encode_backbone:
    input:
        "data/prepared",
        model=f"models/{BACKBONE}.pt",
        code=code_deps("encode_backbone"),
    output:
        codes=directory(f"codes/{BACKBONE}"),
        speed=f"results/speed/{BACKBONE}.json",
    params:
        **stage_params("encode_backbone"),
    log:
        f"logs/encode/{BACKBONE}.log",
    threads: workflow.cores
    shell:
        "dth encode --params {params.file} --model {input.model} --data data/prepared"
        f" --out codes/{BACKBONE_JOB}/{BACKBONE_JOB}-{{{{bits}}}}.npz --speed {{output.speed}} 2> {{log}}"
