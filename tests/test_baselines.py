"""The compared methods' losses (dth/baselines.py) against direct transcriptions of their
formulas (loops over pairs), and the traps public ports fell into: CSQ's centres at 12/24/48
bits, GreedyHash's classifier trained, no division by zero in the balance weights, fp32
losses under bf16 autocast, stable softplus; every method trains through the stage."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml

from dth.baselines import (BASELINES, PairMemory, baseline_loss, csq_loss, csq_targets, dch_loss, dpsh_loss,
                           greedy_sign, greedyhash_loss, hash_centres, hashnet_beta, hashnet_loss)
from dth.models import Student
from dth.params import load_params

PARAMS = yaml.safe_load(open(__file__.rsplit("/tests/", 1)[0] + "/params.yaml"))


def batch(n=7, k=6, classes=3, seed=0, multi=False):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, k, generator=g, dtype=torch.float64) * 1.5
    if multi:
        labels = (torch.rand(n, classes, generator=g) < 0.4).float()
        labels[labels.sum(1) == 0, 0] = 1.0
    else:
        labels = F.one_hot(torch.arange(n) % classes, classes).float()
    return u, labels


def pairs(labels):
    n = len(labels)
    return [(i, j, float((labels[i] * labels[j]).sum() > 0)) for i in range(n) for j in range(n) if i != j]


def balance(labels):
    ps = pairs(labels)
    n1 = sum(s for _, _, s in ps)
    n0 = len(ps) - n1
    return {(i, j): (len(ps) / n1 if s else len(ps) / n0) for i, j, s in ps}


def softplus(x):
    return math.log1p(math.exp(x))


@pytest.mark.parametrize("multi", [False, True])
def test_dpsh_matches_its_formula(multi):
    u, y = batch(multi=multi)
    eta = 0.3
    terms = []
    for i, j, s in pairs(y):
        theta = 0.5 * float(u[i] @ u[j])
        terms.append(softplus(theta) - s * theta)
    quant = float(((u - u.sign()) ** 2).mean())
    assert float(dpsh_loss(u, y, eta)) == pytest.approx(np.mean(terms) + eta * quant, rel=1e-5)


@pytest.mark.parametrize("multi", [False, True])
def test_dpsh_with_a_memory_pairs_each_batch_image_with_every_other_stored_image(multi):
    """dpsh.memory_bank: the batch's rows are written first; each batch image is paired with
    every row written so far except its own; rows never written are left out."""
    u_all, y_all = batch(n=9, multi=multi, seed=1)
    memory = PairMemory(y_all, bits=u_all.shape[1])
    earlier = torch.tensor([0, 2, 5, 6])                # rows stored by earlier batches
    memory.u[earlier] = u_all[earlier].float() * 0.5
    memory.filled[earlier] = True
    index = torch.tensor([1, 2, 4])                     # this batch: row 2 again, rows 1 and 4 new
    u = (u_all[index] * 1.2).float().requires_grad_()
    eta = 0.3
    loss = dpsh_loss(u, y_all[index], eta, memory, index)
    stored = {int(j): (u.detach()[list(index).index(j)] if j in index else u_all[j].float() * 0.5)
              for j in (0, 1, 2, 4, 5, 6)}
    terms = []
    for a, i in enumerate(index.tolist()):
        for j, v in stored.items():
            if j != i:
                theta = 0.5 * float(u.detach()[a] @ v)
                s = float((y_all[i] * y_all[j]).sum() > 0)
                terms.append(softplus(theta) - s * theta)
    quant = float(((u.detach() - u.detach().sign()) ** 2).mean())
    assert loss.item() == pytest.approx(np.mean(terms) + eta * quant, rel=1e-5)
    assert memory.filled.tolist() == [j in stored for j in range(9)]
    assert torch.equal(memory.u[index], u.detach())
    loss.backward()  # the gradient reaches the batch's outputs; the stored rows are constants
    assert torch.isfinite(u.grad).all() and not memory.u.requires_grad


def test_dpsh_memory_holding_only_the_batch_gives_the_batch_loss():
    u, y = batch()
    memory = PairMemory(y, bits=u.shape[1])
    index = torch.arange(len(y))
    assert float(dpsh_loss(u, y, 0.1, memory, index)) == pytest.approx(float(dpsh_loss(u, y, 0.1)), rel=1e-6)
    with pytest.raises(ValueError, match="index"):
        dpsh_loss(u, y, 0.1, memory)


def test_dpsh_memory_is_resumed_with_the_weights(tmp_path):
    """An interrupted DPSH run with the memory resumes from its checkpoint, memory included,
    and ends with the same weights as an uninterrupted one."""
    from tests.test_train import CFG, CPU, new_student, tiny_set
    from dth.train import fit

    def train(model, name, stop_at=None):
        data = tiny_set()
        data.extras["index"] = torch.arange(len(data))
        memory = PairMemory(data.labels, bits=8)
        calls = {"n": 0}

        def step_loss(m, x, y, extras):
            calls["n"] += 1
            if calls["n"] == stop_at:
                raise KeyboardInterrupt
            h, _ = m(x)
            return dpsh_loss(h, y, 0.1, memory, extras["index"]), None
        return fit(model, step_loss, data, CFG, seed=0, device=CPU, name=name, checkpoint_dir=tmp_path / "ck",
                   objective_state=memory.state(), progress=False), memory

    whole = new_student()
    rows, memory_whole = train(whole, "whole")
    with pytest.raises(KeyboardInterrupt):
        train(new_student(), "part", stop_at=2 * 2 + 2)  # second step of epoch 3 (2 steps per epoch)
    resumed = new_student(seed=99)
    rows2, memory_resumed = train(resumed, "part")
    assert [r["loss"] for r in rows2] == [r["loss"] for r in rows]
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))
    assert torch.equal(memory_whole.u, memory_resumed.u)


@pytest.mark.parametrize("multi", [False, True])
def test_hashnet_matches_its_formula_with_balance_weights(multi):
    u, y = batch(multi=multi)
    k, beta, af = u.shape[1], 1.7, 10.0
    h = torch.tanh(beta * u)
    w = balance(y)
    total = 0.0
    for i, j, s in pairs(y):
        theta = af / k * float(h[i] @ h[j])
        total += w[i, j] * (softplus(theta) - s * theta)
    expected = total / len(pairs(y))
    assert float(hashnet_loss(u, y, af, beta)) == pytest.approx(expected, rel=1e-5)


def test_hashnet_continuation_raises_beta_by_steps():
    assert [hashnet_beta(e, 10) for e in (0, 9, 10, 25, 39)] == pytest.approx(
        [1.0, 1.0, math.sqrt(2), math.sqrt(3), math.sqrt(4)])


@pytest.mark.parametrize("multi", [False, True])
def test_dch_matches_its_formula(multi):
    u, y = batch(multi=multi)
    k, gamma, lam = u.shape[1], 20.0, 0.1
    w = balance(y)

    def d(a, b):
        cos = float(a @ b / (a.norm() * b.norm()))
        return k / 2 * (1 - min(cos, 0.99))
    total = 0.0
    for i, j, s in pairs(y):
        dij = d(u[i], u[j])
        total += w[i, j] * (s * math.log(dij / gamma) + math.log(1 + gamma / dij))
    ones = torch.ones(k, dtype=u.dtype)
    quant = np.mean([math.log(1 + d(u[i].abs(), ones) / gamma) for i in range(len(u))])
    expected = total / len(pairs(y)) + lam * quant
    assert float(dch_loss(u, y, gamma, lam)) == pytest.approx(expected, rel=1e-5)


def test_greedyhash_matches_its_formula_and_passes_the_gradient_straight_through():
    u, y = batch()
    u = u.float().requires_grad_()
    weight = torch.randn(3, u.shape[1])
    alpha = 0.1
    b = torch.where(u >= 0, 1.0, -1.0)
    expected = F.cross_entropy(b @ weight.t(), y.argmax(1)) + alpha * ((u.abs() - 1).abs() ** 3).mean()
    loss = greedyhash_loss(u, y, weight, alpha)
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)
    # straight-through: d loss / d u = d CE / d b + d quantisation / d u
    b_leaf = b.clone().requires_grad_()
    ce = F.cross_entropy(b_leaf @ weight.t(), y.argmax(1))
    ce.backward()
    q = u.detach().clone().requires_grad_()
    (alpha * ((q.abs() - 1).abs() ** 3).mean()).backward()
    loss.backward()
    assert torch.allclose(u.grad, b_leaf.grad + q.grad, atol=1e-6)
    sign = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    out = greedy_sign(sign)
    assert out.tolist() == [-1.0, 1.0, 1.0]


@pytest.mark.parametrize("bits", [12, 24, 48, 16, 32, 64])
def test_csq_centres_are_far_apart_at_every_code_length(bits):
    centres, min_distance = hash_centres(10, bits, seed=0)
    assert centres.shape == (10, bits) and set(centres.unique().tolist()) == {-1.0, 1.0}
    dist = (centres[:, None] != centres[None]).sum(-1)
    off = dist[~torch.eye(10, dtype=torch.bool)]
    assert int(off.min()) == min_distance
    if bits in (16, 32, 64):  # Hadamard rows and their negatives: k/2 apart (or k for a row and its negative)
        assert min_distance == bits // 2
    else:  # random centres, redrawn until far apart: no two equal, and near k/2 apart
        assert min_distance >= bits // 2 - 2
    again, _ = hash_centres(10, bits, seed=0)
    assert torch.equal(centres, again)  # drawn from the seed


def test_csq_random_centres_depend_on_the_seed_and_many_classes_work():
    a, _ = hash_centres(10, 12, seed=0)
    b, _ = hash_centres(10, 12, seed=1)
    assert not torch.equal(a, b)
    c, d = hash_centres(21, 12, seed=0)  # NUS-WIDE's 21 concepts at 12 bits: the target distance is lowered
    assert c.shape == (21, 12) and d >= 1


def test_csq_loss_matches_its_formula_and_multi_label_centres_tie_to_plus_one():
    u, y = batch()
    centres = torch.tensor([[1., 1, -1, -1, 1, -1], [-1., 1, 1, -1, -1, 1], [1., -1, 1, 1, -1, -1]])
    lam = 1e-2
    p = (torch.tanh(u) + 1) / 2
    t = (centres[y.argmax(1)] + 1) / 2
    bce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
    expected = bce + lam * ((torch.tanh(u).abs() - 1) ** 2).mean()
    assert float(csq_loss(u, y, centres, lam)) == pytest.approx(float(expected), rel=1e-5)
    multi = torch.tensor([[1., 1, 0], [1., 1, 1]])
    targets = csq_targets(multi, centres)
    assert targets[0].tolist() == [1, 1, 1, -1, 1, 1]  # sign of c0 + c1, zeros to +1
    assert targets[1].tolist() == torch.where(centres.sum(0) >= 0, 1.0, -1.0).tolist()


@pytest.mark.parametrize("method", ["hashnet", "dch", "dpsh"])
@pytest.mark.parametrize("kind", ["all similar", "all dissimilar"])
def test_pairwise_losses_are_finite_without_one_kind_of_pair(method, kind):
    u = torch.randn(5, 8, requires_grad=True)
    y = torch.ones(5, 1) if kind == "all similar" else torch.eye(5)
    loss = baseline_loss(method, u, None, y, PARAMS)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(u.grad).all()


@pytest.mark.parametrize("method", ["dpsh", "hashnet"])
def test_softplus_is_stable_for_large_inner_products(method):
    u = torch.full((4, 48), 30.0, requires_grad=True)
    y = torch.eye(4)
    loss = baseline_loss(method, u, None, y, PARAMS, epoch=39)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(u.grad).all() and float(loss) > 0


@pytest.mark.parametrize("method", BASELINES)
def test_every_loss_is_fp32_under_bf16_autocast(method):
    model = Student(bits=12, num_classes=3, in_channels=1, image_size=16, mean=[0.5], std=[0.3])
    x = torch.rand(6, 1, 16, 16)
    y = F.one_hot(torch.arange(6) % 3, 3).float()
    centres, _ = hash_centres(3, 12, seed=0)
    kw = dict(classifier_weight=model.classifier.weight, centres=centres, epoch=12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h, logits = model(x)
        assert h.dtype == torch.bfloat16
        loss = baseline_loss(method, h, logits, y, PARAMS, **kw)
    assert loss.dtype == torch.float32
    reference = baseline_loss(method, h.float(), logits.float(), y, PARAMS, **kw)
    assert float(loss) == pytest.approx(float(reference), rel=1e-6)


def test_unknown_method_and_missing_inputs_are_refused():
    u, y = batch()
    with pytest.raises(ValueError, match="baseline method must be one of"):
        baseline_loss("nope", u, None, y, {"nope": {}})
    with pytest.raises(ValueError, match="classifier"):
        baseline_loss("greedyhash", u, None, y, PARAMS)
    with pytest.raises(ValueError, match="centres"):
        baseline_loss("csq", u, None, y, PARAMS)


@pytest.mark.parametrize("variant", [*BASELINES, "dpsh+memory_bank"])
def test_every_method_trains_through_the_stage_and_every_parameter_of_its_objective_moves(tmp_path, monkeypatch,
                                                                                          variant):
    """Each compared method trains through `dth train-student` at its own length, validating every
    student.baseline_validate_every epochs, and every parameter of its objective moves."""
    from dth.cli import main
    from dth.models import load_model
    from tests.test_train import write_prepared
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "prepared")
    params = yaml.safe_load(open(__file__.rsplit("/tests/", 1)[0] + "/params.yaml"))
    params["bits"] = [12]
    method = variant.split("+")[0]
    if variant == "dpsh+memory_bank":
        params["dpsh"]["memory_bank"] = True
    params["student"].update(epochs=2, decay_epochs=1, batch_size=20, val_queries=6, val_database=12,
                             baseline_validate_every=5, weight_decay=0.0)
    params[method]["weight_decay"] = 0.0  # no decay: only gradients move weights
    yaml.safe_dump(params, open("params.yaml", "w"))
    torch.manual_seed(0)  # the stage's initialisation at seed 0 (dth.train.seed_everything)
    untrained = Student(bits=12, num_classes=3, in_channels=1, image_size=16, mean=[0.0], std=[1.0])
    assert main(["train-student", "--bits", "12", "--method", method, "--data", "prepared", "--seed", "0",
                 "--out", f"models/{method}.pt", "--curve", f"{method}.csv", "--device", "cpu", "--no-progress"]) == 0
    model, obj = load_model(f"models/{method}.pt")
    assert obj["meta"]["method"] == method and obj["meta"]["lr"] == params[method]["lr"]
    assert obj["meta"]["params"][method] == params[method]
    header, *rows = [line.strip().split(",") for line in open(f"{method}.csv")]
    val = [dict(zip(header, r))["val_map"] for r in rows]
    epochs = 2 * params[method]["epochs_factor"]  # the method's own length: epochs_factor x student.epochs
    assert len(rows) == epochs and obj["meta"]["final"]["epoch"] == epochs
    validated = [e for e in range(1, epochs + 1) if e % 5 == 0 or e == epochs]  # every 5 epochs and after the last
    assert [i + 1 for i, v in enumerate(val) if v != ""] == validated and all(0 <= float(val[e - 1]) <= 1
                                                                              for e in validated)
    trained = dict(model.named_parameters())
    moved = {name for name, p in untrained.named_parameters() if not torch.allclose(p, trained[name])}
    network = {f"{layer}.{kind}" for layer in ("features.0", "features.3", "features.6", "fc", "hash_layer")
               for kind in ("weight", "bias")}
    # the classifier is part of the objective of ce (on sigmoid(u)) and greedyhash (its weights on sign(u),
    # no bias): there it must be trained, elsewhere it must stay as initialised
    expected = network | {"ce": {"classifier.weight", "classifier.bias"},
                          "greedyhash": {"classifier.weight"}}.get(method, set())
    assert moved == expected
    if method == "csq":
        assert obj["meta"]["csq_centres_min_distance"] >= 4


@pytest.mark.parametrize("method", ["dsh", "dpsh", "csq"])
def test_a_compared_method_trains_with_its_own_rate_length_and_weight_decay(tmp_path, monkeypatch, method):
    """dth.students.train_student hands the training loop the method's own lr, weight_decay and
    epochs_factor x student.epochs (the compared methods), or the student section's (dsh)."""
    import dth.students as students
    from tests.test_train import write_prepared
    write_prepared(tmp_path / "prepared")
    params = yaml.safe_load(open(__file__.rsplit("/tests/", 1)[0] + "/params.yaml"))
    params["bits"] = [12]
    params["student"].update(epochs=3, lr=0.1, weight_decay=0.05, val_queries=6, val_database=12)
    if method != "dsh":
        params[method].update(lr=0.02, weight_decay=0.001, epochs_factor=2)
    seen = {}

    class Stop(Exception):
        pass

    def fake_fit(model, step_loss, train, cfg, **kwargs):
        seen.update(lr=cfg.lr, weight_decay=cfg.weight_decay, epochs=cfg.epochs)
        raise Stop

    monkeypatch.setattr(students, "fit", fake_fit)
    with pytest.raises(Stop):
        students.train_student(params, method, 12, seed=0, data=tmp_path / "prepared", device=torch.device("cpu"),
                               name=method, curve=None, checkpoints=None, progress=False)
    assert seen == ({"lr": 0.1, "weight_decay": 0.05, "epochs": 3} if method == "dsh" else
                    {"lr": 0.02, "weight_decay": 0.001, "epochs": 6})


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_dpsh_init_scale_multiplies_the_hash_layers_initial_outputs(scale):
    """dpsh.init_scale (dth.students.scale_hash_layer): u at initialisation is `scale` times the
    unscaled network's, every other layer untouched; 1 changes nothing, bit for bit."""
    from dth.students import scale_hash_layer
    x = torch.rand(5, 1, 28, 28)
    torch.manual_seed(0)
    plain = Student(bits=12, num_classes=10, in_channels=1, image_size=28, mean=[0.3], std=[0.3])
    torch.manual_seed(0)
    scaled = Student(bits=12, num_classes=10, in_channels=1, image_size=28, mean=[0.3], std=[0.3])
    scale_hash_layer(scaled, scale)
    with torch.no_grad():
        u, u_scaled = plain.hash(x), scaled.hash(x)
    if scale == 1.0:
        assert torch.equal(u, u_scaled)
    else:
        torch.testing.assert_close(u_scaled, scale * u)
    assert torch.equal(plain.fc.weight, scaled.fc.weight) and torch.equal(plain.classifier.weight, scaled.classifier.weight)


def test_method_epochs_multiplies_the_students_epochs_for_the_compared_methods_only():
    from dth.params import method_epochs
    params = yaml.safe_load(open(__file__.rsplit("/tests/", 1)[0] + "/params.yaml"))
    params["student"]["epochs"] = 7
    for method in BASELINES:
        params[method]["epochs_factor"] = 3
        assert method_epochs(params, method) == 21
    assert method_epochs(params, "dsh") == 7 and method_epochs(params, "dth") == 7


@pytest.mark.parametrize("database", [0, 4])
def test_sweep_validation_split_never_puts_a_trained_image_in_a_heldout_database(tmp_path, database):
    """workflow/scripts/sweep_lr.py: --val-database 0 queries the held-out images against the training
    images; N > 0 takes the database from the held-out images too, so no validation image is trained on."""
    import importlib.util
    import json
    from tests.test_train import write_prepared
    root = __file__.rsplit("/tests/", 1)[0]
    spec = importlib.util.spec_from_file_location("sweep_lr", root + "/workflow/scripts/sweep_lr.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    write_prepared(tmp_path / "prepared", n_train=40)
    out = sweep.validation_split(tmp_path / "prepared", tmp_path / "val", holdout=10, seed=0, database=database)
    split = {s: np.load(out / f"{s}_images.npy").reshape(-1, 16 * 16) for s in ("train", "query", "database")}
    original = np.load(tmp_path / "prepared" / "train_images.npy").reshape(-1, 16 * 16)
    rows = {s: {original.tolist().index(r) for r in x.tolist()} for s, x in split.items()}  # the random images are distinct
    assert len(rows["train"]) == 30 and len(rows["query"]) == 10 - database
    assert not rows["train"] & rows["query"] and rows["train"] | rows["query"] | rows["database"] == set(range(40))
    if database:
        assert len(rows["database"]) == database and not rows["database"] & (rows["train"] | rows["query"])
    else:
        assert rows["database"] == rows["train"]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts == {"query": 10 - database, "train": 30, "database": 30 if database == 0 else database}
    with pytest.raises(SystemExit, match="--val-database 10: accepted 0"):
        sweep.validation_split(tmp_path / "prepared", tmp_path / "v2", holdout=10, seed=0, database=10)


def test_sweep_rows_of_other_seeds_have_names_of_their_own():
    """workflow/scripts/sweep_lr.py --seed S: a row of another seed is not taken for seed 0's (which
    keeps its name), so the seeds of one setting are all run and recorded."""
    import importlib.util
    root = __file__.rsplit("/tests/", 1)[0]
    spec = importlib.util.spec_from_file_location("sweep_lr", root + "/workflow/scripts/sweep_lr.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    settings = {"dpsh.epochs_factor": 4}
    assert sweep.run_name("dpsh", 12, 0.003, settings, 700) == "dpsh-12-lr0.003-epochs_factor4-vdb700"
    names = {sweep.run_name("dpsh", 12, 0.003, settings, 700, seed) for seed in (0, 1, 2)}
    assert len(names) == 3 and sweep.run_name("dpsh", 12, 0.003, settings, 700, 1).endswith("-vdb700-s1")
    table = pd.DataFrame([{"name": f"lr-sweep:{sweep.run_name('dpsh', 12, lr, settings, 700, seed)}", "method": "dpsh",
                           "setting": "dpsh.epochs_factor=4", "validation": "300 held-out queries vs 700 held-out images",
                           "bits": 12, "lr": lr, "seed": seed, "validation_map": v}
                          for lr, seed, v in [(0.001, 0, 0.74), (0.003, 0, 0.78), (0.003, 1, 0.35)]])
    chosen = sweep.choose(table)  # seed 0's choice is not dragged down by seed 1's collapse
    assert chosen.set_index("seed").loc[0, "lr"] == 0.003 and len(chosen) == 2


def test_sweep_set_takes_the_methods_keys_and_the_shared_schedules():
    """sweep_lr.py --set: a key of the method's section or of `student` (not the rate or the validation
    sizes, which the sweep sets, nor a key the method's section has too, nor student.epochs for a
    method with an epochs_factor); the row's name carries the key's own name."""
    import importlib.util
    root = __file__.rsplit("/tests/", 1)[0]
    spec = importlib.util.spec_from_file_location("sweep_lr", root + "/workflow/scripts/sweep_lr.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    params = load_params(Path(root) / "params.yaml")
    assert sweep.parse_settings("dsh", params, ["student.epochs=80"]) == {"student.epochs": 80}  # dsh's own length
    settings = sweep.parse_settings("dpsh", params, ["dpsh.init_scale=10", "student.augment=none"])
    assert settings == {"dpsh.init_scale": 10, "student.augment": "none"}
    assert sweep.setting_text(settings) == "dpsh.init_scale=10 student.augment=none"
    assert sweep.run_name("dpsh", 12, 0.003, settings) == "dpsh-12-lr0.003-init_scale10-augmentnone"
    bad = ("dpsh.lr=0.1", "student.epochs=3", "student.weight_decay=0", "hashnet.alpha_factor=1", "student.nope=1",
           "dpsh.eta")  # dpsh's L2 penalty is its own dpsh.weight_decay
    for item in bad:
        with pytest.raises(SystemExit, match=r"accepted: dpsh.eta, .*dpsh.weight_decay, .*student.optimizer"):
            sweep.parse_settings("dpsh", params, [item])
