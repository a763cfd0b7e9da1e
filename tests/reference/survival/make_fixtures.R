# Regenerate the survival reference fixtures for inzicht.
#
#   cd tests/reference/survival && Rscript make_fixtures.R
#
# Needs R with the `survival` and `jsonlite` packages
# (Debian: apt-get install r-base-core r-cran-survival r-cran-jsonlite).
#
# Writes the dataset CSVs (header row, ',' separator, '.' decimal, NA as an
# empty field) and expected.json.  All models are fitted on the data as read
# back from the CSVs, so the Rust side sees exactly the same input.
#
# Numbers in expected.json are written as the shortest decimal string that
# round-trips to the same IEEE double (15, 16 or 17 significant digits).
# NA, NaN and +-Inf are written as JSON null (see README.md for where R gives
# Inf, e.g. std_err once survival has dropped to 0).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

options(warn = 1)

# ---------------------------------------------------------------------------
# JSON helpers: full-precision numbers via verbatim JSON fragments
# ---------------------------------------------------------------------------

num_str <- function(v) {
  if (is.na(v) || !is.finite(v)) return("null")
  for (d in 15:17) {
    s <- sprintf(paste0("%.", d, "g"), v)
    if (as.numeric(s) == v) return(s)
  }
  s
}

# JSON array of numbers (always an array, even for length 0 or 1)
jarr <- function(x) {
  x <- as.numeric(x)
  structure(paste0("[", paste(vapply(x, num_str, ""), collapse = ","), "]"),
            class = "json")
}

# JSON scalar number (or null)
jnum <- function(x) {
  if (is.null(x) || length(x) == 0) return(NULL)
  stopifnot(length(x) == 1)
  structure(num_str(as.numeric(x)), class = "json")
}

# keeps an explicit JSON null for NULL values inside list()
nul <- function(x) if (is.null(x)) NA else x

write_csv <- function(df, file) {
  write.csv(df, file, row.names = FALSE, na = "", quote = TRUE)
}

# ---------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------

lung_df <- with(survival::lung, data.frame(
  time = time, status = as.integer(status - 1), age = age, sex = sex,
  ph_ecog = ph.ecog, ph_karno = ph.karno, wt_loss = wt.loss, inst = inst))
write_csv(lung_df, "lung.csv")

lung_cc_df <- lung_df[complete.cases(lung_df), ]
write_csv(lung_cc_df, "lung_cc.csv")

veteran_df <- with(survival::veteran, data.frame(
  time = time, status = as.integer(status), trt = trt,
  celltype = as.character(celltype), karno = karno, diagtime = diagtime,
  age = age, prior = prior))
write_csv(veteran_df, "veteran.csv")

ovarian_df <- with(survival::ovarian, data.frame(
  futime = futime, fustat = as.integer(fustat), age = age,
  resid_ds = resid.ds, rx = rx, ecog_ps = ecog.ps))
# case weights for the weighted Cox case: w = (row number mod 3) + 1, with the
# row number 1-based (row 1 -> 2, row 2 -> 3, row 3 -> 1, ...)
ovarian_df$w <- (seq_len(nrow(ovarian_df)) %% 3) + 1
write_csv(ovarian_df, "ovarian.csv")

heart_df <- with(survival::heart, data.frame(
  id = as.integer(id), start = start, stop = stop, event = as.integer(event),
  age = age, year = year, surgery = as.integer(surgery),
  transplant = as.integer(as.character(transplant))))
write_csv(heart_df, "heart.csv")

mgus2_df <- with(survival::mgus2, data.frame(
  id = as.integer(id), age = age, sex = as.integer(sex == "M"),
  etime = ifelse(pstat == 0, futime, ptime),
  event = as.integer(ifelse(pstat == 0, 2 * death, 1))))
write_csv(mgus2_df, "mgus2.csv")

# read everything back: the fixtures are computed on the CSV contents
rd <- function(f) read.csv(f, stringsAsFactors = FALSE)
data <- list(lung = rd("lung.csv"), lung_cc = rd("lung_cc.csv"),
             veteran = rd("veteran.csv"), ovarian = rd("ovarian.csv"),
             heart = rd("heart.csv"), mgus2 = rd("mgus2.csv"))

# ---------------------------------------------------------------------------
# 1. Kaplan-Meier
# ---------------------------------------------------------------------------

km_case <- function(dataset, time, event, group, ci_method) {
  d <- data[[dataset]]
  rhs <- if (is.null(group)) "1" else group
  f <- as.formula(sprintf("Surv(%s, %s) ~ %s", time, event, rhs))
  fit <- survfit(f, data = d, conf.type = ci_method)
  tab <- summary(fit)$table
  if (is.null(dim(tab))) tab <- matrix(tab, nrow = 1, dimnames = list(NULL, names(tab)))
  if (is.null(fit$strata)) {
    strata_of_row <- rep(1L, length(fit$time))
    labels <- list(NULL)
  } else {
    strata_of_row <- rep(seq_along(fit$strata), fit$strata)
    # names look like "sex=1"; keep the value after the first "="
    labels <- as.list(sub("^[^=]*=", "", names(fit$strata)))
  }
  groups <- lapply(seq_along(labels), function(g) {
    keep <- strata_of_row == g & fit$n.event > 0
    list(
      group = nul(labels[[g]]),
      times = jarr(fit$time[keep]),
      survival = jarr(fit$surv[keep]),
      std_err = jarr(fit$std.err[keep]),
      ci_lower = jarr(fit$lower[keep]),
      ci_upper = jarr(fit$upper[keep]),
      at_risk = jarr(fit$n.risk[keep]),
      events = jarr(fit$n.event[keep]),
      median = jnum(tab[g, "median"]),
      median_lower = jnum(tab[g, "0.95LCL"]),
      median_upper = jnum(tab[g, "0.95UCL"]))
  })
  list(dataset = dataset, time = time, event = event, group = nul(group),
       ci_method = ci_method, conf_level = jnum(0.95), groups = groups)
}

km <- list(
  km_case("lung", "time", "status", NULL, "log"),
  km_case("lung", "time", "status", NULL, "log-log"),
  km_case("lung", "time", "status", NULL, "plain"),
  km_case("lung", "time", "status", "sex", "log"),
  km_case("veteran", "time", "status", "trt", "log-log"),
  km_case("ovarian", "futime", "fustat", "rx", "plain"))

# ---------------------------------------------------------------------------
# 2. Log-rank (survdiff, rho = 0)
# ---------------------------------------------------------------------------

logrank_case <- function(dataset, time, event, group, strata = NULL) {
  d <- data[[dataset]]
  rhs <- if (is.null(strata)) group else sprintf("%s + strata(%s)", group, strata)
  f <- as.formula(sprintf("Surv(%s, %s) ~ %s", time, event, rhs))
  sd <- survdiff(f, data = d, rho = 0)
  # degrees of freedom exactly as print.survdiff computes them
  etmp <- if (is.matrix(sd$exp)) apply(sd$exp, 1, sum) else sd$exp
  df <- sum(etmp > 0) - 1
  p <- pchisq(sd$chisq, df, lower.tail = FALSE)
  if (!is.null(sd$pvalue)) stopifnot(isTRUE(all.equal(p, sd$pvalue)))
  obs <- if (is.matrix(sd$obs)) apply(sd$obs, 1, sum) else sd$obs
  list(dataset = dataset, time = time, event = event, group = group,
       strata = nul(strata),
       statistic = jnum(sd$chisq), df = jnum(df), p_value = jnum(p),
       group_levels = as.list(sub("^[^=]*=", "", names(sd$n))),
       observed = jarr(obs), expected = jarr(etmp))
}

logrank <- list(
  logrank_case("lung", "time", "status", "sex"),
  logrank_case("veteran", "time", "status", "celltype"),
  logrank_case("veteran", "time", "status", "trt", "celltype"),
  logrank_case("ovarian", "futime", "fustat", "rx"))

# ---------------------------------------------------------------------------
# 3. Cox proportional hazards
# ---------------------------------------------------------------------------

cox_fits <- list()

cox_case <- function(dataset, time, event, covariates, ties, start = NULL,
                     strata = NULL, cluster = NULL, robust = FALSE,
                     weights = NULL, event_expr = NULL) {
  d <- data[[dataset]]
  ev <- if (is.null(event_expr)) event else event_expr
  lhs <- if (is.null(start)) sprintf("Surv(%s, %s)", time, ev)
         else sprintf("Surv(%s, %s, %s)", start, time, ev)
  rhs <- paste(covariates, collapse = " + ")
  if (!is.null(strata)) rhs <- paste0(rhs, " + strata(", strata, ")")
  f <- as.formula(paste(lhs, "~", rhs))
  args <- list(formula = f, data = d, ties = ties)
  if (!is.null(cluster)) args$cluster <- d[[cluster]]
  if (robust) args$robust <- TRUE
  if (!is.null(weights)) args$weights <- d[[weights]]
  fit <- do.call(coxph, args)
  is_robust <- !is.null(fit$naive.var)
  se <- sqrt(diag(vcov(fit)))
  s <- summary(fit)$coefficients
  if (is_robust) {
    stopifnot(isTRUE(all.equal(unname(se), unname(s[, "robust se"]))))
  }
  naive <- if (is_robust) sqrt(diag(fit$naive.var)) else NULL
  coefs <- lapply(seq_along(fit$coefficients), function(i) list(
    name = names(fit$coefficients)[i],
    coef = jnum(fit$coefficients[i]),
    se = jnum(se[i]),
    robust_se = nul(if (is_robust) jnum(se[i]) else NULL),
    naive_se = nul(if (is_robust) jnum(naive[i]) else NULL),
    z = jnum(s[i, "z"]),
    p_value = jnum(s[i, "Pr(>|z|)"])))
  cox_fits[[length(cox_fits) + 1]] <<- fit
  list(dataset = dataset, start = nul(start), time = time,
       event = if (is.null(event_expr)) event else event_expr,
       covariates = as.list(covariates), ties = ties, strata = nul(strata),
       cluster = nul(cluster), robust = is_robust, weights = nul(weights),
       coefficients = coefs,
       log_likelihood = jnum(fit$loglik[2]),
       log_likelihood_null = jnum(fit$loglik[1]),
       concordance = jnum(fit$concordance[["concordance"]]),
       concordance_se = jnum(fit$concordance[["std"]]),
       n = jnum(fit$n), events = jnum(fit$nevent),
       iterations = jnum(fit$iter))
}

cov3 <- c("age", "sex", "ph_ecog")
vet <- c("trt", "karno", "diagtime", "age", "prior")
hrt <- c("age", "year", "surgery", "transplant")

cox <- list(
  cox_case("lung_cc", "time", "status", cov3, "efron"),                    # 0
  cox_case("lung_cc", "time", "status", cov3, "breslow"),                  # 1
  cox_case("lung_cc", "time", "status", cov3, "efron", robust = TRUE),     # 2
  cox_case("lung_cc", "time", "status", c("age", "sex", "wt_loss"), "efron",
           strata = "ph_ecog"),                                           # 3
  cox_case("veteran", "time", "status", vet, "efron"),                     # 4
  cox_case("veteran", "time", "status", vet, "breslow"),                   # 5
  cox_case("heart", "stop", "event", hrt, "efron", start = "start",
           cluster = "id"),                                               # 6
  cox_case("heart", "stop", "event", hrt, "breslow", start = "start"),     # 7
  cox_case("ovarian", "futime", "fustat", c("age", "ecog_ps"), "efron",
           weights = "w"))                                                # 8

# ---------------------------------------------------------------------------
# 4. Schoenfeld residual tests (cox.zph); "model" is a 0-based index into cox
# ---------------------------------------------------------------------------

zph_case <- function(model, transform) {
  z <- cox.zph(cox_fits[[model + 1]], transform = transform, terms = TRUE)
  tb <- z$table
  rows <- setdiff(rownames(tb), "GLOBAL")
  list(model = model, transform = transform,
       terms = lapply(rows, function(r) list(
         name = r, chisq = jnum(tb[r, "chisq"]), df = jnum(tb[r, "df"]),
         p = jnum(tb[r, "p"]))),
       global = list(chisq = jnum(tb["GLOBAL", "chisq"]),
                     df = jnum(tb["GLOBAL", "df"]),
                     p = jnum(tb["GLOBAL", "p"])))
}

zph <- list(zph_case(0, "km"), zph_case(4, "km"), zph_case(4, "identity"))

# ---------------------------------------------------------------------------
# 5. Aalen-Johansen cumulative incidence (competing risks), mgus2
# ---------------------------------------------------------------------------

aj_cases <- function(group = NULL) {
  d <- data$mgus2
  d$ev <- factor(d$event, 0:2, labels = c("censor", "pcm", "death"))
  rhs <- if (is.null(group)) "1" else group
  fit <- survfit(as.formula(paste("Surv(etime, ev) ~", rhs)), data = d,
                 influence = TRUE)
  if (is.null(fit$strata)) {
    strata_of_row <- rep(1L, length(fit$time))
    labels <- list(NULL)
  } else {
    strata_of_row <- rep(seq_along(fit$strata), fit$strata)
    labels <- as.list(sub("^[^=]*=", "", names(fit$strata)))
  }
  # check: std.err is the infinitesimal-jackknife SE of pstate
  infl <- if (is.list(fit$influence.pstate)) fit$influence.pstate
          else list(fit$influence.pstate)
  out <- list()
  for (g in seq_along(labels)) {
    rows <- which(strata_of_row == g)
    keep <- rows[rowSums(fit$n.event[rows, , drop = FALSE]) > 0]
    # influence array is subjects x (time 0 + times) x states; drop time 0
    ij <- sqrt(apply(infl[[g]][, -1, , drop = FALSE]^2, c(2, 3), sum))
    stopifnot(max(abs(ij - fit$std.err[rows, ])) < 1e-10)
    for (state in c("pcm", "death")) {
      k <- match(state, fit$states)
      out[[length(out) + 1]] <- list(
        dataset = "mgus2", time = "etime", event = "event",
        group_by = nul(group), group = nul(labels[[g]]), state = state,
        times = jarr(fit$time[keep]),
        cif = jarr(fit$pstate[keep, k]),
        std_err = jarr(fit$std.err[keep, k]),
        at_risk = jarr(fit$n.risk[keep, 1]),
        events = jarr(fit$n.event[keep, k]))
    }
  }
  out
}

aalen_johansen <- c(aj_cases(NULL), aj_cases("sex"))

# ---------------------------------------------------------------------------
# 6. Cause-specific Cox for pcm (deaths censored), mgus2
# ---------------------------------------------------------------------------

cause_specific_cox <- list(
  cox_case("mgus2", "etime", "event", c("age", "sex"), "efron",
           event_expr = "event == 1"))
cause_specific_cox[[1]]$cause <- 1L

# ---------------------------------------------------------------------------

out <- list(
  generated_by = list(
    r_version = R.version.string,
    survival_version = as.character(packageVersion("survival")),
    jsonlite_version = as.character(packageVersion("jsonlite")),
    script = "tests/reference/survival/make_fixtures.R"),
  km = km, logrank = logrank, cox = cox, zph = zph,
  aalen_johansen = aalen_johansen, cause_specific_cox = cause_specific_cox)

txt <- toJSON(out, json_verbatim = TRUE, auto_unbox = TRUE, pretty = TRUE,
              na = "null", null = "null", digits = NA)
writeLines(txt, "expected.json")
cat("wrote expected.json and", length(data), "CSV files\n")
