#!/usr/bin/env python3
"""Regenerate the scikit-learn reference fixtures for inzicht's pattern code
(decision trees, k-means, logistic regression and classification metrics).

    pip install scikit-learn numpy pandas      # pandas is not needed by this script
    cd tests/reference/patterns
    python3 make_fixtures.py                   # run this first
    Rscript make_fixtures_rpart.R              # then this (reads breast_cancer.csv)

Writes, into this directory:
  breast_cancer.csv     sklearn.datasets.load_breast_cancer: 30 features + target (0/1)
  wine.csv              sklearn.datasets.load_wine: 13 features + class (0/1/2)
  expected_tree.json    DecisionTreeClassifier on both data sets
  expected_kmeans.json  KMeans (Lloyd) on both data sets, standardized
  expected_metrics.json LogisticRegression on breast_cancer + metric cases

CSV format: header row, ',' separator, '.' decimal mark, no index column.
Every float is written as Python's repr(), the shortest decimal string that
reads back to the same IEEE double; labels are written as integers. Column
names are made safe: lowercase, and every run of characters other than
[a-z0-9] becomes one '_' (so 'mean radius' -> 'mean_radius' and
'od280/od315_of_diluted_wines' -> 'od280_od315_of_diluted_wines').
All models are fitted on the data as read back from the CSVs (parsed with
float(), which is correctly rounded), so the Rust side sees exactly the same
input. The script checks that the read-back values equal sklearn's arrays.

JSON numbers are written by Python's json module (repr of the double), so
they are exactly the doubles sklearn returned. Each file records the versions
used under "versions". Nothing here is random except through the fixed
random_state values named below; the output is reproducible for the same
library versions.

Details that matter when comparing (see README.md for more):
  * DecisionTreeClassifier converts X to float32 before fitting. Thresholds
    are (a/2 + b/2) computed in double from the two adjacent float32 values.
    "root_threshold" is sklearn's value; "root_threshold_f64" is the midpoint
    (a + b)/2 of the two adjacent float64 data values, which is what an
    implementation working in double would give.
  * sklearn visits the features in a random order (drawn from random_state,
    even with max_features=None) and keeps the first best split it meets
    (strict '>'), so ties between equally good splits are broken by
    random_state. "tie_sensitive" says whether refitting with random_state
    0..19 changed any in-sample prediction, n_leaves or depth; the
    "*_range_over_random_state" fields give the spread.
  * cv_accuracy is the mean of the 5 per-fold accuracies (not the pooled
    accuracy). The fold of every row is stored under "folds" so that the Rust
    tests can use exactly the same split.
"""

import json
import math
import os
import platform
import re
import sys
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    adjusted_rand_score,
    balanced_accuracy_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    silhouette_score,
)
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = "tests/reference/patterns/make_fixtures.py"

VERSIONS = {
    "python": platform.python_version(),
    "scikit_learn": sklearn.__version__,
    "numpy": np.__version__,
    "scipy": scipy.__version__,
    "platform": platform.platform(),
    "script": SCRIPT,
}


def log(*args):
    print(*args, file=sys.stderr)


def safe_name(name):
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def fnum(x):
    """A finite double for JSON (NaN/Inf are an error here, not null)."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"non-finite value {x}")
    return x


def flist(xs):
    return [fnum(x) for x in xs]


def write_json(name, obj):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")
    log(f"wrote {name}")


# ---------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------

def write_csv(name, feature_names, X, label_name, y):
    header = [safe_name(n) for n in feature_names] + [label_name]
    assert len(set(header)) == len(header), header
    with open(os.path.join(HERE, name), "w", newline="") as f:
        f.write(",".join(header) + "\n")
        for row, label in zip(X, y):
            f.write(",".join([repr(float(v)) for v in row] + [str(int(label))]) + "\n")
    log(f"wrote {name}")
    return header


def read_csv(name):
    """Header list, float feature matrix (all columns but the last), int labels."""
    with open(os.path.join(HERE, name)) as f:
        header = f.readline().rstrip("\n").split(",")
        rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
    X = np.array([[float(v) for v in r[:-1]] for r in rows], dtype=np.float64)
    y = np.array([int(r[-1]) for r in rows], dtype=np.int64)
    return header, X, y


bc = load_breast_cancer()
wine = load_wine()
write_csv("breast_cancer.csv", bc.feature_names, bc.data, "target", bc.target)
write_csv("wine.csv", wine.feature_names, wine.data, "class", wine.target)

DATA = {}
for fname, src in [("breast_cancer.csv", bc), ("wine.csv", wine)]:
    header, X, y = read_csv(fname)
    assert np.array_equal(X, src.data) and np.array_equal(y, src.target), fname
    DATA[fname] = {"features": header[:-1], "target": header[-1], "X": X, "y": y}
    log(f"{fname}: {X.shape[0]} rows, {X.shape[1]} features, classes {np.bincount(y).tolist()}")

# Folds shared by all cross-validated cases.
CV = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
FOLDS = {}
for fname, d in DATA.items():
    fold = np.empty(len(d["y"]), dtype=np.int64)
    for k, (_, test) in enumerate(CV.split(d["X"], d["y"])):
        fold[test] = k
    FOLDS[fname] = fold


# ---------------------------------------------------------------------------
# b. Decision trees
# ---------------------------------------------------------------------------

def f64_midpoint(x, thr):
    """Midpoint of the two adjacent float64 data values around sklearn's
    threshold; the partition is the one sklearn makes (on float32 values)."""
    x32 = x.astype(np.float32)
    left = x[x32 <= thr].max()
    right = x[x32 > thr].min()
    return (left + right) / 2.0


def tree_fit(X, y, criterion, depth, rs):
    return DecisionTreeClassifier(criterion=criterion, max_depth=depth, random_state=rs).fit(X, y)


def cv_scores(X, y, fold, criterion, depth, rs, auc=False):
    accs, aucs = [], []
    for k in range(5):
        tr, te = fold != k, fold == k
        clf = tree_fit(X[tr], y[tr], criterion, depth, rs)
        accs.append(accuracy_score(y[te], clf.predict(X[te])))
        if auc:
            aucs.append(roc_auc_score(y[te], clf.predict_proba(X[te])[:, 1]))
    return accs, aucs


def tree_cases():
    cases = []
    for fname, d in DATA.items():
        X, y, names, fold = d["X"], d["y"], d["features"], FOLDS[fname]
        # Near-ties that sklearn's FEATURE_THRESHOLD (1e-7, on float32 values)
        # would merge; reported so the Rust side knows whether it matters.
        for j in range(X.shape[1]):
            u = np.unique(X[:, j].astype(np.float32))
            if np.any(np.diff(u) <= 1e-7):
                log(f"  note: {fname} column {names[j]} has float32 neighbours within 1e-7")
            if len(u) != len(np.unique(X[:, j])):
                log(f"  note: {fname} column {names[j]} loses distinct values in float32")
        for criterion in ["gini", "entropy"]:
            for depth in range(1, 7):
                clf = tree_fit(X, y, criterion, depth, 0)
                pred = clf.predict(X)
                t = clf.tree_
                thr = float(t.threshold[0])
                root_j = int(t.feature[0])
                accs, aucs = cv_scores(X, y, fold, criterion, depth, 0,
                                       auc=(fname == "breast_cancer.csv" and criterion == "gini" and depth == 4))
                case = {
                    "data": fname,
                    "target": d["target"],
                    "features": "all",
                    "criterion": criterion,
                    "max_depth": depth,
                    "random_state": 0,
                    "train_accuracy": fnum(accuracy_score(y, pred)),
                    "n_leaves": int(clf.get_n_leaves()),
                    "depth": int(clf.get_depth()),
                    "root_feature": names[root_j],
                    "root_threshold": thr,
                    "root_threshold_f64": fnum(f64_midpoint(X[:, root_j], thr)),
                    "root_n_left": int(t.n_node_samples[t.children_left[0]]),
                    "root_n_right": int(t.n_node_samples[t.children_right[0]]),
                    "cv_accuracy": fnum(np.mean(accs)),
                    "cv_fold_accuracy": flist(accs),
                }
                if aucs:
                    case["cv_auc"] = fnum(np.mean(aucs))
                    case["cv_fold_auc"] = flist(aucs)

                # Sensitivity to sklearn's random tie-breaking.
                tr_acc, leaves, depths, roots, cvs = [], [], [], set(), []
                changed = False
                for rs in range(20):
                    c2 = tree_fit(X, y, criterion, depth, rs)
                    p2 = c2.predict(X)
                    changed |= not np.array_equal(p2, pred)
                    tr_acc.append(accuracy_score(y, p2))
                    leaves.append(c2.get_n_leaves())
                    depths.append(c2.get_depth())
                    roots.add(names[int(c2.tree_.feature[0])])
                    cvs.append(np.mean(cv_scores(X, y, fold, criterion, depth, rs)[0]))
                changed |= len(set(leaves)) > 1 or len(set(depths)) > 1
                case["tie_sensitive"] = bool(changed)
                case["train_accuracy_range_over_random_state"] = [fnum(min(tr_acc)), fnum(max(tr_acc))]
                case["n_leaves_range_over_random_state"] = [int(min(leaves)), int(max(leaves))]
                case["root_features_over_random_state"] = sorted(roots)
                case["cv_accuracy_range_over_random_state"] = [fnum(min(cvs)), fnum(max(cvs))]
                cases.append(case)
                log(f"  tree {fname} {criterion} d={depth}: train {case['train_accuracy']:.6f} "
                    f"leaves {case['n_leaves']} cv {case['cv_accuracy']:.6f} "
                    f"root {case['root_feature']} <= {thr}"
                    + (" [tie-sensitive]" if changed else ""))
    return cases


write_json("expected_tree.json", {
    "versions": VERSIONS,
    "tool": f"scikit-learn {sklearn.__version__}",
    "model": ("DecisionTreeClassifier(criterion=criterion, max_depth=max_depth, random_state=0); "
              "defaults otherwise: splitter='best', min_samples_split=2, min_samples_leaf=1, "
              "max_features=None, min_impurity_decrease=0, ccp_alpha=0 (no pruning)"),
    "notes": [
        "train_accuracy: accuracy of predict(X) on the rows the tree was fitted on (all rows).",
        "n_leaves: get_n_leaves(); sibling leaves with the same predicted class are not merged.",
        "depth: get_depth(); the root alone has depth 0.",
        "root_feature/root_threshold: tree_.feature[0], tree_.threshold[0]; left is x <= threshold. "
        "sklearn fits on float32(X); the threshold is a/2 + b/2 in double of the two adjacent float32 values.",
        "root_threshold_f64: (a + b)/2 of the two adjacent float64 data values (same partition).",
        "cv_accuracy: mean over the 5 folds of the test-fold accuracy; the tree on each fold uses the same "
        "parameters and random_state=0. Folds: StratifiedKFold(n_splits=5, shuffle=True, random_state=0); "
        "folds[data][i] is the test fold (0..4) of row i.",
        "cv_auc: mean over folds of roc_auc_score(y_test, predict_proba(X_test)[:, 1]).",
        "tie_sensitive and *_over_random_state: refits with random_state 0..19 (sklearn breaks ties between "
        "equally good splits by a random feature order).",
    ],
    "folds": {k: v.tolist() for k, v in FOLDS.items()},
    "cases": tree_cases(),
})


# ---------------------------------------------------------------------------
# d. k-means
# ---------------------------------------------------------------------------

def kmeans_cases():
    cases = []
    for fname in ["wine.csv", "breast_cancer.csv"]:
        d = DATA[fname]
        Xs = StandardScaler().fit_transform(d["X"])
        for k in range(2, 7):
            km = KMeans(n_clusters=k, n_init=10, random_state=0, algorithm="lloyd").fit(Xs)
            km200 = KMeans(n_clusters=k, n_init=200, random_state=0, algorithm="lloyd").fit(Xs)
            km200t0 = KMeans(n_clusters=k, n_init=200, random_state=0, algorithm="lloyd", tol=0.0).fit(Xs)
            sizes = sorted(np.bincount(km.labels_, minlength=k).tolist(), reverse=True)
            sizes200 = sorted(np.bincount(km200.labels_, minlength=k).tolist(), reverse=True)
            case = {
                "data": fname,
                "features": d["features"],
                "k": k,
                "inertia": fnum(km.inertia_),
                "n_iter": int(km.n_iter_),
                "silhouette": fnum(silhouette_score(Xs, km.labels_, metric="euclidean")),
                "cluster_sizes": sizes,
                "inertia_best200": fnum(km200.inertia_),
                "cluster_sizes_best200": sizes200,
                "silhouette_best200": fnum(silhouette_score(Xs, km200.labels_, metric="euclidean")),
                "inertia_best200_tol0": fnum(km200t0.inertia_),
            }
            cases.append(case)
            log(f"  kmeans {fname} k={k}: inertia {case['inertia']:.10g} best200 "
                f"{case['inertia_best200']:.10g} tol0 {case['inertia_best200_tol0']:.10g} "
                f"sil {case['silhouette']:.6f} sizes {sizes}")
    return cases


write_json("expected_kmeans.json", {
    "versions": VERSIONS,
    "tool": f"scikit-learn {sklearn.__version__}",
    "standardize": ("StandardScaler(): (x - mean) / sd with the population SD (ddof=0), per column, "
                    "on all rows of the data"),
    "model": ("KMeans(n_clusters=k, n_init=10, random_state=0, algorithm='lloyd'); init='k-means++' "
              "(greedy, 2 + floor(ln k) candidates per step), max_iter=300, tol=1e-4"),
    "notes": [
        "inertia: inertia_ of the n_init=10 fit, i.e. the lowest within-cluster sum of squared euclidean "
        "distances of 10 k-means++ starts (on the standardized data).",
        "inertia_best200: the same with n_init=200. inertia_best200_tol0: n_init=200 and tol=0 (Lloyd runs "
        "until the labels stop changing).",
        "sklearn's tol=1e-4 stops when the squared centre shift <= 1e-4 * mean column variance; the labels are "
        "then reassigned to the final centres, and inertia is computed from those labels and centres.",
        "silhouette: silhouette_score(X_std, labels, metric='euclidean') over all rows, labels of the "
        "n_init=10 fit (silhouette_best200: labels of the n_init=200 fit).",
        "cluster_sizes: sizes of the clusters, sorted descending.",
    ],
    "cases": kmeans_cases(),
})


# ---------------------------------------------------------------------------
# e. Logistic regression and metrics
# ---------------------------------------------------------------------------

def logistic_objective(Xs, y, C, w, b):
    z = Xs @ w + b
    # sum of log-loss, computed stably: log(1 + e^z) - y z
    ll = np.sum(np.logaddexp(0.0, z) - y * z)
    p = 1.0 / (1.0 + np.exp(-z))
    obj = C * ll + 0.5 * w @ w
    grad_w = C * Xs.T @ (p - y) + w
    grad_b = C * np.sum(p - y)
    return obj, np.concatenate([[grad_b], grad_w]), p


def newton_polish(Xs, y, C, w, b, iters=50):
    """Newton's method on C*sum(logloss) + 0.5*||w||^2 from sklearn's solution."""
    n, p = Xs.shape
    A = np.hstack([np.ones((n, 1)), Xs])
    beta = np.concatenate([[b], w])
    R = np.eye(p + 1)
    R[0, 0] = 0.0
    for _ in range(iters):
        z = A @ beta
        mu = 1.0 / (1.0 + np.exp(-z))
        g = C * A.T @ (mu - y) + R @ beta
        H = C * (A.T * (mu * (1 - mu))) @ A + R
        step = np.linalg.solve(H, g)
        beta = beta - step
        if np.max(np.abs(step)) < 1e-15 * (1 + np.max(np.abs(beta))):
            break
    return beta[1:], beta[0]


def metric_cases():
    d = DATA["breast_cancer.csv"]
    Xs = StandardScaler().fit_transform(d["X"])
    y = d["y"]
    logistic = []
    calib = None
    for C in [1.0, 0.1, 0.01]:
        with warnings.catch_warnings():
            # penalty= is deprecated since sklearn 1.8 (same model as l1_ratio=0).
            warnings.simplefilter("ignore", FutureWarning)
            m = LogisticRegression(C=C, penalty="l2", solver="lbfgs", max_iter=10000, tol=1e-10).fit(Xs, y)
        w, b = m.coef_[0].copy(), float(m.intercept_[0])
        proba = m.predict_proba(Xs)
        p1 = proba[:, 1]
        pred = m.predict(Xs)
        obj, grad, _ = logistic_objective(Xs, y, C, w, b)
        wn, bn = newton_polish(Xs, y, C, w, b)
        objn, gradn, pn = logistic_objective(Xs, y, C, wn, bn)
        case = {
            "data": "breast_cancer.csv",
            "target": "target",
            "features": d["features"],
            "C": C,
            "intercept": fnum(b),
            "coef": flist(w),
            "n_iter": int(m.n_iter_[0]),
            "objective": fnum(obj),
            "max_abs_gradient": fnum(np.max(np.abs(grad))),
            "roc_auc": fnum(roc_auc_score(y, p1)),
            "brier": fnum(brier_score_loss(y, p1)),
            "accuracy": fnum(accuracy_score(y, pred)),
            "balanced_accuracy": fnum(balanced_accuracy_score(y, pred)),
            "log_loss": fnum(log_loss(y, proba)),
            "newton_polished": {
                "intercept": fnum(bn),
                "coef": flist(wn),
                "objective": fnum(objn),
                "max_abs_gradient": fnum(np.max(np.abs(gradn))),
                "max_abs_diff_from_sklearn": fnum(np.max(np.abs(np.concatenate([[bn - b], wn - w])))),
                "log_loss": fnum(log_loss(y, np.column_stack([1 - pn, pn]))),
            },
        }
        logistic.append(case)
        log(f"  logistic C={C}: b {b:.12g} auc {case['roc_auc']:.10f} acc {case['accuracy']:.6f} "
            f"|grad| {case['max_abs_gradient']:.2e} newton diff {case['newton_polished']['max_abs_diff_from_sklearn']:.2e}")
        if C == 1.0:
            n_bins = 10
            prob_true, prob_pred = calibration_curve(y, p1, n_bins=n_bins, strategy="quantile")
            edges = np.percentile(p1, np.linspace(0, 1, n_bins + 1) * 100)
            binids = np.searchsorted(edges[1:-1], p1)
            counts = np.bincount(binids, minlength=n_bins)
            calib = {
                "model": "logistic C=1.0 above; y = target, p = predict_proba(X_std)[:, 1]",
                "call": "calibration_curve(y, p, n_bins=10, strategy='quantile')",
                "prob_true": flist(prob_true),
                "prob_pred": flist(prob_pred),
                "bin_edges": flist(edges),
                "bin_counts": [int(c) for c in counts],
                "rule": ("bin_edges = np.percentile(p, [0, 10, ..., 100]) (linear interpolation); row i goes to "
                         "bin searchsorted(bin_edges[1:-1], p_i, side='left'), i.e. bin j holds "
                         "bin_edges[j] < p <= bin_edges[j+1] (bin 0 also everything below, the last bin "
                         "everything above); prob_true = mean y and prob_pred = mean p per bin; empty bins "
                         "are dropped."),
            }

    y_t = [0, 0, 1, 1, 0, 1, 1, 0]
    p_t = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2]
    roc_cases = [{"y": y_t, "p": p_t, "roc_auc": fnum(roc_auc_score(y_t, p_t)),
                  "note": "ties between classes count 1/2 (trapezoidal ROC = Mann-Whitney)"}]

    a1 = [0, 0, 1, 1, 2, 2, 2, 0]
    b1 = [1, 1, 0, 0, 2, 2, 0, 1]
    rng = np.random.default_rng(20240601)
    a2 = rng.integers(0, 3, size=30)
    noise = rng.integers(0, 4, size=30)
    keep = rng.random(30) < 0.6
    b2 = np.where(keep, (a2 + 1) % 3, noise)   # relabelled a2 with 40% of the labels redrawn from 0..3
    ari_cases = [
        {"a": a1, "b": b1, "ari": fnum(adjusted_rand_score(a1, b1))},
        {"a": a2.tolist(), "b": b2.tolist(), "ari": fnum(adjusted_rand_score(a2, b2))},
    ]
    for c in ari_cases:
        log(f"  ari n={len(c['a'])}: {c['ari']!r}")
    log(f"  roc ties: {roc_cases[0]['roc_auc']!r}")
    return logistic, roc_cases, ari_cases, calib


logistic, roc_cases, ari_cases, calib = metric_cases()
write_json("expected_metrics.json", {
    "versions": VERSIONS,
    "tool": f"scikit-learn {sklearn.__version__}",
    "standardize": "StandardScaler(): (x - mean) / sd with the population SD (ddof=0), per column, all rows",
    "logistic_model": ("LogisticRegression(C=C, penalty='l2', solver='lbfgs', max_iter=10000, tol=1e-10) "
                       "(penalty='l2' is deprecated since sklearn 1.8 and equals the default l1_ratio=0)"),
    "penalty_convention": ("sklearn minimises C * sum_i logloss_i + 0.5 * ||w||^2, where "
                           "logloss_i = -[y_i log p_i + (1 - y_i) log(1 - p_i)], p_i = 1/(1 + exp(-(b + x_i'w))), "
                           "the sum is over rows (not the mean), and the intercept b is not penalised. "
                           "Equivalently: mean logloss + ||w||^2 / (2 n C)."),
    "notes": [
        "roc_auc, brier, log_loss use p = predict_proba(X_std)[:, 1] on the rows the model was fitted on.",
        "accuracy and balanced_accuracy use predict(X_std), i.e. class 1 when b + x'w > 0 (p > 0.5).",
        "brier = mean (p - y)^2; log_loss = mean logloss (natural log); balanced_accuracy = mean of the "
        "two per-class recalls.",
        "objective and max_abs_gradient: C*sum(logloss) + 0.5*||w||^2 and the largest absolute component "
        "of its gradient (intercept first) at sklearn's solution.",
        "newton_polished: the optimum of the same objective after Newton steps from sklearn's solution, "
        "computed with numpy (not sklearn), to show how far lbfgs stopped from the exact optimum.",
    ],
    "logistic": logistic,
    "calibration_curve": calib,
    "roc_auc_cases": roc_cases,
    "adjusted_rand_cases": ari_cases,
})
