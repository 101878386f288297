"""dth claims and dth report on synthetic runs: each claim's record by the 95% rule, 6b from a
recorded attempt on today's training code only, the answer-first REPORT.md, the appendix's
validation sweeps and attempts (brute-force expectations written out)."""

import copy
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from dth.appendix import attempts_section, sweep_table
from dth.claims import all_claims, backbone_claim, compared_claim, rule_claim
from dth.names import backbone_head_name, student_name
from dth.report import answer, details
from dth.results import Run, attempt_is_current

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def params_for(**changes):
    p = copy.deepcopy(PARAMS)
    p.update(bits=[12, 48], seeds=[0, 1, 2], baseline_seeds=[0], baselines=["ce", "csq"], backbone_methods=[])
    p.update(changes)
    return p


def frame(maps: dict) -> pd.DataFrame:
    """{family: {k: [values per seed]}} -> the metrics frame of dth.results."""
    rows = []
    for family, by_k in maps.items():
        for k, values in by_k.items():
            if family == "teacher":
                rows.append({"model": f"teacher-{k}", "family": "teacher", "bits": k, "map": values[0],
                             "precision_radius": values[0]})
                continue
            rows += [{"model": student_name(family, k, s), "family": family, "bits": k, "seed": s, "map": v,
                      "precision_radius": v - 0.01} for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def run_of(maps, params=None, attempts=None, service=None) -> Run:
    params = params or params_for()
    runs = pd.DataFrame([{"method": m, "bits": k, "seed": s, "epochs": e, "final": 0.8, "rise": 0.0}
                         for m, e in (("dsh", 10), ("dth", 12)) for k in params["bits"] for s in params["seeds"]])
    tern = pd.DataFrame([{"bits": k, "layers": layers, "t": 0.05, "change (points)": c}
                         for k in params["bits"] for layers, c in (("fc", -0.3), ("fc+conv", -2.0))])
    speed = {"teacher": {"images_per_second": 1000.0}, "dth-12-s0": {"images_per_second": 9000.0}}
    return Run(params, frame(maps), tern, {}, speed, {"accuracy": 0.9}, runs, None, attempts, service or {},
               Path("results"))


MAPS = {"teacher": {12: [0.90], 48: [0.92]},
        "dth": {12: [0.85, 0.86, 0.87], 48: [0.88, 0.88, 0.89]},
        "dsh": {12: [0.78, 0.79, 0.80], 48: [0.79, 0.80, 0.79]},
        "ce": {12: [0.84], 48: [0.80]},
        "csq": {12: [0.79], 48: [0.81]}}


def pooled(maps, k):
    groups = [100 * np.array(v[k]) for f, v in maps.items() if f != "teacher" and len(v[k]) > 1]
    dof = sum(len(g) - 1 for g in groups)
    return np.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof), dof


def test_claim1_uses_the_pooled_spread_and_the_t_quantile():
    r = rule_claim(run_of(MAPS), "dth", "dsh")
    s, dof = pooled(MAPS, 12)
    e = r["by_k"]["12"]
    assert e["df"] == dof == 4
    assert e["diff"] == pytest.approx(100 * (0.86 - 0.79), abs=1e-3)
    assert e["half_width"] == pytest.approx(stats.t.ppf(0.975, dof) * s * np.sqrt(2 / 3), abs=1e-3)
    assert r["verdict"] == "holds"


def test_claim6a_a_one_seed_rival_gets_the_pooled_spread_and_dth_must_beat_each():
    r = compared_claim(run_of(MAPS))
    at12 = r["by_k"]["12"]
    assert at12["best"] == "ce"   # the highest mean of the others at 12 bits
    s, dof = pooled(MAPS, 12)
    hw = stats.t.ppf(0.975, dof) * s * np.sqrt(1 / 3 + 1)  # CE ran at one seed: never zero variance
    assert at12["best_half_width"] == pytest.approx(hw, abs=1e-3)
    # 86.0 - 84.0 = 2.0 against a half-width of ~2.6: a tie at 12; at 48, 88.33 beats 81 and 79.33
    assert at12["verdict"] == "tie" and r["by_k"]["48"]["verdict"] == "holds"
    assert r["verdict"] == "mixed" and r["detail"] == "holds at 48; tie at 12"


def test_claim6b_from_this_runs_models_or_not_run():
    maps = {**MAPS}
    df_extra = [{"model": backbone_head_name("csq", "resnet18", k), "family": "backbone", "method": "csq",
                 "bits": k, "map": 0.70} for k in (12, 48)]
    run = run_of(maps, params_for(backbone_methods=["csq"]))
    run.df = pd.concat([run.df, pd.DataFrame(df_extra)], ignore_index=True)
    r = backbone_claim(run)
    assert r["source"] == "this run" and set(r["by_k"]["12"]["methods"]) == {"ce", "csq"}
    assert r["by_k"]["12"]["best"] == "ce" and r["by_k"]["12"]["verdict"] == "does not hold"  # the teacher wins
    assert backbone_claim(run_of(MAPS))["verdict"] == "not run"


def test_claim6b_takes_a_recorded_attempt_only_when_it_ran_on_todays_training_code():
    att = pd.DataFrame([
        {"name": "big-backbone", "current": False, "teacher_map.12": 0.9, "teacher_map.48": 0.9,
         "backbone_map.greedyhash.12": 0.5, "backbone_map.greedyhash.48": 0.5},
        {"name": "older", "current": True, "teacher_map.12": 0.80, "teacher_map.48": 0.80,
         "backbone_map.greedyhash.12": 0.81, "backbone_map.greedyhash.48": 0.70}])
    r = backbone_claim(run_of(MAPS, attempts=att))
    assert r["source"] == "attempt older" and r["by_k"]["12"]["methods"]["greedyhash"]["it"] == pytest.approx(81)
    att["current"] = False
    assert backbone_claim(run_of(MAPS, attempts=att))["verdict"] == "not run"


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_an_attempt_is_current_until_the_training_code_or_its_params_change(tmp_path):
    (tmp_path / "dth").mkdir()
    (tmp_path / "dth" / "train.py").write_text("x = 1\n")
    (tmp_path / "dth" / "report.py").write_text("y = 1\n")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "train_teacher": {"cmd": "dth train-teacher", "deps": ["data/prepared", "dth/train.py"]},
        "report": {"cmd": "dth report", "deps": ["dth/report.py"]}}}))
    params = params_for()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "a")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert attempt_is_current(head, params, tmp_path)
    assert attempt_is_current(head, {**params, "claims": {"confidence": 0.9}}, tmp_path)  # not a training section
    assert not attempt_is_current(head, {**params, "seeds": [0]}, tmp_path)
    assert not attempt_is_current("0" * 40, params, tmp_path) and not attempt_is_current(np.nan, params, tmp_path)
    (tmp_path / "dth" / "report.py").write_text("y = 2\n")  # not a training stage's code
    assert attempt_is_current(head, params, tmp_path)
    (tmp_path / "dth" / "train.py").write_text("x = 2\n")
    assert not attempt_is_current(head, params, tmp_path)
    (tmp_path / "dvc.yaml").unlink()  # nothing names the training code
    (tmp_path / "dth" / "train.py").write_text("x = 1\n")
    assert not attempt_is_current(head, params, tmp_path)


def service_files():
    quality = {"map": {"dth": {"12": {"binary": 0.80, "real": 0.81, "features": 0.79},
                               "48": {"binary": 0.82, "real": 0.83, "features": 0.84}}},
               "dims": {"dth": 500}, "bytes_per_item": {}}
    search_us = {"dth": {k: {kind: {"1000000": {"median": m, "p95": m, "queries": 5}, "10000": {"median": m / 50,
                                                                                                "p95": 1, "queries": 5}}
                             for kind, m in (("binary", 500.0), ("real", 2000.0), ("features", 40000.0))}
                         for k in ("12", "48")}}
    search = {"cpu": "cpu", "topk": 10, "search_us": search_us,
              "speedup_binary_over_features": {"dth": {"12": 80.0, "48": 8.0}}}
    latency = {"cpu": "cpu", "precision": "bf16",
               "encode_us": {m: {k: {"median": us, "p95": us} for k in ("12", "48")}
                             for m, us in (("teacher", 3000.0), ("dth", 300.0), ("ttq", 310.0))},
               "ternary_measured_ratio": {"12": 1.03, "48": 0.85}, "ternary_flop_share": {"12": 0.2, "48": 0.02},
               "ternary_max_speedup": {"12": 1.25, "48": 1.02}}
    return {"quality": quality, "search": search, "latency": latency}


def test_claims_7_and_t_and_the_answer_first_report():
    params = params_for(service={**PARAMS["service"], "database_sizes": [10000, 1000000]})
    run = run_of(MAPS, params, service=service_files())
    claims = all_claims(run)["claims"]
    # 12 bits: 80x faster, 0.01 below the features -> holds; 48: 8x < 10x -> fails
    assert claims["7"]["by_k"]["12"]["verdict"] == "holds" and claims["7"]["by_k"]["48"]["verdict"] == "does not hold"
    assert claims["7"]["verdict"] == "mixed"
    # T: 12 bits is slower; at 48 bits 15% faster, but its ternary layers carry 2% of the work, so a
    # 2-bit kernel could buy at most 1.02x: the gain is noise and the claim does not hold
    assert claims["T"]["by_k"]["48"]["verdict"] == "does not hold" and claims["T"]["verdict"] == "does not hold"
    run.service["latency"]["ternary_max_speedup"]["48"] = 1.25
    assert all_claims(run)["claims"]["T"]["by_k"]["48"]["verdict"] == "holds"
    assert claims["2"]["speed"]["student_speedup"] == pytest.approx(10.0)
    # the claims table comes first: every claim within the first 40 lines, with its verdict
    text = "\n".join(answer(run, all_claims(run)))
    first = text.splitlines()[:40]
    for n in ("1", "1b", "2", "3", "4", "5", "6a", "6b", "7", "T"):
        assert any(line.startswith(f"| {n} ") for line in first), n
    assert "95%" in text and all(len(line) <= 200 for line in first)
    body = "\n".join(details(run, all_claims(run)))
    assert "### 7." in body and "queries/s at 1,000,000" in body


def test_the_best_of_each_column_is_bold_dth_included():
    from dth.markdown import method_table
    text = " ".join(method_table(run_of(MAPS)).split())
    assert "**86.00 ± 1.00**" in text and "**88.33 ± 0.58**" in text and "**84" not in text


def sweep_rows(rows):
    return [" ".join(line.split()) for line in sweep_table(pd.DataFrame(rows), params_for()).pipe(
        lambda df: __import__("dth.markdown", fromlist=["md_table"]).md_table(df)).splitlines()]


def test_the_sweep_marks_the_rate_used_and_keeps_protocols_seeds_and_settings_apart():
    p = params_for()
    lr = p["csq"]["lr"]
    rows = [{"name": f"lr-sweep:csq-{k}-lr{r:g}", "method": "csq", "bits": k, "lr": r, "validation_map": v}
            for k, r, v in [(12, lr, 0.7), (48, lr, 0.72), (12, 2 * lr, 0.69), (48, 2 * lr, 0.70)]]
    lines = sweep_rows(rows)
    assert f"| csq | {lr:g} | 70 | 72 | 71 | yes |" in lines and f"| csq | {2 * lr:g} | 69 | 70 | 69.5 | |" in lines
    rows.append({"name": "lr-sweep:csq-12-s1", "method": "csq", "bits": 12, "lr": lr, "seed": 1, "validation_map": 0.3})
    lines = sweep_rows(rows)
    assert f"| csq | {lr:g} | 0 | 70 | 72 | 71 | yes |" in lines and f"| csq | {lr:g} | 1 | 30 | - | 30 | |" in lines


def test_the_appendix_shows_every_attempt_with_its_commit_and_judges_only_current_ones(tmp_path):
    att = pd.DataFrame([
        {"name": "doubled-epochs", "commit": "abcdef0123", "current": False, "about": "why", "dsh_map.12": 0.5},
        {"name": "all-seeds", "commit": "0123456789", "current": True, "about": "spread", "dsh_map.12": 0.79,
         "claims.6a.verdict": "mixed", "claims.6a.by_k.12.best": "ce", "claims.6a.by_k.12.best_diff": 1.5,
         "claims.6a.by_k.12.best_half_width": 1.0, "claims.6a.by_k.12.verdict": "holds"}])
    run = run_of(MAPS, attempts=att)
    run.results = tmp_path
    (tmp_path / "summary.json").write_text('{"dsh_map": {"12": 0.79}}')
    text = "\n".join(attempts_section(run, all_claims(run)))
    assert "abcdef01" in text and "01234567" in text and "| no" in " ".join(text.split())
    assert "Converged" not in text   # the doubled-epochs attempt ran on other code: no verdict
    assert "+1.50 ± 1.00 vs CE (holds)" in text


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


def test_the_doubled_epochs_attempt_doubles_every_epoch_count_of_params_yaml():
    """workflow/attempts.yaml spells the doubled values out; they must follow params.yaml."""
    attempts = yaml.safe_load((ROOT / "workflow" / "attempts.yaml").read_text())["attempts"]
    doubled = next(a for a in attempts if a["name"] == "doubled-epochs")
    sets = dict(kv.split("=", 1) for kv in doubled["set"])
    assert sets == {f"{section}.epochs": str(2 * PARAMS[section]["epochs"]) for section in ("teacher", "student", "quantize")}


def test_the_claims_and_the_report_rerun_from_a_clone_holding_only_gits_files(tmp_path, monkeypatch):
    """`dth claims` and `dth report` need no DVC cache: in a plain `git clone` of this repository
    they remake results/claims.json exactly as committed, and REPORT.md and APPENDIX.md."""
    import json
    import shutil

    from dth.cli import main as dth_main

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs this repository's git history")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, capture_output=True)
    committed = json.loads((clone / "results" / "claims.json").read_text())
    monkeypatch.chdir(clone)
    common = ["--params", "params.yaml", "--results", "results", "--attempts", "results/experiments.csv",
              "--service", "results/service"]
    assert dth_main(["claims", *common, "--out", str(tmp_path / "claims.json"),
                     "--summary", str(tmp_path / "summary.json")]) == 0
    assert json.loads((tmp_path / "claims.json").read_text()) == committed
    assert dth_main(["report", *common, "--claims", str(tmp_path / "claims.json"), "--out", str(tmp_path / "out")]) == 0
    first = (tmp_path / "out" / "REPORT.md").read_text().splitlines()[:40]
    assert all(any(line.startswith(f"| {n} ") for line in first) for n in committed["claims"])
    assert (tmp_path / "out" / "APPENDIX.md").is_file()
