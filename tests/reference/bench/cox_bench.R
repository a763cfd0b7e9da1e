# Times R `survival` on a CSV for the inzicht benchmark (see README.md here).
#
#   Rscript cox_bench.R FILE P [R]
#
# FILE: CSV with header, ',' separator, '.' decimal mark; columns time (> 0),
#       event (0/1), x1 ... xP and group (0/1; not used here).
# P:    number of covariates; the Cox model uses x1 ... xP.
# R:    repetitions (default 3); each timing is the fastest of the R runs.
#
# Times (wall clock, elapsed of system.time; reading the CSV is not timed):
#   Cox PH, Efron ties:  coxph(Surv(time, event) ~ x1 + ... + xP, ties = "efron")
#   Kaplan-Meier:        survfit(Surv(time, event) ~ 1)
#
# Prints exactly one line of JSON on stdout:
#   {"tool":..., "cox_seconds":..., "km_seconds":..., "n":..., "p":..., "cox_coef":[...]}
# Everything else (warnings, messages, errors) goes to stderr.

options(warn = 1)

args <- commandArgs(trailingOnly = TRUE)
usage <- function(msg) {
  message("cox_bench.R: ", msg)
  message("usage: Rscript cox_bench.R FILE P [R]")
  quit(save = "no", status = 2)
}
if (length(args) < 2 || length(args) > 3) usage("expected 2 or 3 arguments")
file <- args[[1]]
p <- suppressWarnings(as.integer(args[[2]]))
reps <- if (length(args) == 3) suppressWarnings(as.integer(args[[3]])) else 3L
if (is.na(p) || p < 1) usage("P must be a positive integer")
if (is.na(reps) || reps < 1) usage("R must be a positive integer")
if (!file.exists(file)) usage(paste0("no such file: ", file))

# Any printed output from here on goes to stderr; stdout is kept for the JSON line.
sink(stderr())

suppressPackageStartupMessages(library(survival))

xs <- paste0("x", seq_len(p))
df <- read.csv(file, header = TRUE, sep = ",", dec = ".")
missing_cols <- setdiff(c("time", "event", xs), names(df))
if (length(missing_cols) > 0) {
  sink()
  usage(paste0("missing column(s): ", paste(missing_cols, collapse = ", ")))
}
# The Cox model sees the response and the covariate columns only.
cox_df <- df[, c("time", "event", xs)]
cox_formula <- as.formula(paste("Surv(time, event) ~", paste(xs, collapse = " + ")))
km_df <- df[, c("time", "event")]

# Fastest elapsed wall-clock time of `reps` runs; gc() before each run is not timed.
fastest <- function(expr_fun) {
  best <- Inf
  value <- NULL
  for (i in seq_len(reps)) {
    gc(verbose = FALSE)
    t0 <- proc.time()[["elapsed"]]
    value <- expr_fun()
    t1 <- proc.time()[["elapsed"]]
    best <- min(best, t1 - t0)
  }
  list(seconds = best, value = value)
}

cox <- fastest(function() coxph(cox_formula, data = cox_df, ties = "efron"))
km <- fastest(function() survfit(Surv(time, event) ~ 1, data = km_df))

sink()

# JSON by hand, so that no package beyond survival is needed. Coefficients with 17
# significant digits (round trip); seconds rounded to the microsecond, which hides the
# float noise of subtracting two proc.time() values (their resolution is 1 ms).
json_num <- function(x, digits = 17) {
  ifelse(is.finite(x), sprintf(paste0("%.", digits, "g"), x), "null")
}
json_str <- function(s) {
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub("\"", "\\\"", s, fixed = TRUE)
  paste0("\"", s, "\"")
}
coef <- unname(coef(cox$value))
tool <- sprintf("R survival %s (%s)", as.character(packageVersion("survival")), R.version.string)
cat(paste0(
  "{\"tool\":", json_str(tool),
  ",\"cox_seconds\":", json_num(round(cox$seconds, 6), 15),
  ",\"km_seconds\":", json_num(round(km$seconds, 6), 15),
  ",\"n\":", nrow(df),
  ",\"p\":", p,
  ",\"cox_coef\":[", paste(json_num(coef), collapse = ","), "]}\n"
))
