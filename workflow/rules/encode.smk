# Stage 5 for the teacher: packed binary codes of the query and database sets (dth/encode.py),
# every hash head in one pass over the images. The students and the ternary models are
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
