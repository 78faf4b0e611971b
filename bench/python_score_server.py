#!/usr/bin/env python3
"""Pulse's churn model served by a Python gRPC server (grpcio), for the Score
latency comparison (`bench/score_bench.sh`).

It serves `pulse.v1.ScoringService/Score` from the same proto and the same
model artifact as `pulse serve`, with the same design:

- Score by account id is a lookup: the features of every account (exported
  from Pulse with `pulse-bench score --export-features FILE.csv`) are scored
  once at start, so a request is a dict lookup plus a prebuilt message.
- Score with raw `FeatureVector.values` validates the map (every feature of
  the catalogue, in range, NaN only where allowed) and runs the calibrated
  model with exact TreeSHAP contributions per request; `ordered_values`
  (schema order, checked against the same schema fingerprint as Pulse's
  GetFeatureSchema) and `without_drivers` (the margin alone) as Pulse does.

The model is read from the JSON artifact (`{format, card, payload}`); the GBT
is forust-ml's booster, flattened exactly as `pulse-models` does it
(`treeshap.rs`): leaf weights and covers are f32 widened to f64, NaN follows
the node's missing branch, `x < threshold` goes left. Contributions use the
same exact TreeSHAP formulation as Pulse (per-leaf tables, vectorised with
numpy), checked at start against the classic recursive TreeSHAP algorithm
(Lundberg et al. 2020, Algorithm 2) written out below in plain Python; the
margin, the calibration (Platt, isotonic) and the contributions are computed
in the same order of operations as Pulse, so probabilities agree to the last
bit or nearly (`pulse-bench score --compare` prints the largest difference).

Not mirrored: driver sentences are short ("feature is value, the median is
m"), not Pulse's phrase table; past-date (stored) scores, ScoreBatch,
Explain and the other RPCs are not served.

Usage (see `bench/score_bench.sh`):

    python bench/python_score_server.py --models-dir data/models \
        --features /tmp/features.csv --port 50061

Stubs are generated from `proto/` with grpcio-tools into a temporary
directory at start.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import csv
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------
# Calibration, logistic model, scorecard (pulse-models)
# --------------------------------------------------------------------------


def sigmoid(z: float) -> float:
    """Same branches as `pulse_models::calibration::sigmoid`."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Calibrator:
    """`Calibrator`: identity, Platt or isotonic (clipped linear interpolation)."""

    def __init__(self, spec: dict):
        self.method = spec["method"]
        if self.method == "platt":
            self.a = float(spec["a"])
            self.b = float(spec["b"])
        elif self.method == "isotonic":
            self.x = [float(v) for v in spec["x"]]
            self.y = [float(v) for v in spec["y"]]
            self.low = float(spec["low"])
            self.high = float(spec["high"])
        elif self.method != "identity":
            raise ValueError(f"unknown calibrator {self.method!r}")

    def probability(self, margin: float) -> float:
        if self.method == "identity":
            return sigmoid(margin)
        if self.method == "platt":
            return sigmoid(self.a * margin + self.b)
        v = self._interpolate(margin)
        return min(max(v, self.low), self.high)

    def _interpolate(self, v: float) -> float:
        x, y = self.x, self.y
        if math.isnan(v):
            return y[len(y) // 2]
        if v <= x[0]:
            return y[0]
        if v >= x[-1]:
            return y[-1]
        hi = bisect.bisect_right(x, v)  # first knot strictly greater than v
        lo = hi - 1
        if x[hi] == x[lo]:
            return y[hi]
        return y[lo] + (v - x[lo]) / (x[hi] - x[lo]) * (y[hi] - y[lo])


class Logistic:
    """`LogisticModel`: median imputation, standardisation, linear margin."""

    def __init__(self, m: dict):
        self.names = list(m["feature_names"])
        self.medians = np.array(m["medians"], dtype=np.float64)
        self.means = np.array(m["means"], dtype=np.float64)
        self.scales = np.array(m["scales"], dtype=np.float64)
        self.coef = np.array(m["coefficients"], dtype=np.float64)
        self.intercept = float(m["intercept"])
        self.base_value = self.intercept

    def margin(self, x: np.ndarray) -> float:
        return self.explain(x)[0]

    def explain(self, x: np.ndarray):
        v = np.where(np.isnan(x), self.medians, x)
        out = self.coef * ((v - self.means) / self.scales)
        s = 0.0
        for c in out.tolist():  # sequential, as Rust's iterator sum
            s += c
        return self.intercept + s, out


def f32(v) -> float:
    """An f32 field of forust's JSON, widened to f64 as Rust's `f64::from(f32)`."""
    return float(np.float32(v))


class Forest:
    """forust-ml's booster flattened as `pulse_models::treeshap::Forest`."""

    MAX_FAST_PATH_FEATURES = 10

    def __init__(self, gbt: dict):
        self.names = list(gbt["feature_names"])
        self.n = len(self.names)
        columns = list(gbt["used_columns"])
        b = gbt["booster"]
        trees = b["trees"]
        pi = b.get("prediction_iteration")
        n_trees = min(len(trees) if pi is None else int(pi), len(trees))
        self.base_score = float(b["base_score"])
        self.trees = []  # per tree: list of node tuples
        for t in trees[:n_trees]:
            nodes = []
            for i, nd in enumerate(t["nodes"]):
                if nd["is_leaf"]:
                    nodes.append((True, 0, -1, -1, -1, 0.0, f32(nd["weight_value"]), f32(nd["hessian_sum"])))
                    continue
                for c in (nd["left_child"], nd["right_child"], nd["missing_node"]):
                    if c <= i or c >= len(t["nodes"]):
                        raise ValueError("child index out of range")
                nodes.append((
                    False,
                    columns[nd["split_feature"]],
                    nd["left_child"],
                    nd["right_child"],
                    nd["missing_node"],
                    float(nd["split_value"]),
                    f32(nd["weight_value"]),
                    f32(nd["hessian_sum"]),
                ))
            self.trees.append(nodes)
        s = 0.0
        for nodes in self.trees:
            s += self._expected(nodes, 0)
        self.base_value = self.base_score + s
        self._build_arrays()

    # -- tree helpers ------------------------------------------------------

    @staticmethod
    def _has_missing(nd) -> bool:
        return nd[4] != nd[2] and nd[4] != nd[3]

    @staticmethod
    def _children(nd):
        return (nd[2], nd[3], nd[4]) if Forest._has_missing(nd) else (nd[2], nd[3])

    @staticmethod
    def _child(nd, v: float) -> int:
        if math.isnan(v):
            return nd[4]
        return nd[2] if v < nd[5] else nd[3]

    def _expected(self, nodes, i: int) -> float:
        nd = nodes[i]
        if nd[0]:
            return nd[6]
        w = nodes[nd[2]][7] * self._expected(nodes, nd[2]) + nodes[nd[3]][7] * self._expected(nodes, nd[3])
        if self._has_missing(nd):
            w += nodes[nd[4]][7] * self._expected(nodes, nd[4])
        return w / nd[7]

    # -- per-leaf tables (the fast exact form Pulse serves with) -----------

    def _leaf_tables(self, nodes):
        """Leaves of one tree: (node, value, features, zero fractions, q table,
        path conditions [(ancestor, child on path, slot)]); None when a path has
        more than MAX_FAST_PATH_FEATURES distinct features."""
        leaves = []

        def visit(i, feats, zs, conds) -> bool:
            nd = nodes[i]
            if nd[0]:
                leaves.append((i, nd[6], list(feats), list(zs), self._q_table(zs), list(conds)))
                return True
            added = False
            if nd[1] in feats:
                slot = feats.index(nd[1])
            else:
                feats.append(nd[1])
                zs.append(1.0)
                slot = len(feats) - 1
                added = True
            if len(feats) > self.MAX_FAST_PATH_FEATURES:
                return False
            for c in self._children(nd):
                saved = zs[slot]
                zs[slot] = saved * nodes[c][7] / nd[7]
                conds.append((i, c, slot))
                ok = visit(c, feats, zs, conds)
                conds.pop()
                zs[slot] = saved
                if not ok:
                    return False
            if added:
                feats.pop()
                zs.pop()
            return True

        return leaves if visit(0, [], [], []) else None

    @staticmethod
    def _q_table(z):
        """Q(C) for every subset C of the path's slots, as `LeafTables::add_leaf`."""
        d = len(z)
        dm = max(d, 1)
        w = []
        for k in range(dm):
            v = 1.0 / dm
            for m in range(k):
                v *= (m + 1) / (d - 1 - m)
            w.append(v)
        size = 1 << d
        poly = [[0.0] * (d + 1) for _ in range(size)]
        poly[0][0] = 1.0
        for mask in range(1, size):
            j = (mask & -mask).bit_length() - 1
            prev = mask & (mask - 1)
            for k in range(d + 1):
                v = poly[prev][k]
                if k > 0:
                    v += z[j] * poly[prev][k - 1]
                poly[mask][k] = v
        q = []
        for mask in range(size):
            b = bin(mask).count("1")
            if b >= d:
                q.append(0.0)
            else:
                s = 0.0
                for si in range(b + 1):
                    s += w[si] * poly[mask][b - si]
                q.append(s)
        return q

    def _build_arrays(self):
        """Global numpy arrays: every node of every tree (for margins and for the
        branch each node sends the row to), and the leaf tables of the trees that
        have them."""
        feat, thr, left, right, miss, value, is_leaf, roots = [], [], [], [], [], [], [], []
        leaf_rows = []  # (value, d, features, zs, q_start, [(anc_g, child_g, slot)])
        q_all = []
        self.slow_trees = []
        max_depth = 0
        off = 0
        for ti, nodes in enumerate(self.trees):
            roots.append(off)
            for i, nd in enumerate(nodes):
                if nd[0]:
                    feat.append(0)
                    thr.append(0.0)
                    left.append(off + i)
                    right.append(off + i)
                    miss.append(off + i)
                    is_leaf.append(True)
                else:
                    feat.append(nd[1])
                    thr.append(nd[5])
                    left.append(off + nd[2])
                    right.append(off + nd[3])
                    miss.append(off + nd[4])
                    is_leaf.append(False)
                value.append(nd[6])
            max_depth = max(max_depth, self._depth(nodes, 0))
            if not nodes[0][0]:
                tables = self._leaf_tables(nodes)
                if tables is None:
                    self.slow_trees.append(ti)
                else:
                    for (_leaf, v, fs, zs, q, conds) in tables:
                        if not fs:
                            continue
                        leaf_rows.append((v, len(fs), fs, zs, len(q_all), [(off + a, off + c, s) for a, c, s in conds]))
                        q_all.extend(q)
            off += len(nodes)
        self.g_feat = np.array(feat, dtype=np.int64)
        self.g_thr = np.array(thr, dtype=np.float64)
        self.g_left = np.array(left, dtype=np.int64)
        self.g_right = np.array(right, dtype=np.int64)
        self.g_miss = np.array(miss, dtype=np.int64)
        self.g_value = np.array(value, dtype=np.float64)
        self.roots = np.array(roots, dtype=np.int64)
        self.max_depth = max_depth
        L = len(leaf_rows)
        maxd = max((r[1] for r in leaf_rows), default=1)
        self.maxd = maxd
        self.leaf_value = np.array([r[0] for r in leaf_rows], dtype=np.float64)
        self.leaf_full = np.array([(1 << r[1]) - 1 for r in leaf_rows], dtype=np.int64)
        self.leaf_q = np.array([r[4] for r in leaf_rows], dtype=np.int64)
        self.z_pad = np.ones((L, maxd), dtype=np.float64)
        self.f_pad = np.zeros((L, maxd), dtype=np.int64)
        self.valid = np.zeros((L, maxd), dtype=bool)
        anc, child, bits, starts = [], [], [], []
        for li, r in enumerate(leaf_rows):
            d = r[1]
            self.z_pad[li, :d] = r[3]
            self.f_pad[li, :d] = r[2]
            self.valid[li, :d] = True
            starts.append(len(anc))
            for a, c, s in r[5]:
                anc.append(a)
                child.append(c)
                bits.append(1 << s)
        self.c_anc = np.array(anc, dtype=np.int64)
        self.c_child = np.array(child, dtype=np.int64)
        self.c_bit = np.array(bits, dtype=np.int64)
        self.c_starts = np.array(starts, dtype=np.int64)
        self.q = np.array(q_all, dtype=np.float64)
        self.f_flat = self.f_pad.ravel()
        self.one_minus_z = 1.0 - self.z_pad
        # Lookup tables over every subset mask `a` of maxd slots: which slots
        # are in `a` (padding slots count as in, where they contribute 0), and
        # `a` without each slot.
        masks = np.arange(1 << maxd, dtype=np.int64)[:, None]
        jbits = np.left_shift(1, np.arange(maxd, dtype=np.int64))[None, :]
        self.bits_of = (masks & jbits) != 0
        self.clear_of = masks & ~jbits
        self.pad = ~self.valid

    @staticmethod
    def _depth(nodes, i):
        nd = nodes[i]
        if nd[0]:
            return 0
        return 1 + max(Forest._depth(nodes, c) for c in Forest._children(nd))

    # -- scoring -----------------------------------------------------------

    def _hot(self, x: np.ndarray) -> np.ndarray:
        """The child every node sends the row to (leaves point at themselves)."""
        v = x[self.g_feat]
        return np.where(np.isnan(v), self.g_miss, np.where(v < self.g_thr, self.g_left, self.g_right))

    def _margin_from_hot(self, hot: np.ndarray) -> float:
        node = self.roots
        for _ in range(self.max_depth):
            node = hot[node]
        leafvals = self.g_value[node]
        # Sequential sum from the base score, as `Forest::margin`.
        return float(np.cumsum(np.concatenate(([self.base_score], leafvals)))[-1])

    def margin(self, x: np.ndarray) -> float:
        return self._margin_from_hot(self._hot(x))

    def explain(self, x: np.ndarray):
        """(margin, contributions) of one row, per-leaf tables vectorised."""
        hot = self._hot(x)
        margin = self._margin_from_hot(hot)
        bits = np.where(hot[self.c_anc] != self.c_child, self.c_bit, 0)
        cold = np.bitwise_or.reduceat(bits, self.c_starts) if len(self.c_starts) else np.zeros(0, np.int64)
        a = self.leaf_full & ~cold
        in_a = self.bits_of[a]
        fac = np.where(in_a, 1.0, self.z_pad)
        p = self.leaf_value * fac[:, 0]
        for j in range(1, self.maxd):  # the same order of products as Rust
            p *= fac[:, j]
        off = -p * self.q[self.leaf_q + a]
        qm = self.q[self.leaf_q[:, None] + self.clear_of[a]]
        follow = self.one_minus_z * p[:, None] * qm  # 0 on padding (z = 1)
        contrib = np.where(in_a | self.pad, follow, off[:, None])
        phi = np.bincount(self.f_flat, weights=contrib.ravel(), minlength=self.n)
        for ti in self.slow_trees:
            self._recurse_tree(self.trees[ti], x, phi)
        return margin, phi

    # -- the classic recursive TreeSHAP (reference) ------------------------

    def explain_recursive(self, x: np.ndarray):
        phi = np.zeros(self.n)
        for nodes in self.trees:
            if not nodes[0][0]:
                self._recurse_tree(nodes, x, phi)
        return self.margin(x), phi

    def _recurse_tree(self, nodes, x, phi):
        xs = x.tolist()

        # path elements: [feature, zero_fraction, one_fraction, pweight]
        def extend(path, zero, one, feature):
            d = len(path)
            path.append([feature, zero, one, 1.0 if d == 0 else 0.0])
            for i in range(d - 1, -1, -1):
                path[i + 1][3] += one * path[i][3] * (i + 1) / (d + 1)
                path[i][3] = zero * path[i][3] * (d - i) / (d + 1)

        def unwind(path, k):
            d = len(path) - 1
            one, zero = path[k][2], path[k][1]
            nxt = path[d][3]
            for i in range(d - 1, -1, -1):
                if one != 0.0:
                    tmp = path[i][3]
                    path[i][3] = nxt * (d + 1) / ((i + 1) * one)
                    nxt = tmp - path[i][3] * zero * (d - i) / (d + 1)
                else:
                    path[i][3] = path[i][3] * (d + 1) / (zero * (d - i))
            for i in range(k, d):
                path[i][0], path[i][1], path[i][2] = path[i + 1][0], path[i + 1][1], path[i + 1][2]
            path.pop()

        def unwound_sum(path, k):
            d = len(path) - 1
            one, zero = path[k][2], path[k][1]
            nxt = path[d][3]
            total = 0.0
            for i in range(d - 1, -1, -1):
                if one != 0.0:
                    tmp = nxt * (d + 1) / ((i + 1) * one)
                    total += tmp
                    nxt = path[i][3] - tmp * zero * (d - i) / (d + 1)
                elif zero != 0.0:
                    total += path[i][3] / zero / ((d - i) / (d + 1))
            return total

        def recurse(i, parent_path, zero, one, feature):
            path = [list(e) for e in parent_path]
            extend(path, zero, one, feature)
            nd = nodes[i]
            if nd[0]:
                for k in range(1, len(path)):
                    w = unwound_sum(path, k)
                    el = path[k]
                    phi[el[0]] += w * (el[2] - el[1]) * nd[6]
                return
            hot = self._child(nd, xs[nd[1]])
            iz, io = 1.0, 1.0
            for k in range(len(path)):
                if path[k][0] == nd[1]:
                    iz, io = path[k][1], path[k][2]
                    unwind(path, k)
                    break
            for c in self._children(nd):
                recurse(c, path, nodes[c][7] / nd[7] * iz, io if c == hot else 0.0, nd[1])

        recurse(0, [], 1.0, 1.0, -1)


class GbtModel:
    def __init__(self, m: dict):
        self.forest = Forest(m)
        self.names = self.forest.names
        self.base_value = self.forest.base_value

    def margin(self, x):
        return self.forest.margin(x)

    def explain(self, x):
        return self.forest.explain(x)


class CalibratedModel:
    def __init__(self, payload_model: dict):
        inner = payload_model["model"]
        algo = inner["algorithm"]
        if algo == "gbt":
            self.model = GbtModel(inner["model"])
        elif algo == "logistic":
            self.model = Logistic(inner["model"])
        else:
            raise ValueError(f"unknown algorithm {algo!r}")
        self.algorithm = algo
        self.calibrator = Calibrator(payload_model["calibrator"])
        self.names = self.model.names

    def probability(self, x) -> float:
        return self.calibrator.probability(self.model.margin(x))

    def score(self, x):
        margin, phi = self.model.explain(x)
        return self.calibrator.probability(margin), margin, phi


class Scorecard:
    """`FittedScorecard::score_row` and the quadrant of `pulse-scoring`."""

    COMPONENTS = ["adoption", "support", "sentiment", "relationships", "commercial"]

    def __init__(self, s: dict):
        self.weights = s["weights"]
        self.inputs = []
        for i in s["inputs"]:
            spec = i["spec"]
            norm = spec.get("normalisation") or {"kind": "percentile"}
            self.inputs.append((
                spec["component"],
                spec["direction"],
                float(spec.get("weight", 1.0)),
                norm,
                int(i["column"]),
                [float(g) for g in i["grid"]],
            ))

    @staticmethod
    def _rank(grid, v):
        last = len(grid) - 1
        if v < grid[0]:
            return 0.0
        if v > grid[last]:
            return 100.0
        lo = bisect.bisect_left(grid, v)
        hi = bisect.bisect_right(grid, v)
        if hi > lo:
            return (lo + hi - 1) / 2.0 * 100.0 / last
        a, b = grid[lo - 1], grid[lo]
        return ((lo - 1) + (v - a) / (b - a)) * 100.0 / last

    def components(self, row):
        out = {}
        for c in self.COMPONENTS:
            s = w = 0.0
            for comp, direction, weight, norm, col, grid in self.inputs:
                if comp != c:
                    continue
                v = row[col]
                if math.isnan(v):
                    continue
                if norm.get("kind") == "range":
                    lo, hi = float(norm["low"]), float(norm["high"])
                    n = min(max((v - lo) / (hi - lo) * 100.0, 0.0), 100.0)
                else:
                    if not grid:
                        continue
                    n = self._rank(grid, v)
                sub = n if direction == "higher_is_healthier" else 100.0 - n
                s += weight * sub
                w += weight
            out[c] = s / w if w > 0.0 else None
        return out

    def quadrant(self, row, cut):
        comp = self.components(row)

        def mean(cs):
            v = [comp[c] for c in cs if comp[c] is not None]
            return sum(v) / len(v) if v else 50.0

        outcome = mean(["adoption", "commercial"])
        experience = mean(["support", "sentiment", "relationships"])
        q = {
            (True, True): "happy_and_successful",
            (True, False): "trapped",
            (False, True): "accessible",
            (False, False): "high_risk",
        }[(outcome >= cut, experience >= cut)]
        return outcome, experience, q


# --------------------------------------------------------------------------
# Artifacts, catalogue, validation, plays
# --------------------------------------------------------------------------


def load_artifact(path: Path):
    with open(path, "rb") as f:
        doc = json.load(f)
    if doc.get("format") != "pulse-model/1":
        raise SystemExit(f"{path}: not a pulse-model/1 artifact")
    payload = doc["payload"]
    if payload.get("encoder") is not None:
        raise SystemExit(f"{path}: a table model (pulse train --table) cannot score accounts")
    return doc["card"], payload


def promoted(models_dir: Path, kind: str):
    idx = json.loads((models_dir / "registry.json").read_text())
    v = idx.get("promoted", {}).get(kind)
    return (models_dir / f"{v}.json") if v else None


def valid_range(name: str, unit: str):
    """The closed range of valid values, as `pulse_scoring::raw::valid_range`
    (keep the two in step)."""
    inf = math.inf
    special = {
        "mrr_change_90d": (-1.0, inf),
        "tenure_days": (-inf, inf),
        "days_to_renewal": (0.0, 366.0),
        "sentiment_trend": (-2.0, 2.0),
        "nps_trend": (-10.0, 10.0),
    }
    if name in special:
        return special[name]
    return {
        "fraction": (0.0, 1.0),
        "ratio [-1,1]": (-1.0, 1.0),
        "score [-1,1]": (-1.0, 1.0),
        "score 1-5": (1.0, 5.0),
        "score 0-10": (0.0, 10.0),
        "level 1-4": (1.0, 4.0),
        "0/1": (0.0, 1.0),
        "ordinal": (0.0, 2.0),
    }.get(unit, (0.0, inf))


PLAYS = [
    ("missed_payroll_*", "Pre-deadline check-in call before the next payroll run"),
    ("tax_errors_*", "Tax-filing review with a payroll specialist"),
    ("champion_left", "Find and onboard a new champion; multi-thread the account"),
    ("champion_*", "Champion call: reconnect and ask what is blocking them"),
    ("exec_sponsor_*", "Executive sponsor alignment meeting"),
    ("admin_*", "Admin office hours: fix what frustrates the day-to-day user"),
    ("relationship_strength_mean", "Relationship building: meet the wider team"),
    ("contacts_active", "Relationship building: meet the wider team"),
    ("payment_failures_90d", "Billing outreach to fix the payment method"),
    ("price_increase_90d", "Pricing conversation: explain the change, offer annual terms"),
    ("downgrades_*", "Value review: map spend to outcomes before renewal"),
    ("mrr_change_90d", "Value review: map spend to outcomes before renewal"),
    ("days_to_renewal", "Start the renewal conversation early"),
    ("onboarding_*", "Guided setup session to finish onboarding"),
    ("training_completed", "Schedule admin training"),
    ("csat_*", "Service recovery call about the lowest-rated tickets"),
    ("sentiment_*", "Listen-first call with the main contact about recent frustrations"),
    ("survey_sentiment_mean_180d", "Close the loop on the latest survey comments"),
    ("nps_*", "Close the loop on the latest NPS feedback"),
    ("escalation_rate_90d", "Support escalation review with a named support lead"),
    ("reopen_rate_90d", "Support escalation review with a named support lead"),
    ("repeat_topic_contacts_90d", "Root-cause call on the recurring issue"),
    ("interactions_*", "Support review: assign a named support lead for a month"),
    ("open_interactions", "Support review: close the open tickets with the customer"),
    ("first_response_hours_90d", "Support review: assign a named support lead for a month"),
    ("resolution_hours_90d", "Support review: assign a named support lead for a month"),
    ("fcr_rate_90d", "Support review: assign a named support lead for a month"),
    ("contacts_to_resolve_90d", "Support review: assign a named support lead for a month"),
    ("active_users_*", "Adoption workshop: re-train admins and end users"),
    ("logins_*", "Adoption workshop: re-train admins and end users"),
    ("feature_breadth_30d", "Feature walkthrough of what they are not using yet"),
    ("days_since_active", "Re-engagement call: is anyone still using it?"),
]
BAND_PLAYS = {
    "red": "Risk review: owner calls the main contact this week",
    "yellow": "Proactive check-in call",
    "green": "Nurture: share best practices and look for expansion",
}


def play_for(feature: str):
    for pat, play in PLAYS:
        if pat.endswith("*"):
            if feature.startswith(pat[:-1]):
                return play
        elif feature == pat:
            return play
    return None


class FieldError(Exception):
    pass


# --------------------------------------------------------------------------
# The scoring engine
# --------------------------------------------------------------------------


class Engine:
    def __init__(self, args):
        if args.artifact:
            churn_path = Path(args.artifact)
            exp_path = Path(args.expansion_artifact) if args.expansion_artifact else None
        else:
            models = Path(args.models_dir)
            churn_path = promoted(models, "churn")
            if churn_path is None:
                raise SystemExit(f"{models}: no promoted churn model (registry.json)")
            exp_path = None if args.no_expansion else promoted(models, "expansion")
        card, payload = load_artifact(churn_path)
        self.churn_version = card["version"]
        self.churn = CalibratedModel(payload["model"])
        self.scorecard = Scorecard(payload["scorecard"]) if payload.get("scorecard") else None
        self.expansion = None
        self.expansion_version = ""
        if exp_path is not None:
            ecard, epayload = load_artifact(exp_path)
            self.expansion = CalibratedModel(epayload["model"])
            self.expansion_version = ecard["version"]
            if self.expansion.names != self.churn.names:
                raise SystemExit("the expansion model's feature schema differs from the churn model's")
        self.names = self.churn.names
        self.n = len(self.names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.horizon = args.horizon_days
        self.green_min, self.yellow_min, self.cut = 90.0, 75.0, 50.0
        self.default_k = 3
        self.mrr_col = self.index.get("mrr")
        catalog = json.loads(Path(args.catalog).read_text())
        by_name = {f["name"]: f for f in catalog}
        missing = [n for n in self.names if n not in by_name]
        if missing:
            raise SystemExit(f"{args.catalog}: no catalogue entry for {missing[:3]}")
        self.family = [by_name[n]["family"] for n in self.names]
        self.unit = [by_name[n]["unit"] for n in self.names]
        self.may_be_nan = ["NaN" in by_name[n]["description"] for n in self.names]
        self.ranges = [valid_range(n, by_name[n]["unit"]) for n in self.names]
        self.plays = [play_for(n) for n in self.names]
        self.medians = [math.nan] * self.n
        print(
            f"model {self.churn_version} ({self.churn.algorithm}, "
            f"{len(self.churn.model.forest.trees) if self.churn.algorithm == 'gbt' else 0} trees, "
            f"{self.churn.calibrator.method} calibration), expansion {self.expansion_version or '-'}, "
            f"scorecard {'yes' if self.scorecard else 'no'}",
            file=sys.stderr,
        )

    def fingerprint(self) -> str:
        """`pulse_scoring::raw::schema_fingerprint`: FNV-1a 64 over the names, newline-terminated."""
        h = 0xCBF29CE484222325
        for name in self.names:
            for b in name.encode() + b"\n":
                h ^= b
                h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        return f"{h:016x}"

    def row_from_ordered(self, values) -> np.ndarray:
        """`pulse_scoring::raw::row_from_ordered` after the schema check: values in column order."""
        if len(values) != self.n:
            raise FieldError(f"features.ordered_values: {len(values)} values, the schema has {self.n} features")
        return self.row_from_map(dict(zip(self.names, values)))

    def row_from_map(self, values) -> np.ndarray:
        """`pulse_scoring::raw::row_from_map`: unknown names, then missing, then bad values."""
        unknown = [k for k in values.keys() if k not in self.index]
        if unknown:
            raise FieldError(f"feature {min(unknown)}: is not a feature of the model's schema")
        row = np.empty(self.n)
        for j, name in enumerate(self.names):
            if name not in values:
                raise FieldError(
                    f"feature {name}: is missing (all {self.n} features are required; "
                    "NaN marks an unknown value where allowed)"
                )
            v = values[name]
            if math.isnan(v):
                if not self.may_be_nan[j]:
                    raise FieldError(f"feature {name}: is NaN, but this feature is never unknown")
            elif math.isinf(v):
                raise FieldError(f"feature {name}: {v} is not finite")
            else:
                lo, hi = self.ranges[j]
                if v < lo or v > hi:
                    raise FieldError(f"feature {name}: {v} is outside [{lo}, {hi}]")
                if self.unit[j] in ("0/1", "ordinal") and v != int(v):
                    raise FieldError(f"feature {name}: {v} is not a whole number")
            row[j] = v
        return row

    def score(self, row: np.ndarray, arr: float, drivers: bool = True):
        if drivers:
            p, margin, phi = self.churn.score(row)
        else:
            # ScoreRequest.without_drivers: the margin alone, no contributions.
            margin = self.churn.model.margin(row)
            p, phi = self.churn.calibrator.probability(margin), None
        health = 100.0 * (1.0 - p)
        band = "green" if health >= self.green_min else ("yellow" if health >= self.yellow_min else "red")
        if self.scorecard is not None:
            outcome, experience, quadrant = self.scorecard.quadrant(row, self.cut)
        else:
            outcome, experience, quadrant = math.nan, math.nan, "unknown"
        expansion = self.expansion.probability(row) if self.expansion is not None else None
        if arr <= 0.0:
            mrr = row[self.mrr_col] if self.mrr_col is not None else math.nan
            arr = 12.0 * mrr if math.isfinite(mrr) else 0.0
        return {
            "p": p,
            "margin": margin,
            "phi": phi,
            "health": health,
            "band": band,
            "quadrant": quadrant,
            "outcome": outcome,
            "experience": experience,
            "expansion": expansion,
            "arr": arr,
        }

    def order(self, phi, k):
        """The k strongest features by |contribution|, ties by schema order."""
        a = np.abs(phi)
        idx = np.lexsort((np.arange(self.n), -a))
        return idx[:k].tolist()

    def suggested_play(self, phi, band):
        risers = sorted((j for j in range(self.n) if phi[j] > 0.0), key=lambda j: -phi[j])
        for j in risers:
            if self.plays[j]:
                return self.plays[j]
        return BAND_PLAYS[band]


def fmt(v: float) -> str:
    if math.isnan(v):
        return "unknown"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.2f}"


# --------------------------------------------------------------------------
# gRPC
# --------------------------------------------------------------------------


def generate_stubs(proto_dir: Path) -> Path:
    out = Path(tempfile.mkdtemp(prefix="pulse-py-stubs-"))
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        "pulse/v1/scoring.proto",
    ]
    subprocess.run(cmd, check=True)
    return out


class Population:
    """Accounts and their features from `pulse-bench score --export-features`."""

    def __init__(self, path: Path, names):
        self.ids, self.as_of, self.arr = [], [], []
        rows = []
        with open(path, newline="") as f:
            r = csv.reader(f)
            header = next(r)
            if header[:3] != ["account_id", "as_of", "arr"]:
                raise SystemExit(f"{path}: expected account_id,as_of,arr,<features...>")
            cols = header[3:]
            pos = {n: i for i, n in enumerate(cols)}
            missing = [n for n in names if n not in pos]
            if missing:
                raise SystemExit(f"{path}: no column for {missing[:3]}")
            take = [pos[n] for n in names]
            for line in r:
                vals = [float(v) for v in line[3:]]
                rows.append([vals[i] for i in take])
                self.ids.append(line[0])
                self.as_of.append(line[1])
                self.arr.append(float(line[2]))
        self.x = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))


def make_messages(pb):
    def driver(engine, row, phi, j, medians):
        name = engine.names[j]
        v = float(row[j])
        c = float(phi[j])
        sentence = f"{name} is {fmt(v)}"
        comparison = None
        m = medians[j]
        if math.isfinite(v) and math.isfinite(m) and engine.unit[j] not in ("0/1", "ordinal"):
            ratio = v / m if v > 0 and m > 0 else 0.0
            text = f"the median is {fmt(m)}"
            sentence += ", " + text
            comparison = pb.Comparison(basis="segment_median", reference=m, ratio=ratio, text=text)
        return pb.Driver(
            feature=name,
            family=engine.family[j],
            value=v,
            comparison=comparison,
            contribution=c,
            sentence=sentence,
            play=(engine.plays[j] or "") if c > 0.0 else "",
        )

    def response(engine, account_id, as_of, s, row, k, source, medians):
        msg = pb.ScoreResponse(
            account_id=account_id,
            as_of=as_of,
            churn_probability=s["p"],
            horizon_days=engine.horizon,
            health=s["health"],
            band=s["band"],
            quadrant=s["quadrant"],
            outcome=s["outcome"],
            experience=s["experience"],
            arr=s["arr"],
            arr_at_risk=s["p"] * s["arr"],
            drivers=[] if s["phi"] is None else [driver(engine, row, s["phi"], j, medians) for j in engine.order(s["phi"], k)],
            suggested_play=BAND_PLAYS[s["band"]] if s["phi"] is None else engine.suggested_play(s["phi"], s["band"]),
            models=pb.ModelVersions(churn=engine.churn_version, expansion=engine.expansion_version),
            source=source,
        )
        if s["expansion"] is not None:
            msg.expansion_probability = s["expansion"]
        return msg

    return response


def serve(args, engine: Engine, population, stub_dir: Path, precomputed):
    sys.path.insert(0, str(stub_dir))
    import grpc  # noqa: E402 (after fork: each process has its own gRPC core)
    from pulse.v1 import scoring_pb2 as pb  # noqa: E402
    from pulse.v1 import scoring_pb2_grpc as pbg  # noqa: E402

    response = make_messages(pb)
    medians = engine.medians
    by_id = {}
    live = {}
    if population is not None:
        for i, aid in enumerate(population.ids):
            live[aid] = i
    auth = f"Bearer {args.api_key}" if args.api_key else None
    fingerprint = engine.fingerprint()
    STORED = 5

    class Scoring(pbg.ScoringServiceServicer):
        async def Score(self, request, context):
            if auth is not None:
                md = dict(context.invocation_metadata())
                if md.get("authorization") != auth:
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid API key")
            k = 0 if request.without_drivers else (request.top_drivers or engine.default_k)
            if k > engine.n:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"top_drivers: {k} is more than the {engine.n} features",
                )
            which = request.WhichOneof("subject")
            if which == "account_id":
                aid = request.account_id.strip()
                i = live.get(aid)
                if i is None:
                    await context.abort(grpc.StatusCode.NOT_FOUND, f"account '{aid}' not found")
                if request.as_of and request.as_of != population.as_of[i]:
                    await context.abort(
                        grpc.StatusCode.UNIMPLEMENTED,
                        "past-date scores are not served by the comparison server",
                    )
                key = (i, k)
                msg = by_id.get(key)
                if msg is None:
                    s = precomputed[i]
                    if k > STORED:
                        # As Pulse: beyond the stored drivers, score again.
                        s = engine.score(population.x[i], population.arr[i])
                    msg = response(engine, aid, population.as_of[i], s, population.x[i], k, pb.SCORE_SOURCE_LIVE, medians)
                    by_id[key] = msg
                return msg
            if which == "features":
                fv = request.features
                try:
                    if len(fv.ordered_values) > 0:
                        if len(fv.values) > 0:
                            raise FieldError("features.values: give the values by name or as ordered_values, not both")
                        if fv.schema.strip() != fingerprint:
                            await context.abort(
                                grpc.StatusCode.FAILED_PRECONDITION,
                                f"features.schema: '{fv.schema}' is not this server's feature schema ({fingerprint})",
                            )
                        row = engine.row_from_ordered(fv.ordered_values)
                    else:
                        row = engine.row_from_map(dict(fv.values))
                except FieldError as e:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
                s = engine.score(row, fv.arr, drivers=not request.without_drivers)
                as_of = request.as_of or dt.datetime.now(dt.timezone.utc).date().isoformat()
                return response(engine, fv.reference, as_of, s, row, k, pb.SCORE_SOURCE_RAW, medians)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "subject: account_id or features is required")

        async def GetFeatureSchema(self, request, context):
            return pb.FeatureSchema(
                features=[
                    pb.SchemaFeature(
                        name=name,
                        family=engine.family[j],
                        unit=engine.unit[j],
                        min=engine.ranges[j][0],
                        max=engine.ranges[j][1],
                        may_be_unknown=engine.may_be_nan[j],
                    )
                    for j, name in enumerate(engine.names)
                ],
                fingerprint=fingerprint,
            )

    async def main():
        server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
        pbg.add_ScoringServiceServicer_to_server(Scoring(), server)
        server.add_insecure_port(f"{args.host}:{args.port}")
        await server.start()
        print(f"python score server (pid {os.getpid()}) listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
        await server.wait_for_termination()

    asyncio.run(main())


def self_check(engine: Engine, rows: np.ndarray, n: int):
    """Vectorised per-leaf TreeSHAP against the recursive algorithm, and
    base + sum(contributions) against the margin."""
    if engine.churn.algorithm != "gbt" or len(rows) == 0 or n <= 0:
        return
    forest = engine.churn.model.forest
    worst_rec = worst_sum = 0.0
    t_fast = t_rec = 0.0
    for i in range(min(n, len(rows))):
        x = rows[i]
        t0 = time.perf_counter()
        m1, p1 = forest.explain(x)
        t1 = time.perf_counter()
        m2, p2 = forest.explain_recursive(x)
        t2 = time.perf_counter()
        t_fast += t1 - t0
        t_rec += t2 - t1
        worst_rec = max(worst_rec, float(np.max(np.abs(p1 - p2))))
        worst_sum = max(worst_sum, abs(forest.base_value + float(np.sum(p1)) - m1))
    k = min(n, len(rows))
    print(
        f"self-check on {k} rows: max |fast - recursive TreeSHAP| = {worst_rec:.3g}, "
        f"max |base + sum - margin| = {worst_sum:.3g}; "
        f"{1e6 * t_fast / k:.0f} us/row vectorised, {1e6 * t_rec / k:.0f} us/row recursive",
        file=sys.stderr,
    )
    if worst_rec > 1e-9 or worst_sum > 1e-9:
        raise SystemExit("self-check failed: the vectorised TreeSHAP disagrees with the recursive one")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--models-dir", help="Pulse model registry (<data-dir>/models): serves the promoted churn (and expansion) model")
    src.add_argument("--artifact", help="a churn model artifact (JSON)")
    ap.add_argument("--expansion-artifact", help="with --artifact: an expansion model artifact")
    ap.add_argument("--no-expansion", action="store_true", help="ignore the promoted expansion model")
    ap.add_argument("--features", help="accounts' features (pulse-bench score --export-features); without it only raw Score works")
    ap.add_argument("--catalog", help="feature catalogue JSON [default: beside --features, <stem>.catalog.json]")
    ap.add_argument("--proto-dir", default=str(REPO / "proto"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=50061)
    ap.add_argument("--processes", type=int, default=1, help="server processes sharing the port (SO_REUSEPORT)")
    ap.add_argument("--horizon-days", type=int, default=90)
    ap.add_argument("--api-key", default=os.environ.get("PULSE_BENCH_API_KEY"), help="require 'authorization: Bearer KEY'")
    ap.add_argument("--self-check", type=int, default=20, help="rows checked against the recursive TreeSHAP at start")
    ap.add_argument("--check-only", action="store_true", help="load, self-check and exit")
    args = ap.parse_args()
    if not args.catalog:
        if not args.features:
            ap.error("--catalog is required without --features")
        f = Path(args.features)
        args.catalog = str(f.with_name(f.stem + ".catalog.json"))

    t0 = time.perf_counter()
    engine = Engine(args)
    population = None
    precomputed = []
    if args.features:
        population = Population(Path(args.features), engine.names)
        if len(population.ids):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                engine.medians = [float(v) for v in np.nanmedian(population.x, axis=0)]
        for i in range(len(population.ids)):
            precomputed.append(engine.score(population.x[i], population.arr[i]))
        print(
            f"{len(population.ids)} accounts scored in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
        self_check(engine, population.x, args.self_check)
    if args.check_only:
        return
    stub_dir = generate_stubs(Path(args.proto_dir))
    children = []
    for _ in range(max(args.processes, 1) - 1):
        pid = os.fork()
        if pid == 0:
            serve(args, engine, population, stub_dir, precomputed)
            os._exit(0)
        children.append(pid)

    def stop(*_):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        os._exit(0)

    # Stopping the first process stops them all.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    serve(args, engine, population, stub_dir, precomputed)


if __name__ == "__main__":
    main()
