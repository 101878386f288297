"""dth report's Attempts section: the recorded experiments beside the run's own numbers, and the
convergence verdict of the doubled-epochs attempt (no mean mAP moving by more than 1 point)."""

import numpy as np
import pandas as pd
import pytest

from dth.names import student_name
from dth.report import attempts_section

SUMMARY = {"teacher_accuracy": 0.9, "teacher_map": {"12": 0.80, "48": 0.82},
           "dsh_map": {"12": 0.75, "48": 0.77}, "dth_map": {"12": 0.78, "48": 0.80}}


def markdown_rows(text):
    """The cells of every pipe-table row of `text` (separator rows left out)."""
    return [[c.strip() for c in line.strip()[1:-1].split("|")] for line in text.splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")]


def write_attempts(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def attempt(name, dsh12):
    return {"name": name, "set": "student.epochs=80", "about": "why", "teacher_accuracy": 0.9,
            "teacher_map.12": 0.80, "teacher_map.48": 0.82, "dsh_map.12": dsh12, "dsh_map.48": 0.77,
            "dth_map.12": 0.785, "dth_map.48": 0.80}


@pytest.mark.parametrize("dsh12, converged, worst", [(0.759, "yes", "+0.90"), (0.735, "no", "-1.50")])
def test_doubled_epochs_verdict_names_the_largest_change(tmp_path, dsh12, converged, worst):
    path = write_attempts(tmp_path / "experiments.csv", [attempt("doubled-epochs", dsh12), attempt("other", 0.5)])
    text = attempts_section(path, SUMMARY)
    assert f"**Converged: {converged}.**" in text
    assert f"largest: dsh at k=12, {worst}" in text
    # one row for this run, one per attempt, in percent
    assert "| this run" in text and "| doubled-epochs" in text and "| other" in text
    table = markdown_rows(text)
    header = table[0]
    this_run = next(r for r in table if r[0] == "this run")
    assert this_run[header.index("dsh mAP k=12")] == "75"  # this run's DSH mAP at 12 bits, in percent
    assert "`doubled-epochs`: why" in text  # each attempt's purpose, below the table


def test_no_verdict_without_a_doubled_epochs_attempt(tmp_path):
    text = attempts_section(write_attempts(tmp_path / "a.csv", [attempt("other", 0.5)]), SUMMARY)
    assert "Converged" not in text and "| other" in text


def test_the_doubled_epochs_attempt_doubles_every_epoch_count_of_params_yaml():
    """workflow/attempts.yaml spells the doubled values out; they must follow params.yaml."""
    import yaml
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((root / "params.yaml").read_text())
    attempts = yaml.safe_load((root / "workflow" / "attempts.yaml").read_text())["attempts"]
    doubled = next(a for a in attempts if a["name"] == "doubled-epochs")
    sets = dict(kv.split("=", 1) for kv in doubled["set"])
    assert sets == {f"{section}.epochs": str(2 * params[section]["epochs"])
                    for section in ("teacher", "student", "quantize")}


# ----------------------------------------------------------------------------- claim 1 and claim 6 rules

def test_mean_difference_is_the_standard_error_of_a_difference_of_two_means():
    import numpy as np
    from dth.report import mean_difference
    a, b = np.array([0.80, 0.82, 0.84]), np.array([0.70, 0.71, 0.75])
    diff, se = mean_difference(a, b)
    assert diff == pytest.approx(100 * (a.mean() - b.mean()))
    assert se == pytest.approx(100 * np.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 3))
    assert mean_difference(np.array([0.8]), np.array([0.7]))[1] == 0.0  # one seed: no spread


@pytest.mark.parametrize("a, b, expected", [
    ([0.80, 0.81, 0.82], [0.70, 0.71, 0.72], True),      # ahead by far more than the SE
    ([0.70, 0.71, 0.72], [0.80, 0.81, 0.82], False),     # behind by far more than it
    ([0.70, 0.80, 0.75], [0.74, 0.76, 0.74], None),      # within it: a tie
])
def test_beats_holds_fails_or_ties_by_the_standard_error(a, b, expected):
    import numpy as np
    from dth.report import beats
    assert beats(np.array(a), np.array(b))[0] is expected


@pytest.mark.parametrize("flags, expected", [([True, True], True), ([False, False], False),
                                             ([True, None], None), ([True, False], None), ([], None)])
def test_a_claim_over_code_lengths_holds_only_at_every_one(flags, expected):
    from dth.report import overall
    assert overall(flags) is expected


def claim6_frame(dth, others):
    rows = []
    for family, by_k in {"dth": dth, **others}.items():
        for k, values in by_k.items():
            rows += [{"model": student_name(family, k, s), "family": family, "bits": k, "seed": s, "map": v,
                      "precision_radius": v - 0.01} for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def claim6_params():
    return {"bits": [12, 48], "seeds": [0, 1, 2], "baseline_seeds": [0, 1, 2], "seed": 0, "evaluate": {"topk": None, "radius": 2},
            "student": {"epochs": 40, "optimizer": "adam", "augment": "flip", "lr": 0.005, "weight_decay": 5e-4},
            "csq": {"lr": 0.002, "weight_decay": 5e-4, "epochs_factor": 1},
            "ce": {"lr": 0.005, "weight_decay": 5e-4, "epochs_factor": 1},
            "teacher": {"arch": "resnet18"}, "backbone_methods": []}


def test_claim6_on_the_teachers_network_from_a_recorded_attempt():
    """The default trains no method on the teacher's network: claim 6 takes those single runs from
    the last attempt that recorded them, and judges DTH's mean against each (SE of DTH's mean)."""
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85, 0.86, 0.87], 48: [0.88, 0.88, 0.89]},
                      {"dsh": {12: [0.78, 0.79, 0.80], 48: [0.79, 0.80, 0.79]},
                       "csq": {12: [0.79, 0.80, 0.80], 48: [0.80, 0.81, 0.80]}})
    recorded = pd.DataFrame([
        {"name": "older", "set": "x=1", "backbone_map.dsh.12": 0.10, "backbone_map.dsh.48": 0.10},
        {"name": "big-backbone", "set": "seeds=[0] backbone_methods=[greedyhash]", "teacher_map.12": 0.84,
         "teacher_map.48": 0.95, "backbone_map.greedyhash.12": 0.80, "backbone_map.greedyhash.48": 0.885},
        {"name": "doubled-epochs", "set": "student.epochs=80", "teacher_map.12": 0.9}])
    text, summary = comparison_claim(df, claim6_params(), None, recorded)
    # the student network: holds at both k; the teacher's: DTH beats both at 12, the teacher wins at
    # 48 and GreedyHash's 88.5 is within DTH's SE (0.33) of its mean 88.33 -> a tie
    assert "**inconclusive**" in text.splitlines()[0]
    assert "On the student network: **holds**" in text and "On the teacher's network: **inconclusive**" in text
    assert "`big-backbone`" in text and "`older`" not in text
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "| GreedyHash on resnet18 | 80.00 | 88.50 |" in rows
    assert "| CE (the teacher) on resnet18 | **84.00** | **95.00** |" in rows
    assert "| 12 | GreedyHash | +6.00 | 0.58 | holds |" in rows
    assert "| 48 | CE | -6.67 | 0.33 | does not hold |" in rows and "| 48 | GreedyHash | -0.17 | 0.33 | tie |" in rows
    assert summary["sota_backbone"]["48"]["best"] == "ce"


def test_claim6_on_the_teachers_network_from_this_runs_models():
    from dth.names import backbone_head_name
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85, 0.86, 0.87], 48: [0.88, 0.88, 0.89]},
                      {"dsh": {12: [0.78, 0.79, 0.80], 48: [0.79, 0.80, 0.79]},
                       "csq": {12: [0.79, 0.80, 0.80], 48: [0.80, 0.81, 0.80]}})
    heads = [{"model": f"teacher-{k}", "family": "teacher", "bits": k, "map": 0.80} for k in (12, 48)]
    heads += [{"model": backbone_head_name("dsh", "resnet18", k), "family": "backbone", "method": "dsh", "bits": k,
               "map": 0.70} for k in (12, 48)]
    df = pd.concat([df, pd.DataFrame(heads)], ignore_index=True)
    params = {**claim6_params(), "backbone_methods": ["dsh"]}
    text, summary = comparison_claim(df, params, None, None)
    assert "**holds**" in text.splitlines()[0] and "this run, seed 0" in text
    assert "| DSH on resnet18 | 70.00 | 70.00 |" in [" ".join(line.split()) for line in text.splitlines()]
    assert summary["sota_backbone"]["12"]["best"] == "ce"
    # without any: the claim says how to run it, and judges the student network alone
    text, summary = comparison_claim(claim6_frame({12: [0.85], 48: [0.88]}, {"dsh": {12: [0.78], 48: [0.79]},
                                                                            "csq": {12: [0.79], 48: [0.8]}}),
                                     claim6_params(), None, None)
    assert "Not run on the teacher's network" in text and "sota_backbone" not in summary


def test_claim6_verdict_per_code_length_and_the_best_other_method_in_bold():
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.82, 0.83, 0.84], 48: [0.80, 0.80, 0.81]},
                      {"dsh": {12: [0.78, 0.79, 0.80], 48: [0.79, 0.80, 0.79]},
                       "csq": {12: [0.79, 0.80, 0.80], 48: [0.84, 0.85, 0.86]},
                       "ce": {12: [0.70, 0.71, 0.72], 48: [0.78, 0.79, 0.80]}})
    text, summary = comparison_claim(df, claim6_params(), None)
    assert "**inconclusive**" in text.splitlines()[0]
    text = " ".join(text.split())  # table cells are padded  # holds at 12 bits, not at 48: not at every k
    assert "| 12 | CSQ | 79.67 |" in text and "| holds |" in text
    assert "| 48 | CSQ | 85.00 |" in text and "| does not hold |" in text
    assert summary["sota"]["12"]["best"] == "csq" and summary["sota"]["48"]["dth_minus_best"] < 0
    assert "**85.00 ± 1.00**" in text   # CSQ, best at 48 bits, in bold; DTH is never bold
    assert "**82.00" not in text
    assert "CE at 12 bits (-8.00)" in text  # more than 3 points below DSH: named
    assert "CSQ 0.002" in text and "DSH 0.005" in text  # each method's own learning rate


def test_claim6_holds_when_the_distilled_student_wins_at_every_code_length():
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85, 0.86, 0.87], 48: [0.88, 0.88, 0.89]},
                      {"dsh": {12: [0.78, 0.79, 0.80], 48: [0.79, 0.80, 0.79]},
                       "csq": {12: [0.79, 0.80, 0.80], 48: [0.80, 0.81, 0.80]}})
    text, _ = comparison_claim(df, claim6_params(), None)
    assert "**holds**" in text.splitlines()[0] and "No compared method is more than 3 points below DSH" in text


def test_claim6_shows_the_learning_rate_sweep_and_marks_the_rate_used():
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85], 48: [0.88]}, {"dsh": {12: [0.78], 48: [0.79]}, "csq": {12: [0.79], 48: [0.8]}})
    sweep = pd.DataFrame([{"name": f"lr-sweep:csq-{k}-lr{lr:g}", "method": "csq", "bits": k, "lr": lr,
                           "validation_map": v} for k, lr, v in
                          [(12, 0.002, 0.7), (48, 0.002, 0.72), (12, 0.005, 0.69), (48, 0.005, 0.70)]])
    text, _ = comparison_claim(df, claim6_params(), sweep)
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "| csq | 0.002 | 70 | 72 | 71 | yes |" in rows and "| csq | 0.005 | 69 | 70 | 69.5 | |" in rows


def test_claim6_names_a_longer_method_and_keeps_each_validation_protocol_apart():
    """A method trained epochs_factor x student.epochs is named with its epochs; sweep rows of the
    held-out database protocol (sweep_lr.py --val-database) are rows of their own beside the older
    rows (no `validation` column: the training images as database), never averaged with them."""
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85], 48: [0.88]}, {"dsh": {12: [0.78], 48: [0.79]}, "csq": {12: [0.79], 48: [0.8]}})
    params = claim6_params()
    params["csq"]["epochs_factor"] = 2
    old = [{"name": f"lr-sweep:csq-{k}-lr0.002", "set": "python workflow/scripts/sweep_lr.py --holdout 1000",
            "method": "csq", "bits": k, "lr": 0.002, "validation_map": v} for k, v in [(12, 0.7), (48, 0.72)]]
    new = [{"name": f"lr-sweep:csq-{k}-lr0.002-epochs_factor2-vdb700", "method": "csq", "setting": "csq.epochs_factor=2",
            "validation": "300 held-out queries vs 700 held-out images", "bits": k, "lr": 0.002, "validation_map": v}
           for k, v in [(12, 0.6), (48, 0.64)]]
    text, _ = comparison_claim(df, params, pd.DataFrame(old + new))
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert any("and length (CSQ 80 epochs)" in r for r in rows)
    assert "| csq | 1000 held-out queries vs the training images | | 0.002 | 70 | 72 | 71 | |" in rows
    assert "| csq | 300 held-out queries vs 700 held-out images | csq.epochs_factor=2 | 0.002 | 60 | 64 | 62 | yes |" in rows
    params["csq"]["epochs_factor"] = 1
    text, _ = comparison_claim(df, params, pd.DataFrame(old))
    assert "and length (" not in text and "| csq | 0.002 | 70 | 72 | 71 | yes |" in [" ".join(line.split()) for line in
                                                                              text.splitlines()]  # one protocol



def test_claim6_sweep_rows_with_another_setting_are_marked_used_only_when_params_have_it():
    """sweep_lr.py --set rows (column `setting`) are rows of their own; the one whose lr and
    setting params have is marked, not the row of the same lr without the setting."""
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85], 48: [0.88]}, {"dsh": {12: [0.78], 48: [0.79]}, "csq": {12: [0.79], 48: [0.8]}})
    sweep = pd.DataFrame([{"name": f"lr-sweep:csq-{k}-lr0.002{suffix}", "method": "csq", "setting": setting,
                           "bits": k, "lr": 0.002, "validation_map": v} for k, setting, suffix, v in
                          [(12, None, "", 0.7), (48, None, "", 0.72),
                           (12, "csq.lambda=0.1", "-lambda0.1", 0.75), (48, "csq.lambda=0.1", "-lambda0.1", 0.77)]])
    params = claim6_params()
    params["csq"]["lambda"] = 0.1
    rows = [" ".join(line.split()) for line in comparison_claim(df, params, sweep)[0].splitlines()]
    assert "| csq | csq.lambda=0.1 | 0.002 | 75 | 77 | 76 | yes |" in rows and "| csq | | 0.002 | 70 | 72 | 71 | |" in rows
    params["csq"]["lambda"] = 1e-4  # the setting not in params: the row without it is the one used
    rows = [" ".join(line.split()) for line in comparison_claim(df, params, sweep)[0].splitlines()]
    assert "| csq | csq.lambda=0.1 | 0.002 | 75 | 77 | 76 | |" in rows and "| csq | | 0.002 | 70 | 72 | 71 | yes |" in rows


def test_claim6_marks_the_row_setting_the_most_keys_params_have_and_names_an_own_weight_decay():
    """Of a method's sweep rows that params match, the one that set the most keys is the one used (a
    row setting a subset of its keys was run before it); a method whose weight_decay is not the
    students' is named with it in the schedule sentence."""
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85], 48: [0.88]}, {"dsh": {12: [0.78], 48: [0.79]}, "csq": {12: [0.79], 48: [0.8]}})
    sweep = pd.DataFrame([{"name": f"lr-sweep:csq-{k}-lr0.002{suffix}", "method": "csq", "setting": setting,
                           "bits": k, "lr": 0.002, "validation_map": v} for k, setting, suffix, v in
                          [(12, "csq.epochs_factor=1", "-epochs_factor1", 0.7), (48, "csq.epochs_factor=1", "-epochs_factor1", 0.72),
                           (12, "csq.epochs_factor=1 csq.weight_decay=0", "-epochs_factor1-weight_decay0", 0.75),
                           (48, "csq.epochs_factor=1 csq.weight_decay=0", "-epochs_factor1-weight_decay0", 0.77)]])
    params = claim6_params()
    params["csq"]["weight_decay"] = 0.0
    text = comparison_claim(df, params, sweep)[0]
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "| csq | csq.epochs_factor=1 csq.weight_decay=0 | 0.002 | 75 | 77 | 76 | yes |" in rows
    assert "| csq | csq.epochs_factor=1 | 0.002 | 70 | 72 | 71 | |" in rows
    assert "weight decay (CSQ 0; the others 0.0005)" in " ".join(text.split())
    params["csq"]["weight_decay"] = 5e-4  # params back at the students' decay: the one-key row is the one used
    text = comparison_claim(df, params, sweep)[0]
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "| csq | csq.epochs_factor=1 | 0.002 | 70 | 72 | 71 | yes |" in rows and "weight decay (" not in text


def test_claim6_sweep_rows_of_another_seed_are_rows_of_their_own_and_never_marked_used():
    """sweep_lr.py --seed 1 rows measure the spread of a setting: listed with their seed, never
    averaged into seed 0's row, and the rate used is marked on seed 0's row only."""
    from dth.report import comparison_claim
    df = claim6_frame({12: [0.85], 48: [0.88]}, {"dsh": {12: [0.78], 48: [0.79]}, "csq": {12: [0.79], 48: [0.8]}})
    sweep = pd.DataFrame([{"name": f"lr-sweep:csq-{k}-lr0.002{'-s1' if seed else ''}", "method": "csq", "bits": k,
                           "lr": 0.002, "seed": seed, "validation_map": v}
                          for k, seed, v in [(12, 0, 0.7), (48, 0, 0.72), (12, 1, 0.3)]])
    rows = [" ".join(line.split()) for line in comparison_claim(df, claim6_params(), sweep)[0].splitlines()]
    assert "| csq | 0.002 | 0 | 70 | 72 | 71 | yes |" in rows and "| csq | 0.002 | 1 | 30 | - | 30 | |" in rows


# ----------------------------------------------------------------------------- claims 1-5 rules

@pytest.mark.parametrize("flags, expected", [([True, True, True], True), ([False, False], False),
                                             ([True, None, True], None)])
def test_claim1_holds_only_when_dth_is_ahead_by_more_than_the_se_at_every_k(flags, expected):
    from dth.report import distillation_verdict
    assert distillation_verdict(flags) is expected


@pytest.mark.parametrize("teacher, student, speeds, expected", [
    ([0.85, 0.86], [0.82, 0.84], (500.0, 6000.0), True),    # ahead in mAP, slower
    ([0.85, 0.83], [0.82, 0.84], (500.0, 6000.0), False),   # behind at one k
    ([0.85, 0.86], [0.82, 0.84], (7000.0, 6000.0), False),  # faster than the student
])
def test_claim2_teacher_ahead_in_map_and_behind_in_speed(teacher, student, speeds, expected):
    from dth.report import teacher_verdict
    assert teacher_verdict(teacher, student, *speeds) is expected


def convergence_runs_frame(dsh_epochs, dth_epochs):
    rows = [{"method": m, "bits": 12, "seed": s, "epochs": e, "final": 0.8, "rise": 0.0}
            for m, epochs in (("dsh", dsh_epochs), ("dth", dth_epochs)) for s, e in enumerate(epochs)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("dsh, dth, schedule, expected", [
    ([5, 6, 7], [8, 9, 10], "constant", True),    # 3 epochs later in every pair
    ([8, 9, 10], [5, 6, 7], "constant", False),   # earlier
    ([5, 6, 7], [5, 6, 8], "constant", False),    # later by 1/3 epoch on average: under one epoch
    ([5, 6, 7], [8, 9, 10], "cosine", None),      # a decaying rate: not judged
])
def test_claim3_slower_by_at_least_an_epoch_in_most_pairs(dsh, dth, schedule, expected):
    from dth.report import convergence_claim_verdict
    flag, diff = convergence_claim_verdict(convergence_runs_frame(dsh, dth), schedule)
    assert flag is expected and diff == pytest.approx(np.mean(dth) - np.mean(dsh))


@pytest.mark.parametrize("changes, expected", [([-0.4, 0.2, -0.9], True), ([-0.4, -1.2], False), ([0.5], True)])
def test_claim4_every_k_within_one_point(changes, expected):
    from dth.report import ternary_verdict
    assert ternary_verdict(changes) is expected


@pytest.mark.parametrize("extra, expected", [([-1.5, -2.0], True), ([-0.1, 0.3], False), ([-1.5, -0.1], None),
                                             ([-0.5, -0.6], None)])
def test_claim5_extra_loss_above_one_point_at_every_k(extra, expected):
    from dth.report import layers_verdict
    assert layers_verdict(extra) is expected


def test_an_attempt_with_the_compared_methods_shows_its_claim6(tmp_path):
    row = {**attempt("compare-one-seed", 0.75), "greedyhash_map.12": 0.77, "greedyhash_map.48": 0.79,
           "sota.12.best": "greedyhash", "sota.12.dth_minus_best": 1.5, "sota.12.se": 0.0,
           "sota.48.best": "dsh", "sota.48.dth_minus_best": -0.25, "sota.48.se": 0.1}
    text = attempts_section(write_attempts(tmp_path / "e.csv", [row, attempt("other", 0.5)]), SUMMARY)
    assert "Claim 6 in attempt `compare-one-seed`" in text and "Claim 6 in attempt `other`" not in text
    assert "12 bits +1.50 over GreedyHash (SE 0.00); 48 bits -0.25 over DSH (SE 0.10)" in text
    rows = {r[0]: r for r in markdown_rows(text)}
    assert rows["GreedyHash"][1:] == ["77.00", "79.00"] and rows["DTH"][1:] == ["78.50", "80.00"]


def test_code_structure_separates_codes_on_their_centres_from_graded_codes(tmp_path):
    """workflow/scripts/code_structure.py on two synthetic 8-bit code sets that classify every
    query the same way: every image on its class's centre, against the same with each class's
    last database image moved halfway towards another class. Brute-force expectations."""
    import importlib.util
    from pathlib import Path
    from dth.hamming import save_codes
    spec = importlib.util.spec_from_file_location(
        "code_structure", Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "code_structure.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    centres = np.array([[0] * 8, [1] * 8], dtype=np.uint8)
    yd = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    yq = np.array([0, 1])
    onehot = lambda y: np.eye(2, dtype=np.uint8)[y]  # noqa: E731
    db = centres[yd].copy()
    paths = {}
    for name, moved in (("centres", False), ("graded", True)):
        codes = db.copy()
        if moved:
            codes[3, :3] = 1  # class 0's last image: 3 bits towards class 1 (nearer to 0 still)
            codes[7, :3] = 0
        paths[name] = tmp_path / f"{name}.npz"
        save_codes(paths[name], query_codes=np.packbits(centres[yq], axis=1), database_codes=np.packbits(codes, axis=1),
                   query_labels=onehot(yq), database_labels=onehot(yd), bits=8, model_sha256="0", model=name)
    on_centres, graded = mod.structure(str(paths["centres"])), mod.structure(str(paths["graded"]))
    assert on_centres["distinct"] == 2 and on_centres["at_mode"] == 1.0 and on_centres["map"] == 1.0
    assert graded["distinct"] == 4 and graded["at_mode"] == 0.75 and graded["nearest_acc"] == 1.0
    # each query: its 3 centre images first, then its moved image at distance 3 (rank 4 of 8) -> AP 1
    assert graded["map"] == 1.0 and graded["off_rank"] == pytest.approx(100 * 3 / 7)
    # --out writes the same figures, one row per codes file
    import subprocess
    import sys
    import pandas as pd
    out = tmp_path / "structure.csv"
    subprocess.run([sys.executable, spec.origin, str(paths["centres"]), str(paths["graded"]), "--out", str(out)],
                   check=True, capture_output=True)
    table = pd.read_csv(out).set_index("codes")
    assert list(table.index) == ["centres", "graded"]
    assert table.loc["graded", "at_mode"] == 0.75 and table.loc["graded", "off_rank"] == pytest.approx(
        100 * 3 / 7, abs=1e-4)
