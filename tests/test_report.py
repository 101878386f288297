"""dth report's Attempts section: the recorded experiments beside the run's own numbers, and the
convergence verdict of the doubled-epochs attempt (no mean mAP moving by more than 1 point)."""

import pandas as pd
import pytest

from dth.report import attempts_section

SUMMARY = {"teacher_accuracy": 0.9, "teacher_map": {"12": 0.80, "48": 0.82},
           "dsh_map": {"12": 0.75, "48": 0.77}, "dth_map": {"12": 0.78, "48": 0.80}}


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
    assert "75" in text and "0.75" not in text  # this run's DSH mAP at 12 bits, in percent
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
