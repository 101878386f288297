# Shared by every rule: the params file the `dth` commands read, its validation, and
# the lists of models the run makes.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # the dth package of this checkout
from dth.params import validate  # noqa: E402  (the schema of params.yaml)

# A preset given with --configfile is a complete params file: the commands read it.
PARAMS = workflow.overwrite_configfiles[-1] if workflow.overwrite_configfiles else "params.yaml"
PARAMS = str(Path(PARAMS).relative_to(Path.cwd())) if Path(PARAMS).is_absolute() else str(PARAMS)
validate(config, source=PARAMS)

BITS = config["bits"]
SEEDS = config["seeds"]
SEED = config["seed"]  # the seed whose DTH students are ternarised
Q = config["quantize"]
LAYERS, COMPARE_LAYERS, COMPARE_T = Q["layers"], Q["compare_layers"], Q["compare_t"]

STUDENTS = expand("{method}-{bits}-s{seed}", method=["dsh", "dth"], bits=BITS, seed=SEEDS)
TERNARY = expand("ttq-{layers}-{bits}-t{t}", layers=LAYERS, bits=BITS, t=Q["t"]) + expand(
    "ttq-{layers}-{bits}-t{t}", layers=COMPARE_LAYERS, bits=BITS, t=COMPARE_T
)
TEACHERS = expand("teacher-{bits}", bits=BITS)
MODELS = TEACHERS + STUDENTS + TERNARY  # every model that is encoded and evaluated


wildcard_constraints:
    method="dsh|dth",
    bits=r"\d+",
    seed=r"\d+",
    layers=r"fc|fc\+conv|all",
    t=r"[0-9.e-]+",
