# The retrieval service's costs (params `service`): claim 7, search time and mAP of packed codes
# against real-valued features (dth/service_search.py; the teacher once, each DTH student of
# `seed` per k), and one query end to end (dth/service_latency.py, per k). Timing jobs take the
# whole machine (threads: workflow.cores) so that nothing runs beside them; each times on one
# thread.

SERVICE_T = config["service"]["ternary_t"]
SERVICE_OUTPUTS = [
    "results/service/quality/teacher.json", "results/service/search/teacher.json",
    "results/service/curves/teacher.csv",
    *expand("results/service/quality/dth-{bits}.json", bits=BITS),
    *expand("results/service/search/dth-{bits}.json", bits=BITS),
    *expand("results/service/curves/dth-{bits}.csv", bits=BITS),
    *expand("results/service/latency/{bits}.json", bits=BITS),
]


rule service_search_teacher:
    input:
        "data/prepared",
        "models/teacher.pt",
        code_deps("service_search_teacher"),
    output:
        quality="results/service/quality/teacher.json",
        timings="results/service/search/teacher.json",
        curve="results/service/curves/teacher.csv",
    params:
        **stage_params("service_search_teacher"),
    log:
        "logs/service/search-teacher.log",
    threads: workflow.cores
    shell:
        "dth service-search --params {params.file} --data data/prepared --model teacher --teacher models/teacher.pt"
        " --quality {output.quality} --timings {output.timings} --curve {output.curve} 2> {log}"


rule service_search_student:
    input:
        "data/prepared",
        code_deps("service_search_student"),
        student=f"models/{student_name('dth', '{bits}', SEED)}.pt",
    output:
        quality="results/service/quality/dth-{bits}.json",
        timings="results/service/search/dth-{bits}.json",
        curve="results/service/curves/dth-{bits}.csv",
    params:
        **stage_params("service_search_student"),
    log:
        "logs/service/search-dth-{bits}.log",
    threads: workflow.cores
    shell:
        "dth service-search --params {params.file} --data data/prepared --model dth --bits {wildcards.bits}"
        " --students {input.student} --quality {output.quality}"
        " --timings {output.timings} --curve {output.curve} 2> {log}"


rule service_latency:
    input:
        "data/prepared",
        "models/teacher.pt",
        code_deps("service_latency"),
        student=f"models/{student_name('dth', '{bits}', SEED)}.pt",
        ternary=f"models/{ternary_name(LAYERS, '{bits}', SERVICE_T)}.npz",
    output:
        "results/service/latency/{bits}.json",
    params:
        **stage_params("service_latency"),
    log:
        "logs/service/latency-{bits}.log",
    threads: workflow.cores
    shell:
        "dth service-latency --params {params.file} --data data/prepared --bits {wildcards.bits}"
        " --teacher models/teacher.pt --students {input.student} --ternary {input.ternary}"
        " --out {output} 2> {log}"
