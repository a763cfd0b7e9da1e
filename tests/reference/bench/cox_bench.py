"""Times Python `lifelines` on a CSV for the inzicht benchmark (see README.md here).

    python3 cox_bench.py FILE P [R]

FILE: CSV with header, ',' separator, '.' decimal mark; columns time (> 0),
      event (0/1), x1 ... xP and group (0/1; not used here).
P:    number of covariates; the Cox model uses x1 ... xP.
R:    repetitions (default 3); each timing is the fastest of the R runs.

Times (wall clock, time.perf_counter; reading the CSV is not timed):
  Cox PH:        lifelines.CoxPHFitter().fit(df[["time", "event", x1..xP]], "time", "event")
                 with default settings (lifelines handles ties with Efron's method), then
                 its concordance_index_: the outputs inzicht's fit and R's coxph give
                 (coefficients, standard errors, log-likelihood and Harrell's concordance).
                 lifelines computes the concordance only when it is first asked for, so
                 fit() alone does less; that time is reported too (cox_fit_only_seconds).
  Kaplan-Meier:  lifelines.KaplanMeierFitter().fit(df["time"], df["event"])

Prints exactly one line of JSON on stdout:
  {"tool":..., "cox_seconds":..., "cox_fit_only_seconds":..., "km_seconds":..., "n":...,
   "p":..., "cox_coef":[...], "concordance":...}
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
    print(f"cox_bench.py: {msg}", file=sys.stderr)
    print("usage: python3 cox_bench.py FILE P [R]", file=sys.stderr)
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
        import pandas as pd
        import lifelines
        from lifelines import CoxPHFitter, KaplanMeierFitter

        xs = [f"x{j}" for j in range(1, p + 1)]
        df = pd.read_csv(path, sep=",", decimal=".")
        missing = [c for c in ["time", "event", *xs] if c not in df.columns]
        if missing:
            usage("missing column(s): " + ", ".join(missing))
        cox_df = df[["time", "event", *xs]]
        km_time = df["time"]
        km_event = df["event"]

        def fit_with_concordance():
            fitted = CoxPHFitter().fit(cox_df, "time", "event")
            fitted.concordance_index_  # computed (and cached) on first access
            return fitted

        cox_seconds, cph = fastest(fit_with_concordance, reps)
        fit_only_seconds, _ = fastest(lambda: CoxPHFitter().fit(cox_df, "time", "event"), reps)
        km_seconds, _ = fastest(lambda: KaplanMeierFitter().fit(km_time, km_event), reps)

        coef = [json_num(cph.params_[x]) for x in xs]
        tool = f"lifelines {lifelines.__version__} (Python {platform.python_version()})"

    out = {
        "tool": tool,
        "cox_seconds": json_num(cox_seconds),
        "cox_fit_only_seconds": json_num(fit_only_seconds),
        "km_seconds": json_num(km_seconds),
        "n": int(len(df)),
        "p": p,
        "cox_coef": coef,
        "concordance": json_num(cph.concordance_index_),
    }
    sys.stdout.write(json.dumps(out, allow_nan=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
