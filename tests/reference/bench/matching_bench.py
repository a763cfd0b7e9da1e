"""Reference for `inzicht bench --advice`: the same client–vacancy score in numpy.

Reads the JSON that the benchmark writes (per client the probability of every competence,
hours, education, travel distance and location; per vacancy its required competences,
minimum education, hours and location) and ranks every client's vacancies:
score = P(at least ceil(min_coverage * |R|) of R) under independent Bernoulli competences
(the Poisson-binomial upper tail, by the same recursion as inzicht), after the constraints
(hours <= client hours + margin, education >= minimum - margin, distance <= max km).
Vectorised over clients and over vacancies with the same number of required competences.
Prints JSON: seconds (fastest of the runs, reading not timed) and the top-10 per client.

Usage: python3 matching_bench.py DATA.json RUNS
"""
import json
import math
import sys
import time

import numpy as np


def rank(d, k=10):
    q = np.asarray(d["q"], dtype=np.float64)  # clients x concepts
    n_c = q.shape[0]
    hours_c = np.asarray([np.nan if h is None else h for h in d["hours"]])
    edu_c = np.asarray([np.nan if e is None else e for e in d["education"]])
    km_c = np.asarray([d["default_km"] if x is None else x for x in d["max_km"]])
    loc_c = np.asarray([[np.nan, np.nan] if l is None else l for l in d["location"]])
    vac = d["vacancies"]
    margin_h, margin_e, cover = d["hours_margin"], d["education_margin"], d["min_coverage"]
    by_len = {}
    for j, v in enumerate(vac):
        if v["required"]:
            by_len.setdefault(len(v["required"]), []).append(j)
    all_score = np.full((n_c, len(vac)), -np.inf)
    all_cov = np.zeros((n_c, len(vac)))
    all_dist = np.full((n_c, len(vac)), np.inf)
    # Clients in chunks, so that the clients x vacancies x competences arrays stay small.
    for lo in range(0, n_c, 500):
        hi = min(n_c, lo + 500)
        for n, js in by_len.items():
            req = np.asarray([vac[j]["required"] for j in js])  # V x n
            need = max(1, math.ceil(cover * n - 1e-9))
            p = q[lo:hi][:, req]  # C x V x n
            tail = np.zeros(p.shape[:2] + (n + 1,))
            tail[:, :, 0] = 1.0
            for i in range(n):
                qi = p[:, :, i][:, :, None]
                shifted = np.concatenate([np.zeros(tail.shape[:2] + (1,)), tail[:, :, :-1]], axis=2)
                tail = tail * (1.0 - qi) + shifted * qi
            score = tail[:, :, need:].sum(axis=2)
            cov = p.mean(axis=2)
            vh = np.asarray([np.nan if vac[j]["hours"] is None else vac[j]["hours"] for j in js])
            ve = np.asarray([np.nan if vac[j]["education"] is None else vac[j]["education"] for j in js])
            vl = np.asarray([[np.nan, np.nan] if vac[j]["location"] is None else vac[j]["location"] for j in js])
            ok = ~(vh[None, :] > hours_c[lo:hi, None] + margin_h)
            ok &= ~(edu_c[lo:hi, None] + margin_e < ve[None, :])
            dist = np.sqrt(((loc_c[lo:hi, None, :] - vl[None, :, :]) ** 2).sum(axis=2)) / 1000.0
            ok &= ~(dist > km_c[lo:hi, None])
            all_score[lo:hi, js] = np.where(ok, score, -np.inf)
            all_cov[lo:hi, js] = cov
            all_dist[lo:hi, js] = np.where(np.isnan(dist), np.inf, dist)
    top = []
    for c in range(n_c):
        s = all_score[c]
        cand = np.nonzero(np.isfinite(s))[0]
        if cand.size > k:
            # Everything scoring at least the k-th best (ties at the boundary included).
            kth = -np.partition(-s[cand], k - 1)[k - 1]
            part = cand[s[cand] >= kth]
        else:
            part = cand
        # inzicht's order: score, coverage, distance (f32 in inzicht), list position.
        order = sorted(part.tolist(), key=lambda j: (-np.float32(s[j]), -np.float32(all_cov[c, j]),
                                                     np.float32(all_dist[c, j]), j))[:k]
        top.append(order)
    return top


def main():
    with open(sys.argv[1]) as f:
        d = json.load(f)
    runs = int(sys.argv[2])
    best = math.inf
    top = None
    for _ in range(runs):
        t = time.perf_counter()
        top = rank(d)
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"seconds": best, "top": top, "numpy": np.__version__,
                      "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
