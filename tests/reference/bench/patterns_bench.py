"""Times Python `scikit-learn` trees and k-means on a CSV for the inzicht benchmark (see README.md here).

    python3 patterns_bench.py FILE P [R]

FILE: CSV with header, ',' separator, '.' decimal mark; columns y (0/1)
      and x1 ... xP (numbers). Other columns are ignored.
P:    number of features; both models use x1 ... xP.
R:    repetitions (default 3); each timing is the fastest of the R runs.

Times (wall clock, time.perf_counter; reading the CSV is not timed):
  Decision tree:  DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y)
                  (gini; sklearn converts X to float32 inside fit, which is timed)
  k-means:        KMeans(n_clusters=5, n_init=10, random_state=0, algorithm="lloyd").fit(Xs)
                  where Xs = StandardScaler().fit_transform(X) (population SD);
                  the standardization is done once, before timing, and is not timed.
                  sklearn's k-means runs on OpenMP threads (all cores by default).

Prints exactly one line of JSON on stdout:
  {"tool":..., "tree_seconds":..., "kmeans_seconds":..., "n":..., "p":...,
   "threads":..., "tree_train_accuracy":..., "kmeans_inertia":...}
Everything else (warnings, progress, errors) goes to stderr.
"""

import contextlib
import gc
import json
import math
import os
import platform
import sys
import time


def usage(msg):
    print(f"patterns_bench.py: {msg}", file=sys.stderr)
    print("usage: python3 patterns_bench.py FILE P [R]", file=sys.stderr)
    sys.exit(2)


def positive_int(text, name):
    try:
        value = int(text)
    except ValueError:
        usage(f"{name} must be a positive integer")
    if value < 1:
        usage(f"{name} must be a positive integer")
    return value


def fastest(fn, reps):
    """Fastest wall-clock time of `reps` calls of fn, and the last result.

    gc.collect() before each call is not timed."""
    best = math.inf
    value = None
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        value = fn()
        t1 = time.perf_counter()
        best = min(best, t1 - t0)
    return best, value


def json_num(x):
    x = float(x)
    return x if math.isfinite(x) else None


def main():
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        usage("expected 2 or 3 arguments")
    path = args[0]
    p = positive_int(args[1], "P")
    reps = positive_int(args[2], "R") if len(args) == 3 else 3
    if not os.path.isfile(path):
        usage(f"no such file: {path}")

    # Anything the libraries print goes to stderr; stdout is kept for the JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        import numpy as np
        import pandas as pd
        import sklearn
        from sklearn.cluster import KMeans
        from sklearn.preprocessing import StandardScaler
        from sklearn.tree import DecisionTreeClassifier

        xs = [f"x{j}" for j in range(1, p + 1)]
        df = pd.read_csv(path, sep=",", decimal=".")
        missing = [c for c in ["y", *xs] if c not in df.columns]
        if missing:
            usage("missing column(s): " + ", ".join(missing))
        X = np.ascontiguousarray(df[xs].to_numpy(dtype=np.float64))
        y = df["y"].to_numpy()
        Xs = StandardScaler().fit_transform(X)

        tree_seconds, tree = fastest(
            lambda: DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y), reps)
        kmeans_seconds, km = fastest(
            lambda: KMeans(n_clusters=5, n_init=10, random_state=0, algorithm="lloyd").fit(Xs), reps)

        tree_train_accuracy = float(np.mean(tree.predict(X) == y))
        tool = f"scikit-learn {sklearn.__version__} (Python {platform.python_version()})"

    out = {
        "tool": tool,
        "tree_seconds": json_num(tree_seconds),
        "kmeans_seconds": json_num(kmeans_seconds),
        "n": int(len(df)),
        "p": p,
        "threads": os.cpu_count(),
        "tree_train_accuracy": json_num(tree_train_accuracy),
        "kmeans_inertia": json_num(km.inertia_),
    }
    sys.stdout.write(json.dumps(out, allow_nan=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
