# Stage 4: ternary fine-tuning of the DTH student of seed `seed` (dth/ternarize.py),
# for every (layers, k, t) in MODELS: quantize.layers x bits x quantize.t, plus
# quantize.compare_layers x bits at quantize.compare_t.


rule ternarize:
    input:
        "data/prepared",
        f"models/dth-{{bits}}-s{SEED}.pt",
        "models/teacher-train-hash.npz",
        "dth/ternarize.py",
        "dth/ternary.py",
        "dth/train.py",
        "dth/losses.py",
    output:
        model="models/ttq-{layers}-{bits}-t{t}.pt",
        packed="models/ttq-{layers}-{bits}-t{t}.npz",
        report="results/ternary/ttq-{layers}-{bits}-t{t}.json",
        curve="results/plots/train/ttq-{layers}-{bits}-t{t}.csv",
    log:
        "logs/ternarize/ttq-{layers}-{bits}-t{t}.log",
    benchmark:
        "benchmarks/ternarize/ttq-{layers}-{bits}-t{t}.tsv"
    threads: workflow.cores
    shell:
        "dth ternarize --params {PARAMS} --bits {wildcards.bits} --t {wildcards.t} --layers {wildcards.layers}"
        f" --student models/dth-{{wildcards.bits}}-s{SEED}.pt --teacher-outputs models/teacher-train-hash.npz"
        " --data data/prepared --out {output.model} --packed {output.packed}"
        " --report {output.report} --curve {output.curve} 2> {log}"
