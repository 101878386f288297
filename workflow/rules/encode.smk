# Stage 5: packed binary codes of the query and database sets (dth/encode.py).
# The teacher encodes every hash head in one pass over the images.


rule encode_teacher:
    input:
        "data/prepared",
        "models/teacher.pt",
        "dth/encode.py",
        "dth/hamming.py",
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


rule encode_student:
    input:
        "data/prepared",
        "models/{method}-{bits}-s{seed}.pt",
        "dth/encode.py",
        "dth/hamming.py",
    output:
        codes="codes/{method}-{bits}-s{seed}.npz",
        speed="results/speed/{method}-{bits}-s{seed}.json",
    params:
        **stage_params("encode_student"),
    log:
        "logs/encode/{method}-{bits}-s{seed}.log",
    threads: workflow.cores
    shell:
        "dth encode --params {params.file} --model models/{wildcards.method}-{wildcards.bits}-s{wildcards.seed}.pt"
        " --data data/prepared --out {output.codes} --speed {output.speed} 2> {log}"


rule encode_ternary:
    input:
        "data/prepared",
        "models/ttq-{layers}-{bits}-t{t}.npz",
        "dth/encode.py",
        "dth/hamming.py",
        "dth/ternary.py",
    output:
        codes="codes/ttq-{layers}-{bits}-t{t}.npz",
        speed="results/speed/ttq-{layers}-{bits}-t{t}.json",
    params:
        **stage_params("encode_ternary"),
    log:
        "logs/encode/ttq-{layers}-{bits}-t{t}.log",
    threads: workflow.cores
    shell:
        "dth encode --params {params.file} --model models/ttq-{wildcards.layers}-{wildcards.bits}-t{wildcards.t}.npz"
        " --data data/prepared --out {output.codes} --speed {output.speed} 2> {log}"
