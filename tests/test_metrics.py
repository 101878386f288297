"""dth.metrics against scikit-learn, brute-force references and exhaustive enumeration."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from dth.metrics import (average_precisions, evaluate_codes, mean_average_precision, pr_by_radius,
                         precision_at_n, precision_within_radius)


# --- brute-force references: one query at a time, the definitions written out ---

def brute_distances(q01, db01):
    return (q01[:, None, :] != db01[None, :, :]).sum(-1)


def brute_relevance(ql, dbl):
    if ql.ndim == 1:
        return ql[:, None] == dbl[None, :]
    return (ql.astype(int) @ dbl.T.astype(int)) > 0


def brute_ap(q01, db01, ql, dbl, topk=None):
    """Stable ranking (ties by index), DeepHash's AP@k with the relevant-in-top-k denominator."""
    dist, rel = brute_distances(q01, db01), brute_relevance(ql, dbl)
    topk = topk or db01.shape[0]
    out = []
    for d, r in zip(dist, rel):
        ranked = r[np.argsort(d, kind="stable")][:topk]
        hits, total = 0, 0.0
        for rank, relevant in enumerate(ranked, start=1):
            if relevant:
                hits += 1
                total += hits / rank
        out.append(total / hits if hits else 0.0)
    return np.array(out)


def random_case(rng, nq, ndb, bits, classes, multi=False):
    q01 = rng.integers(0, 2, (nq, bits))
    db01 = rng.integers(0, 2, (ndb, bits))
    if multi:
        ql = (rng.random((nq, classes)) < 0.35).astype(np.uint8)
        dbl = (rng.random((ndb, classes)) < 0.35).astype(np.uint8)
    else:
        ql, dbl = rng.integers(0, classes, nq), rng.integers(0, classes, ndb)
    return q01, db01, ql, dbl


def test_per_query_ap_matches_sklearn_without_ties():
    rng = np.random.default_rng(0)
    bits, ndb = 64, 40
    for _ in range(20):
        # db item i differs from the query in exactly radius[i] bits: all distances distinct
        q = rng.integers(0, 2, (1, bits))
        radius = rng.permutation(bits + 1)[:ndb]
        db = np.repeat(q, ndb, axis=0)
        for i, r in enumerate(radius):
            db[i, rng.permutation(bits)[:r]] ^= 1
        ql, dbl = rng.integers(0, 4, 1), rng.integers(0, 4, ndb)
        dbl[rng.integers(ndb)] = ql[0]  # at least one relevant item
        ours = average_precisions(q, db, ql, dbl)[0]
        ref = average_precision_score(dbl == ql[0], -brute_distances(q, db)[0])
        assert ours == pytest.approx(ref, abs=1e-12)
        # no ties: the tie-aware value is the same
        assert average_precisions(q, db, ql, dbl, ties="average")[0] == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("multi", [False, True])
def test_stable_map_matches_brute_force_with_ties(multi):
    rng = np.random.default_rng(1)
    for trial in range(30):
        ndb = int(rng.integers(1, 60))
        bits = int(rng.integers(1, 10))  # few bits: many ties
        q01, db01, ql, dbl = random_case(rng, 7, ndb, bits, 4, multi)
        topk = None if trial % 3 == 0 else int(rng.integers(1, ndb + 1))
        ref = brute_ap(q01, db01, ql, dbl, topk)
        np.testing.assert_allclose(average_precisions(q01, db01, ql, dbl, topk=topk), ref, atol=1e-12)
        assert mean_average_precision(q01, db01, ql, dbl, topk=topk) == pytest.approx(ref.mean(), abs=1e-12)


def test_code_formats_agree():
    """0/1, ±1, real-valued outputs, torch tensors and packed bytes give the same mAP."""
    rng = np.random.default_rng(2)
    q01, db01, ql, dbl = random_case(rng, 9, 50, 13, 3)
    expected = brute_ap(q01, db01, ql, dbl).mean()
    pm = lambda x: 2 * x - 1  # noqa: E731
    real = lambda x: (2 * x - 1) * rng.random(x.shape)  # noqa: E731
    for qc, dbc, kw in [
        (q01, db01, {}),
        (pm(q01), pm(db01), {}),
        (real(q01), real(db01), {}),
        (torch.tensor(pm(q01), dtype=torch.float32), torch.tensor(pm(db01), dtype=torch.float32), {}),
        (np.packbits(q01.astype(bool), axis=1), np.packbits(db01.astype(bool), axis=1), {"bits": 13}),
    ]:
        assert mean_average_precision(qc, dbc, ql, dbl, **kw) == pytest.approx(expected, abs=1e-12)
    # multi-hot one-hot labels = class ids
    onehot = np.eye(3, dtype=np.uint8)
    assert mean_average_precision(q01, db01, onehot[ql], onehot[dbl]) == pytest.approx(expected, abs=1e-12)


def enumerate_tie_average(q01, db01, ql, dbl, topk):
    """Mean of the stable AP over every order of the database: every order within ties, equally often."""
    total = np.zeros(len(q01))
    perms = list(itertools.permutations(range(len(db01))))
    for perm in perms:
        perm = list(perm)
        total += brute_ap(q01, db01[perm], ql, dbl[perm], topk)
    return total / len(perms)


def test_tie_average_matches_exhaustive_enumeration():
    rng = np.random.default_rng(3)
    for trial in range(12):
        ndb = int(rng.integers(2, 7))
        q01, db01, ql, dbl = random_case(rng, 4, ndb, 2, 2, multi=trial % 2 == 1)
        for topk in range(1, ndb + 1):
            ref = enumerate_tie_average(q01, db01, ql, dbl, topk)
            ours = average_precisions(q01, db01, ql, dbl, topk=topk, ties="average")
            np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_tie_average_ignores_database_order():
    rng = np.random.default_rng(4)
    q01, db01, ql, dbl = random_case(rng, 20, 300, 6, 5, multi=True)
    perm = rng.permutation(300)
    for topk in (None, 37):
        a = mean_average_precision(q01, db01, ql, dbl, topk=topk, ties="average")
        b = mean_average_precision(q01, db01[perm], ql, dbl[perm], topk=topk, ties="average")
        assert a == pytest.approx(b, abs=1e-12)
    # while the stable value does depend on it (with this many ties)
    assert mean_average_precision(q01, db01, ql, dbl) != mean_average_precision(q01, db01[perm], ql, dbl[perm])


def test_multi_label_relevance_by_hand():
    # query shares class 1 with item 0, class 2 with item 2, nothing with item 1
    q = np.array([[0, 0, 0]])
    db = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0]])   # distances 1, 0, 2
    ql = np.array([[0, 1, 1, 0]])
    dbl = np.array([[0, 1, 0, 0], [1, 0, 0, 1], [1, 0, 1, 0]])
    # ranking: item 1 (irrelevant), item 0 (relevant), item 2 (relevant): AP = (1/2 + 2/3) / 2
    assert mean_average_precision(q, db, ql, dbl) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert mean_average_precision(q, db, ql, dbl, topk=2) == pytest.approx(1 / 2)
    assert mean_average_precision(q, db, ql, dbl, topk=1) == 0.0


def test_topk_bounds_and_no_relevant_query():
    rng = np.random.default_rng(5)
    q01, db01, ql, dbl = random_case(rng, 6, 25, 8, 3)
    for ties in ("stable", "average"):
        all_ = mean_average_precision(q01, db01, ql, dbl, ties=ties)
        assert mean_average_precision(q01, db01, ql, dbl, topk=25, ties=ties) == pytest.approx(all_)
        mean_average_precision(q01, db01, ql, dbl, topk=1, ties=ties)
    np.testing.assert_allclose(average_precisions(q01, db01, ql, dbl, topk=1), brute_ap(q01, db01, ql, dbl, 1))
    with pytest.raises(ValueError, match="topk=26.*25"):
        mean_average_precision(q01, db01, ql, dbl, topk=26)
    with pytest.raises(ValueError, match="topk"):
        mean_average_precision(q01, db01, ql, dbl, topk=0)
    with pytest.raises(ValueError, match="ties"):
        mean_average_precision(q01, db01, ql, dbl, ties="random")
    # a query of a class absent from the database scores 0 and still counts in the mean
    ql2 = ql.copy()
    ql2[0] = 7
    ap = average_precisions(q01, db01, ql2, dbl)
    assert ap[0] == 0.0 and average_precisions(q01, db01, ql2, dbl, ties="average")[0] == 0.0
    assert mean_average_precision(q01, db01, ql2, dbl) == pytest.approx(ap.mean())


def test_bad_inputs():
    rng = np.random.default_rng(6)
    q01, db01, ql, dbl = random_case(rng, 3, 10, 8, 3)
    with pytest.raises(ValueError, match="bits"):
        mean_average_precision(q01, db01[:, :5], ql, dbl)
    with pytest.raises(ValueError, match="labels"):
        mean_average_precision(q01, db01, ql[:2], dbl)
    with pytest.raises(ValueError, match="packed"):
        mean_average_precision(np.packbits(q01, axis=1), db01, ql, dbl, bits=9)


def test_long_codes_and_many_labels():
    """More than 64 bits (several uint64 words) and more than 64 classes (several label words)."""
    rng = np.random.default_rng(7)
    q01, db01, ql, dbl = random_case(rng, 5, 80, 150, 70, multi=True)
    q01[:, 10:] = db01[0, 10:]  # make some distances small
    ref = brute_ap(q01, db01, ql, dbl)
    np.testing.assert_allclose(average_precisions(q01, db01, ql, dbl), ref, atol=1e-12)


def test_precision_at_n_and_radius_curves_match_brute_force():
    rng = np.random.default_rng(8)
    q01, db01, ql, dbl = random_case(rng, 12, 90, 7, 4, multi=True)
    q01[0] = 1 - db01[0]  # query 0 far from item 0
    dist, rel = brute_distances(q01, db01), brute_relevance(ql, dbl)

    ranked = np.array([r[np.argsort(d, kind="stable")] for d, r in zip(dist, rel)])
    expected_pn = (np.cumsum(ranked, axis=1)[:, :50] / np.arange(1, 51)).mean(0)
    np.testing.assert_allclose(precision_at_n(q01, db01, ql, dbl, max_n=50), expected_pn, atol=1e-12)

    curves = pr_by_radius(q01, db01, ql, dbl)
    for r in range(8):
        inside = dist <= r
        found = (inside & rel).sum(1)
        retrieved = inside.sum(1)
        p = np.where(retrieved > 0, found / np.maximum(retrieved, 1), 0.0)
        rc = np.where(rel.sum(1) > 0, found / np.maximum(rel.sum(1), 1), 0.0)
        assert curves["precision"][r] == pytest.approx(p.mean(), abs=1e-12)
        assert curves["recall"][r] == pytest.approx(rc.mean(), abs=1e-12)
        assert curves["empty_ball"][r] == pytest.approx((retrieved == 0).mean())
    assert curves["recall"][7] == pytest.approx((rel.sum(1) > 0).mean())  # the whole database

    # radius 2 with an empty ball for one query out of two
    q = np.zeros((2, 8), int)
    db = np.zeros((3, 8), int)
    db[:, :5] = 1  # every item at distance 5 from both queries ...
    db[0] = 0      # ... except item 0 at distance 0
    q[1, :5] = 1   # query 1: item 0 at distance 5, items 1, 2 at 0
    q[0, 7] = 1    # query 0: item 0 at distance 1
    ql, dbl = np.array([0, 0]), np.array([1, 0, 1])
    # query 0: ball {item 0}, irrelevant -> 0; query 1: ball {1, 2}, one relevant -> 1/2
    assert precision_within_radius(q, db, ql, dbl, radius=2) == pytest.approx((0.25, 0.0))
    q[0, :] = 1    # query 0 now at distance >= 3 from everything: empty ball, precision 0
    assert precision_within_radius(q, db, ql, dbl, radius=2) == pytest.approx((0.25, 0.5))
    with pytest.raises(ValueError, match="precision_at"):
        precision_at_n(q, db, ql, dbl, max_n=4)


def test_evaluate_codes_is_consistent_and_thread_independent():
    rng = np.random.default_rng(9)
    q01, db01, ql, dbl = random_case(rng, 150, 400, 12, 6, multi=True)
    qp, dbp = np.packbits(q01.astype(bool), axis=1), np.packbits(db01.astype(bool), axis=1)
    one = evaluate_codes(qp, dbp, ql, dbl, bits=12, topk=100, precision_at=60, radius=2, num_threads=1)
    two = evaluate_codes(qp, dbp, ql, dbl, bits=12, topk=100, precision_at=60, radius=2, num_threads=2)
    assert one["metrics"] == two["metrics"]
    m = one["metrics"]
    assert m["map"] == pytest.approx(brute_ap(q01, db01, ql, dbl, 100).mean(), abs=1e-12)
    assert m["map_tie_average"] == pytest.approx(
        mean_average_precision(q01, db01, ql, dbl, topk=100, ties="average"), abs=1e-12)
    p2, e2 = precision_within_radius(q01, db01, ql, dbl, radius=2)
    assert (m["precision_radius"], m["empty_ball_radius"]) == pytest.approx((p2, e2))
    assert m["radius"] == 2
    assert (m["bits"], m["topk"], m["num_queries"], m["num_database"]) == (12, 100, 150, 400)
    np.testing.assert_allclose(one["pn"]["precision"], precision_at_n(q01, db01, ql, dbl, max_n=60))
    np.testing.assert_allclose(one["pr"]["recall"], pr_by_radius(q01, db01, ql, dbl)["recall"])
    assert all("." not in key for key in m)
