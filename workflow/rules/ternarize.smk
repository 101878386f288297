# Stage 4: ternary fine-tuning of the DTH student of seed `seed` (dth/ternarize.py),
# for every (layers, k, t) in MODELS: quantize.layers x bits x quantize.t, plus
# quantize.compare_layers x bits at quantize.compare_t. The layer set and t are in each
# job's output name; the declared params are the fine-tuning's own (no list of t: a
# new threshold adds jobs and reruns none of the others).


rule ternarize:
    input:
        "data/prepared",
        "models/teacher-train-hash.npz",
        code_deps("ternarize"),
        student=f"models/{student_name('dth', '{bits}', SEED)}.pt",
    output:
        model=f"models/{TERNARY_MODEL}.pt",
        packed=f"models/{TERNARY_MODEL}.npz",
        report=f"results/ternary/{TERNARY_MODEL}.json",
        curve=f"results/plots/train/{TERNARY_MODEL}.csv",
    params:
        **stage_params("ternarize"),
    log:
        f"logs/ternarize/{TERNARY_MODEL}.log",
    benchmark:
        f"benchmarks/ternarize/{TERNARY_MODEL}.tsv"
    threads: workflow.cores
    shell:
        "dth ternarize --params {params.file} --bits {wildcards.bits} --t {wildcards.t} --layers {wildcards.layers}"
        " --student {input.student} --teacher-outputs models/teacher-train-hash.npz"
        " --data data/prepared --out {output.model} --packed {output.packed}"
        " --report {output.report} --curve {output.curve} 2> {log}"
