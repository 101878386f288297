"""The Slurm profile (workflow/profiles/slurm), checked against the plugin and run on a real Slurm.

Fast, no cluster: every job of the default DAG, sized by the committed profile, gives the
sbatch line that the pinned snakemake-executor-plugin-slurm would submit, through the
plugin's own functions (its slurm_extra validation, its gres and CPU arguments).

Slow, a real cluster: workflow/scripts/slurm_cluster.sh brings up a one-node Slurm with
accounting (slurmdbd, MariaDB) on this machine; that needs root and a working apt-get (or
the packages already there), and the test is skipped, with the reason, otherwise. The
tiny pipeline of tests/test_dag.py then runs under the committed profile, with only the
site's placeholders replaced by this cluster's values (`site_profile`). One of its inputs
is broken on purpose, so the run fails on that job and names its logs; once the input is
fixed, a second run resumes: it submits that one job only. Every job was an sbatch
submission (sacct lists each), and the metrics equal those of the same pipeline run
locally (tests/tiny.py's `dvc repro`, made once per `make test`); docs/performance.md
has its measured time. Once it has passed, tests/test_dag.py takes a copy of this run as the
Snakemake run that it compares with the DVC run (tests/tiny.py, snakemake_run). A cluster this test started is taken down again; one that was already up is
left running.
"""

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string
from snakemake_executor_plugin_slurm.validation import validate_slurm_extra
from snakemake_interface_common.exceptions import WorkflowError

from tests.test_dag import ENV, REPO, checkout_copy, run
from tests.tiny import local_metrics, metrics, sharing_snakemake_run, tiny_checkout

PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
SCRIPT = REPO / "workflow" / "scripts" / "slurm_cluster.sh"
# the rules whose jobs ask for a GPU (README: training and encoding jobs; evaluate_student and
# evaluate_ternary encode their model first)
GPU_RULES = {"train_teacher", "train_student", "train_student_dth", "ternarize", "encode_teacher",
             "evaluate_student", "evaluate_ternary", "train_backbone", "encode_backbone"}


# ------------------------------------------------------------------ the profile, without a cluster

class _Resources(dict):
    """A job's resources as the plugin reads them: .get() and attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def dry_run_jobs(out: str) -> list[dict]:
    """[{rule, threads, resources}] of each job that `snakemake -n` printed (rule `all` aside)."""
    jobs, job = [], None
    for line in out.splitlines():
        m = re.match(r"(?:local)?rule (\w+):$", line)
        if m:
            job = {"rule": m[1], "threads": 1, "resources": {}}
            jobs.append(job)
        elif job is not None and line.strip().startswith("threads: "):
            job["threads"] = int(line.split()[-1])
        elif job is not None and line.strip().startswith("resources: "):
            pairs = line.strip()[len("resources: "):].split(", ")
            job["resources"] = {k: int(v) if v.isdigit() else v for k, v in (p.split("=", 1) for p in pairs)}
    return [j for j in jobs if j["rule"] != "all"]


def sbatch_line(job: dict) -> str:
    """The sbatch command line the plugin builds for this job (its own functions, its checks)."""
    res = _Resources(job["resources"])
    plugin_job = SimpleNamespace(resources=res, threads=job["threads"], name=job["rule"], is_group=lambda: False)
    validate_slurm_extra(plugin_job)
    params = {"run_uuid": "RUN", "slurm_logfile": "LOG", "comment_str": f"rule_{job['rule']}",
              "account": f"-A {res['slurm_account']}", "partition": f"-p {res['slurm_partition']}",
              "workdir": "/work"}
    return get_submit_command(plugin_job, params) + set_gres_string(plugin_job)


def test_profile_sizes_every_job_as_the_plugin_accepts(tmp_path):
    work = checkout_copy(tmp_path / "repo")  # the default params: every rule of the DAG, and
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["backbone_methods"] = ["dsh"]  # the rules of the methods on the teacher's network
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    profile = yaml.safe_load(PROFILE.read_text())
    jobs = dry_run_jobs(run(["snakemake", "-n", "--forceall", "--workflow-profile", "workflow/profiles/slurm"], work))
    rules = {j["rule"] for j in jobs}
    assert len(jobs) > 50 and GPU_RULES <= rules
    # set-threads and set-resources name real rules, and every rule whose threads are
    # `workflow.cores` is sized by set-threads (otherwise it would ask for `cores` CPUs)
    assert set(profile["set-threads"]) <= rules and set(profile["set-resources"]) <= rules
    assert "cpus_per_task" not in profile["default-resources"]  # it would override every rule's threads
    for job in jobs:
        rule, res = job["rule"], job["resources"]
        line = sbatch_line(job)
        threads = profile["set-threads"].get(rule, 1)
        assert job["threads"] == threads, rule
        assert f"--cpus-per-task={threads}" in line, (rule, line)
        assert f"-A {profile['default-resources']['slurm_account']}" in line
        assert f" -t {res['runtime']}" in line and f"--mem {res['mem_mb']}" in line, (rule, line)
        if rule in GPU_RULES:
            assert " --gres=gpu:1" in line and "-p gpu" in line, (rule, line)
        else:
            assert "--gres" not in line and "-p cpu" in line, (rule, line)
    # what the committed profile used to say, and why it could not work on a real site
    old = SimpleNamespace(resources=_Resources(slurm_extra="'--gres=gpu:1'"))
    with pytest.raises(WorkflowError, match="GRES"):
        validate_slurm_extra(old)


# ------------------------------------------------------------------ the cluster script

def cluster(*args: str, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], env=env or ENV, capture_output=True, text=True,
                          timeout=timeout)


def test_cluster_script_refuses_clearly_without_root():
    if os.geteuid() != 0:
        p = cluster("up")
    else:  # as root: try it as an ordinary user (the script on stdin: the checkout may be private to root)
        p = subprocess.run(["runuser", "-u", "nobody", "--", "bash", "-s", "up"], stdin=SCRIPT.open(), cwd="/",
                           capture_output=True, text=True, timeout=60)
    assert p.returncode == 3, p.stderr
    assert "must run as root" in p.stderr


@dataclass
class Cluster:
    env: dict          # ENV plus SLURM_CONF
    account: str
    partition: str
    cpus: int          # of its one node
    mem_mb: int


@pytest.fixture(scope="module")
def slurm():
    """A running one-node Slurm (started by workflow/scripts/slurm_cluster.sh when it is not)."""
    if os.geteuid() != 0:
        pytest.skip("a local Slurm needs root: workflow/scripts/slurm_cluster.sh installs Debian's packages "
                    "and starts munged, mariadbd, slurmdbd, slurmctld and slurmd")
    was_up = cluster("status").returncode == 0
    up = cluster("up")
    if up.returncode == 3:  # this machine cannot host it (apt unusable, a port taken, ...)
        pytest.skip("no local Slurm: " + up.stderr.strip().splitlines()[-1])
    assert up.returncode == 0, f"slurm_cluster.sh up failed:\n{up.stdout}\n{up.stderr}"
    exported = dict(re.findall(r"(\w+)=(\S+)", up.stdout.strip().splitlines()[-1]))
    env = {**ENV, "SLURM_CONF": exported["SLURM_CONF"]}
    partition = exported["DTH_SLURM_PARTITION"]
    node = subprocess.run(["sinfo", "-h", "-N", "-p", partition, "-o", "%c %m"], env=env, capture_output=True,
                          text=True, check=True).stdout.split()
    yield Cluster(env=env, account=exported["DTH_SLURM_ACCOUNT"], partition=partition,
                  cpus=int(node[0]), mem_mb=int(node[1]))
    if not was_up:
        down = cluster("down")
        assert down.returncode == 0, down.stderr
        assert cluster("status").returncode != 0


@pytest.mark.slow  # `up` may first install the packages (about 30 s)
def test_cluster_script_names_a_taken_port(tmp_path):
    """A port held by another program stops `up` with a message naming it, before it starts anything."""
    if os.geteuid() != 0:
        pytest.skip("needs root (as `up` does)")
    sockets = [socket.socket() for _ in range(4)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    held, *free = sockets
    held.listen()
    ports = [s.getsockname()[1] for s in sockets]
    for s in free:
        s.close()
    env = {**ENV, "DTH_SLURM_DIR": str(tmp_path / "other"), "DTH_SLURM_DB_PORT": str(ports[0]),
           "DTH_SLURMDBD_PORT": str(ports[1]), "DTH_SLURM_CTLD_PORT": str(ports[2]), "DTH_SLURMD_PORT": str(ports[3])}
    try:
        p = cluster("up", env=env)
    finally:
        held.close()
    if p.returncode == 3 and "port" not in p.stderr:
        pytest.skip("no local Slurm: " + p.stderr.strip().splitlines()[-1])
    assert p.returncode == 3, p.stderr
    assert f"port {ports[0]} (for mariadbd) is taken by python" in p.stderr, p.stderr
    assert not (tmp_path / "other").exists()  # nothing written, nothing started


# ------------------------------------------------------------------ the tiny pipeline on the cluster

def site_profile(dest: Path, c: Cluster) -> Path:
    """The committed profile with this cluster's values where a site puts its own: the account,
    both partitions, no GPU request (the node has none), memory capped at the node's. All else
    (threads, runtimes, retries, latency-wait ...) as committed."""
    p = yaml.safe_load(PROFILE.read_text())
    p["default-resources"].update(slurm_account=c.account, slurm_partition=c.partition,
                                  mem_mb=min(p["default-resources"]["mem_mb"], c.mem_mb))
    for res in p["set-resources"].values():
        if "slurm_partition" in res:
            res["slurm_partition"] = c.partition
        res.pop("gres", None)
        if "mem_mb" in res:
            res["mem_mb"] = min(res["mem_mb"], c.mem_mb)
    dest.mkdir(parents=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    return dest


SACCT = ["JobID", "Comment", "Account", "Partition", "AllocCPUS", "ReqMem", "State", "ExitCode", "Elapsed"]


def sacct(c: Cluster, run_id: str, since: str) -> list[dict]:
    """The Slurm jobs of one Snakemake run (the plugin names every job after the run's id)."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "--name", run_id, "-S", since, "-o", ",".join(SACCT)],
                         env=c.env, capture_output=True, text=True, check=True).stdout
    jobs = [dict(zip(SACCT, line.split("|"))) for line in out.splitlines() if line.strip()]
    for job in jobs:  # the plugin's comment: rule_<rule>[_wildcards_<values>]
        job["rule"] = job["Comment"].removeprefix("rule_").split("_wildcards_")[0]
    return jobs


def snakemake_on(c: Cluster, work: Path, profile: Path) -> tuple[int, str, float]:
    # status checks at most 1 s apart (tests/snakemake_quick_polls.py): the plugin's growing waits were most of this test
    cmd = [sys.executable, str(Path(__file__).with_name("snakemake_quick_polls.py")), "--workflow-profile", str(profile),
           "--cores", str(c.cpus),
           # a test's short jobs: ask Slurm for their states every few seconds, not every 40
           "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1"]
    start = time.monotonic()
    p = subprocess.run(cmd, cwd=work, env=c.env, capture_output=True, text=True, timeout=1800)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - start


def job_count(out: str) -> dict[str, int]:
    """The first 'Job stats' table of a Snakemake run: {rule: jobs}."""
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.mark.slow
def test_tiny_pipeline_under_slurm(slurm, tmp_path, tmp_path_factory):
    work = tiny_checkout(tmp_path / "repo", tmp_path_factory)
    # tests/test_dag.py compares a copy of this run with its DVC run once it has passed (tests/tiny.py)
    with sharing_snakemake_run(tmp_path_factory, work):
        profile = site_profile(tmp_path / "profile", slurm)
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 120))

        # 1. one input broken: results/experiments.csv, read by the claims (the job before the report),
        #    truncated in the middle of a quoted field
        attempts = work / "results" / "experiments.csv"
        good = attempts.read_text()
        attempts.write_text(good.splitlines()[0] + '\nlr-1e-3,"quantize.lr=0.001\n')
        rc, out, first_seconds = snakemake_on(slurm, work, profile)
        assert rc != 0, out[-3000:]
        # the failure names the job and its logs: the rule's log and the Slurm job's own log
        assert "Error in rule claims" in out, out[-3000:]
        assert "logs/claims/claims.log" in out
        slurm_logs = re.findall(r"(\S+/\.snakemake/slurm_logs/rule_claims/\d+\.log)", out)
        assert slurm_logs and all(Path(log).is_file() for log in slurm_logs), out[-3000:]
        assert "Error in rule claims" in Path(slurm_logs[-1]).read_text()
        assert (work / "logs/claims/claims.log").read_text().strip()  # the claims' error

        # every job was an sbatch submission of this run, listed by sacct (accounting) afterwards
        run_id = re.search(r"SLURM run ID: (\S+)", out)[1]
        jobs = sacct(slurm, run_id, since)
        submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
        assert sorted(j["JobID"] for j in jobs) == sorted(submitted)
        expected = job_count(out)
        expected.pop("all")
        retries = yaml.safe_load(PROFILE.read_text())["retries"]
        completed = [j for j in jobs if j["State"] == "COMPLETED"]
        failed = [j for j in jobs if j["State"] != "COMPLETED"]
        assert {j["rule"] for j in failed} == {"claims"} and len(failed) == 1 + retries, failed
        # every planned job completed but the claims and the report, which needs them and never started
        assert len(completed) == sum(expected.values()) - 2, (expected, completed)
        assert all(j["Account"] == slurm.account and j["Partition"] == slurm.partition for j in jobs)
        threads = yaml.safe_load(PROFILE.read_text())["set-threads"]
        for j in jobs:  # CPUs as the rule's threads (the profile's, capped at this node's CPUs)
            assert int(j["AllocCPUS"]) == min(threads.get(j["rule"], 1), slurm.cpus), j
        listing = subprocess.run(["sacct", "-X", "--name", run_id, "-S", since, "-o",
                                  "JobID,Comment%42,AllocCPUS,ReqMem,State,ExitCode,Elapsed"],
                                 env=slurm.env, capture_output=True, text=True).stdout
        print(f"\nfirst run under Slurm (fails on claims): {first_seconds:.0f} s, {len(jobs)} jobs\n{listing}")

        # 2. fixed: the rerun resumes; it submits the claims and the report alone and redoes nothing else
        done = {p: p.stat().st_mtime_ns for top in ("models", "codes", "results/metrics") for p in (work / top).rglob("*")
                if p.is_file()}
        attempts.write_text(good)
        rc, out, second_seconds = snakemake_on(slurm, work, profile)
        assert rc == 0, out[-3000:]
        assert job_count(out) == {"claims": 1, "report": 1, "all": 1}, out[-3000:]
        rerun = sacct(slurm, re.search(r"SLURM run ID: (\S+)", out)[1], since)
        assert sorted((j["rule"], j["State"]) for j in rerun) == [("claims", "COMPLETED"), ("report", "COMPLETED")]
        assert {p: p.stat().st_mtime_ns for p in done} == done
        assert (work / "results" / "REPORT.md").is_file()
        print(f"rerun under Slurm (claims and report only): {second_seconds:.0f} s")

        # the same numbers as the local run, and nothing left to do
        got = metrics(work)
        # the reference: the same pipeline run locally by `dvc repro` (on the other xdist worker)
        assert len(got) == 8 and got == local_metrics(tmp_path_factory)  # 6 models, the teacher's accuracy, the summary
        assert "Nothing to be done" in run(["snakemake", "-n", "--cores", "1"], work)
