#!/usr/bin/env python3
"""Reference fixture for inzicht's propensity-score matcher.

Regenerate (from this directory):

    pip install numpy statsmodels
    python3 make_fixture.py          # reads lalonde.csv, writes expected.json

(lalonde.csv itself is written by extract_lalonde.R; see README.md.)

This script is the specification that the Rust matcher follows. Only numpy and
statsmodels are used, and the algorithm is written out below rather than taken
from a matching package.

Algorithm
---------
Input: n units (the rows of the data, in file order; "row index" below means
the 0-based position in the file), a 0/1 treatment column, an outcome column
Y, covariates x_1..x_p, and options caliper (None or c > 0), ratio k >= 1 and
replace (bool).

1. Propensity score. Fit a logistic regression of the treatment on an
   intercept plus the covariates by maximum likelihood (Newton-Raphson to a
   tight tolerance). The linear predictor of unit i is lp_i = x_i'beta, and its
   propensity score is ps_i = 1 / (1 + exp(-lp_i)). The distance between units
   i and j is |lp_i - lp_j|.

2. Caliper (optional). width = c * SD(lp), where SD is the sample standard
   deviation (divisor n - 1) of lp over ALL n units, treated and controls.
   A control j is eligible for treated unit i only if |lp_i - lp_j| <= width.
   Without a caliper every control is eligible.

3. Order. Treated units are processed by descending ps. Units with equal ps
   keep their row order (earlier row first), i.e. a stable sort on -ps.
   (In lalonde, equal ps only comes from identical covariate rows, whose lp
   are bitwise equal. Units whose ps is not equal differ by at least 1.6e-5
   in lp; see diagnostics.min_order_gap. So no tolerance is needed here,
   and sorting on -lp gives the same order.)

4. Rounds. For r = 1..k, go through the treated units in that order. Each
   treated unit i that is still active and has exactly r - 1 controls picks
   the nearest eligible control that is still available:
     * not already among i's own controls;
     * without replacement: not used by any treated unit so far (a control is
       used at most once overall);
     * with replacement: any control, any number of times overall.
   Ties in distance go to the control with the lowest row index. Two
   distances count as tied when they differ by at most TIE_TOL = 1e-9 (the
   absolute difference, in lp units). Exact ties really happen: lp is linear
   in age, so controls aged a-1 and a+1 (all else equal) are at exactly the
   same distance from a treated unit aged a. Rounding splits such ties at the
   1e-16 level in a direction that depends on how lp was computed, so
   bitwise comparison would not be reproducible. Formally: with d* the
   smallest distance among available controls, pick the lowest row index
   among the controls whose distance is <= d* + TIE_TOL. If no
   control is available, i becomes inactive and gets no more controls in
   later rounds. A treated unit with zero controls at the end is unmatched:
   it is left out of the estimate and counted in n_treated_unmatched.

5. Estimand: ATT. For each matched treated unit i with control set C_i,
       d_i = Y_i - mean(Y_c for c in C_i).
   With N1 = the number of matched treated units,
       att = mean(d_i),
       se  = sqrt( sum_i (d_i - att)^2 / (N1 (N1 - 1)) ),
       ci  = [att - z se, att + z se]  with z = 1.959963984540054.
   n_controls_used = number of distinct controls used.

6. Balance per covariate x. sd_t = the sample SD (n - 1) of x over ALL treated
   units before matching, and var() is the sample variance (n - 1).
       smd_before = (mean_t - mean_c) / sd_t      (all treated vs all controls)
       vr_before  = var_t / var_c
   After matching, control j has weight w_j = sum over the treated i that used
   j of 1 / |C_i| (only controls with w_j > 0 take part; a control that was
   used twice by different treated units counts twice through w_j). Then
       smd_after = (mean of x over matched treated - xbar_w) / sd_t
       vr_after  = var of x over matched treated (unweighted, n - 1)
                   / weighted variance of the controls,
   where xbar_w = sum w x / sum w, and the weighted variance is the
   "reliability weights" form
       sum w (x - xbar_w)^2 / (sum w - sum w^2 / sum w).

7. propensity_model: [{name, coef}], with "(Intercept)" first and then the
   covariates in the order given.
"""

import json
import math
import os
import sys

import numpy as np
import statsmodels
import statsmodels.api as sm

Z975 = 1.959963984540054
# distances within TIE_TOL of the nearest one are ties (see docstring)
TIE_TOL = 1e-9
HERE = os.path.dirname(os.path.abspath(__file__))


def read_csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    return {h: np.array([float(r[i]) for r in rows]) for i, h in enumerate(header)}


def fit_logit(treat, X):
    """Logistic regression by Newton-Raphson (statsmodels), tight tolerance."""
    res = sm.Logit(treat, X).fit(method="newton", tol=1e-14, maxiter=200,
                                 disp=0)
    if not res.mle_retvals["converged"]:
        raise RuntimeError("logit did not converge")
    beta = np.asarray(res.params, dtype=float)
    # one more Newton step by hand as a convergence check
    lp = X @ beta
    p = 1.0 / (1.0 + np.exp(-lp))
    grad = X.T @ (treat - p)
    hess = (X * (p * (1 - p))[:, None]).T @ X
    step = np.linalg.solve(hess, grad)
    assert np.max(np.abs(step)) < 1e-10 * max(1.0, np.max(np.abs(beta))), step
    return beta


def match(lp, ps, treat, caliper, ratio, replace):
    n = len(lp)
    treated = [i for i in range(n) if treat[i] == 1]
    controls = [j for j in range(n) if treat[j] == 0]
    width = None
    if caliper is not None:
        width = caliper * float(np.std(lp, ddof=1))
    # stable sort: descending ps, ties by row order
    order = sorted(treated, key=lambda i: (-ps[i], i))
    # the Rust side may sort on lp; check both give the same order here
    order_lp = sorted(treated, key=lambda i: (-lp[i], i))
    assert order == order_lp, "ps order and lp order differ"

    chosen = {i: [] for i in treated}
    active = {i: True for i in treated}
    used = set()
    # diagnostics: how close were the decisions to flipping?
    min_gap = math.inf        # best vs runner-up distance (distinct lp values)
    min_caliper_gap = math.inf  # |distance - width| over all candidates
    n_tol_ties = 0
    for r in range(1, ratio + 1):
        for i in order:
            if not active[i] or len(chosen[i]) != r - 1:
                continue
            cands = []
            for j in controls:  # ascending row index
                if j in chosen[i]:
                    continue
                if not replace and j in used:
                    continue
                dist = abs(lp[i] - lp[j])
                if width is not None:
                    min_caliper_gap = min(min_caliper_gap, abs(dist - width))
                    if dist > width:
                        continue
                cands.append((dist, j))
            if not cands:
                active[i] = False
                continue
            # nearest distance; every candidate within TIE_TOL of it is a
            # tie, and ties go to the lowest row index
            d_min = min(dist for dist, _ in cands)
            tied = [j for dist, j in cands if dist <= d_min + TIE_TOL]
            best_j = min(tied)
            if len(set(lp[j] for j in tied)) > 1:
                n_tol_ties += 1   # a tie only up to rounding, not bitwise
            rest = [dist for dist, _ in cands if dist > d_min + TIE_TOL]
            if rest:
                min_gap = min(min_gap, min(rest) - d_min)
            chosen[i].append(best_j)
            used.add(best_j)
    # smallest lp gap between treated units that are adjacent in the order
    # but not tied (shows the order is not decided by rounding)
    gaps = [lp[a] - lp[b] for a, b in zip(order, order[1:]) if lp[a] != lp[b]]
    min_order_gap = min(gaps) if gaps else math.inf
    diag = {
        "min_choice_gap": float(min_gap),
        "min_caliper_gap": None if width is None else float(min_caliper_gap),
        "min_order_gap": float(min_order_gap),
        "tolerance_ties": n_tol_ties,
    }
    return order, chosen, width, diag


def weighted_var(x, w):
    sw = w.sum()
    m = (w * x).sum() / sw
    return (w * (x - m) ** 2).sum() / (sw - (w ** 2).sum() / sw), m


def run_case(data, covariates, outcome, caliper, ratio, replace):
    treat = data["treat"]
    y = data[outcome]
    n = len(treat)
    X = np.column_stack([np.ones(n)] + [data[c] for c in covariates])
    beta = fit_logit(treat, X)
    lp = X @ beta
    ps = 1.0 / (1.0 + np.exp(-lp))
    order, chosen, width, diag = match(
        lp, ps, treat, caliper, ratio, replace)

    matched = [i for i in order if chosen[i]]
    n_treated = int((treat == 1).sum())
    d = np.array([y[i] - np.mean([y[j] for j in chosen[i]]) for i in matched])
    n1 = len(d)
    att = float(d.mean())
    se = float(math.sqrt(((d - att) ** 2).sum() / (n1 * (n1 - 1))))
    w = np.zeros(n)
    for i in matched:
        for j in chosen[i]:
            w[j] += 1.0 / len(chosen[i])
    ctrl_used = np.flatnonzero(w > 0)

    tmask = treat == 1
    cmask = treat == 0
    mt = np.array(matched)
    balance = []
    for c in covariates:
        x = data[c]
        sd_t = float(np.std(x[tmask], ddof=1))
        var_t = float(np.var(x[tmask], ddof=1))
        var_c = float(np.var(x[cmask], ddof=1))
        wv, wm = weighted_var(x[ctrl_used], w[ctrl_used])
        balance.append({
            "name": c,
            "smd_before": float((x[tmask].mean() - x[cmask].mean()) / sd_t),
            "smd_after": float((x[mt].mean() - wm) / sd_t),
            "vr_before": var_t / var_c,
            "vr_after": float(np.var(x[mt], ddof=1) / wv),
        })

    return {
        "data": "lalonde.csv",
        "treatment": "treat",
        "outcome": outcome,
        "covariates": list(covariates),
        "caliper": caliper,
        "ratio": ratio,
        "replace": replace,
        "estimand": "ATT",
        "att": att,
        "se": se,
        "ci": [att - Z975 * se, att + Z975 * se],
        "n_treated": n_treated,
        "n_treated_matched": n1,
        "n_treated_unmatched": n_treated - n1,
        "n_controls": int(cmask.sum()),
        "n_controls_used": int(len(ctrl_used)),
        "lp_sd": float(np.std(lp, ddof=1)),
        "caliper_width": width,
        "balance": balance,
        "propensity_model": [{"name": "(Intercept)", "coef": float(beta[0])}]
        + [{"name": c, "coef": float(b)} for c, b in zip(covariates, beta[1:])],
        # 0-based row indices into lalonde.csv, treated units in processing
        # order; controls in the order they were picked (round 1 first)
        "matches": [{"treated": int(i), "controls": [int(j) for j in chosen[i]]}
                    for i in order],
        # how far the run was from a decision that rounding could flip:
        # min_choice_gap  smallest gap between the nearest distance and the
        #                 nearest non-tied runner-up, over all picks;
        # min_caliper_gap smallest |distance - caliper width| over candidates;
        # min_order_gap   smallest lp gap between neighbours in the order;
        # tolerance_ties  picks where the tied controls had different lp (a
        #                 tie in exact arithmetic that rounding splits)
        "diagnostics": diag,
    }


def main():
    data = read_csv(os.path.join(HERE, "lalonde.csv"))
    covs = ["age", "educ", "black", "hispan", "married", "nodegree", "re74",
            "re75"]
    cases = [
        run_case(data, covs, "re78", None, 1, False),   # (a)
        run_case(data, covs, "re78", 0.2, 1, False),    # (b)
        run_case(data, covs, "re78", None, 2, True),    # (c)
        run_case(data, covs, "re78", 0.25, 3, False),   # (d)
    ]
    generated_by = {
        "script": "tests/reference/matching/make_fixture.py",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "statsmodels": statsmodels.__version__,
    }
    for c in cases:
        c["generated_by"] = generated_by
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(cases, f, indent=2)
        f.write("\n")
    for c in cases:
        print(c["caliper"], c["ratio"], c["replace"], "att=%.4f se=%.4f" %
              (c["att"], c["se"]), "matched", c["n_treated_matched"],
              "unmatched", c["n_treated_unmatched"], "controls used",
              c["n_controls_used"], c["diagnostics"])


if __name__ == "__main__":
    main()
