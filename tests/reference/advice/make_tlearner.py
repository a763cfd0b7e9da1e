"""Reference numbers for inzicht's T-learner (crates/inzicht-stats/src/hte.rs, `fit_design`).

Plain numpy, written from the formulas and not from inzicht's code:
- standardise every feature on the union of both arms (mean, sample sd with ddof=1); a constant
  column is left out;
- per arm, ridge logistic regression: maximise sum(y*eta - log(1+exp(eta))) - lam/2 * sum(beta_j^2,
  j >= 1), by Newton-Raphson to machine precision;
- per arm, the cluster-robust sandwich V = H^-1 (sum_c u_c u_c^T) H^-1, H the penalised information
  X^T W X + lam*diag(0,1,...,1) at the optimum, u_c = sum over the cluster's rows of (y - mu) x;
- the effect over a set of rows, tau = mean(mu1(x) - mu0(x)), with the delta-method standard error
  sqrt(g1^T V1 g1 + g0^T V0 g0), g = mean(mu(1 - mu) x).

Writes tlearner.json (data and expected numbers). Run: python3 make_tlearner.py
"""
import json

import numpy as np

rng = np.random.default_rng(20261202)
p = 4
lam = 1.0


def arm(n, treated):
    x = rng.normal(size=(n, p))
    x[:, 3] = 2.5  # constant: must be left out
    x[:, 2] = (x[:, 2] > 0.3).astype(float)  # a 0/1 feature
    eta = -0.8 + 0.7 * x[:, 0] - 0.4 * x[:, 1] + 0.3 * x[:, 2]
    if treated:
        eta = eta + 0.5 + 0.6 * x[:, 0]
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-eta))
    # Persons with one to three rows.
    cluster = np.repeat(np.arange(n), rng.integers(1, 4, size=n))[:n]
    return x.astype(np.float32), y, cluster


xt, yt, ct = arm(300, True)
xc, yc, cc = arm(900, False)
ct = ct + 10_000  # distinct persons per arm

both = np.vstack([xt, xc]).astype(np.float64)
mean = both.mean(axis=0)
sd = both.std(axis=0, ddof=1)
keep = sd > 1e-6
mean, sd = mean[keep], sd[keep]


def design(x):
    z = (x.astype(np.float64)[:, keep] - mean) / sd
    return np.hstack([np.ones((len(z), 1)), z])


def fit(x, y, cluster):
    X = design(x)
    q = X.shape[1]
    pen = lam * np.eye(q)
    pen[0, 0] = 0.0
    beta = np.zeros(q)
    for _ in range(100):
        mu = 1 / (1 + np.exp(-X @ beta))
        grad = X.T @ (y - mu) - pen @ beta
        H = X.T @ (X * (mu * (1 - mu))[:, None]) + pen
        step = np.linalg.solve(H, grad)
        beta = beta + step
        if np.abs(step).max() < 1e-13:
            break
    mu = 1 / (1 + np.exp(-X @ beta))
    H = X.T @ (X * (mu * (1 - mu))[:, None]) + pen
    bread = np.linalg.inv(H)
    meat = np.zeros((q, q))
    for c in np.unique(cluster):
        rows = cluster == c
        u = ((y[rows] - mu[rows])[:, None] * X[rows]).sum(axis=0)
        meat += np.outer(u, u)
    return beta, bread @ meat @ bread


bt, vt = fit(xt, yt.astype(float), ct)
bc, vc = fit(xc, yc.astype(float), cc)


def effect(x):
    X = design(x)
    m1 = 1 / (1 + np.exp(-X @ bt))
    m0 = 1 / (1 + np.exp(-X @ bc))
    g1 = (m1 * (1 - m1))[:, None] * X
    g0 = (m0 * (1 - m0))[:, None] * X
    g1, g0 = g1.mean(axis=0), g0.mean(axis=0)
    se = np.sqrt(g1 @ vt @ g1 + g0 @ vc @ g0)
    return {"estimate": float((m1 - m0).mean()), "se": float(se), "with": float(m1.mean()), "without": float(m0.mean())}


out = {
    "p": p,
    "lambda": lam,
    "treated": {"features": xt.astype(float).ravel().tolist(), "y": yt.tolist(), "cluster": ct.tolist()},
    "control": {"features": xc.astype(float).ravel().tolist(), "y": yc.tolist(), "cluster": cc.tolist()},
    "expected": {
        "beta_treated": bt.tolist(),
        "beta_control": bc.tolist(),
        "se_treated": np.sqrt(np.diag(vt)).tolist(),
        "se_control": np.sqrt(np.diag(vc)).tolist(),
        "effect_all_treated": effect(xt),
        "effect_first_row": effect(xt[:1]),
    },
}
with open("tlearner.json", "w") as f:
    json.dump(out, f)
print(json.dumps(out["expected"], indent=1))
