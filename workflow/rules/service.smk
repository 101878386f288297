# The retrieval service's costs (dth/service.py, params `service`): claim 7's search time and mAP of
# packed codes against real-valued features, and one query's encoding at batch size 1; the teacher
# once, then each DTH student of `seed` (with its ternary version) per k. Timing jobs take the whole
# machine (threads: workflow.cores) so that nothing runs beside them; each times on one thread.

SERVICE_T = config["service"]["ternary_t"]
SERVICE_OUTPUTS = [
    f"results/service/{kind}/{name}.{ext}"
    for name in ["teacher", *[f"dth-{k}" for k in BITS]]
    for kind, ext in (("quality", "json"), ("search", "json"), ("curves", "csv"), ("latency", "json"))
]


rule service_teacher:
    input:
        "data/prepared",
        "models/teacher.pt",
        code_deps("service_teacher"),
    output:
        quality="results/service/quality/teacher.json",
        timings="results/service/search/teacher.json",
        curve="results/service/curves/teacher.csv",
        latency="results/service/latency/teacher.json",
    params:
        **stage_params("service_teacher"),
    log:
        "logs/service/teacher.log",
    threads: workflow.cores
    shell:
        "dth service --params {params.file} --data data/prepared --model teacher --teacher models/teacher.pt"
        " --quality {output.quality} --timings {output.timings} --curve {output.curve}"
        " --latency {output.latency} 2> {log}"


rule service_student:
    input:
        "data/prepared",
        code_deps("service_student"),
        student=f"models/{student_name('dth', '{bits}', SEED)}.pt",
        ternary=f"models/{ternary_name(LAYERS, '{bits}', SERVICE_T)}.npz",
    output:
        quality="results/service/quality/dth-{bits}.json",
        timings="results/service/search/dth-{bits}.json",
        curve="results/service/curves/dth-{bits}.csv",
        latency="results/service/latency/dth-{bits}.json",
    params:
        **stage_params("service_student"),
    log:
        "logs/service/dth-{bits}.log",
    threads: workflow.cores
    shell:
        "dth service --params {params.file} --data data/prepared --model dth --bits {wildcards.bits}"
        " --students {input.student} --ternary {input.ternary} --quality {output.quality}"
        " --timings {output.timings} --curve {output.curve} --latency {output.latency} 2> {log}"
