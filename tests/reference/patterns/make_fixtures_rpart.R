# Regenerate the R rpart reference fixtures for inzicht's decision trees.
#
#   cd tests/reference/patterns
#   python3 make_fixtures.py          # first: writes breast_cancer.csv
#   Rscript make_fixtures_rpart.R     # writes kyphosis.csv and expected_rpart.json
#
# Needs R with the `rpart` and `jsonlite` packages
# (Debian: apt-get install r-base-core r-cran-rpart r-cran-jsonlite).
#
# kyphosis.csv is rpart::kyphosis: Kyphosis ("absent"/"present", as text),
# Age, Number, Start (integers). Header row, ',' separator, '.' decimal,
# strings and header names in double quotes (R's write.csv).
#
# Every tree is fitted on the data as read back from the CSVs, with
#   rpart(y ~ x1 + ... , method = "class",
#         control = rpart.control(cp = 0, minsplit = 2, minbucket = 1,
#                                 maxdepth = d, xval = 0,
#                                 maxcompete = 0, maxsurrogate = 0))
# (and once more with cp = -1, which switches rpart's pruning off: "unpruned")
# and the defaults otherwise: split = "gini", priors = the class proportions,
# 0/1 loss, usesurrogate = 2 (irrelevant: there are no missing values).
# The predictors are given in the CSV's column order; rpart keeps the first
# of equally good splits in that order.
#
# Numbers in expected_rpart.json are written as the shortest decimal string
# that round-trips to the same IEEE double (15, 16 or 17 significant digits).

suppressPackageStartupMessages({
  library(rpart)
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

jnum <- function(x) {
  stopifnot(length(x) == 1)
  structure(num_str(as.numeric(x)), class = "json")
}

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

if (!file.exists("breast_cancer.csv")) {
  stop("breast_cancer.csv is missing: run python3 make_fixtures.py first")
}

kyph <- rpart::kyphosis
kyph_df <- data.frame(Kyphosis = as.character(kyph$Kyphosis),
                      Age = as.integer(kyph$Age),
                      Number = as.integer(kyph$Number),
                      Start = as.integer(kyph$Start))
write.csv(kyph_df, "kyphosis.csv", row.names = FALSE, quote = TRUE)
message("wrote kyphosis.csv")

kyphosis <- read.csv("kyphosis.csv", stringsAsFactors = FALSE)
stopifnot(identical(kyphosis, kyph_df))
breast <- read.csv("breast_cancer.csv", stringsAsFactors = FALSE)

# ---------------------------------------------------------------------------
# Trees
# ---------------------------------------------------------------------------

rpart_case <- function(df, file, target, features, d) {
  y <- factor(df[[target]])
  x <- df[, features, drop = FALSE]
  fit_df <- data.frame(.y = y, x)
  f <- as.formula(paste(".y ~", paste(features, collapse = " + ")))
  grow <- function(cp) {
    rpart(f, data = fit_df, method = "class",
          control = rpart.control(cp = cp, minsplit = 2, minbucket = 1,
                                  maxdepth = d, xval = 0,
                                  maxcompete = 0, maxsurrogate = 0))
  }
  summ <- function(fit) {
    pred <- predict(fit, fit_df, type = "class")
    leaves <- fit$frame$var == "<leaf>"
    node_ids <- as.integer(rownames(fit$frame))
    list(train_accuracy = mean(as.character(pred) == as.character(y)),
         n_leaves = sum(leaves),
         depth = as.integer(max(floor(log2(node_ids[leaves])))))
  }
  fit <- grow(0)
  s0 <- summ(fit)
  # cp = -1: nothing is pruned (see notes); grows the same tree as sklearn
  s1 <- summ(grow(-1))
  frame <- fit$frame
  leaves <- frame$var == "<leaf>"
  node_ids <- as.integer(rownames(frame))
  depth <- s0$depth
  case <- list(
    data = file, target = target, features = "all", tool = "rpart",
    max_depth = d,
    train_accuracy = jnum(s0$train_accuracy),
    n_leaves = s0$n_leaves,
    depth = s0$depth,
    unpruned = list(cp = -1L, train_accuracy = jnum(s1$train_accuracy),
                    n_leaves = s1$n_leaves, depth = s1$depth))
  if (!leaves[1]) {
    # with maxcompete = 0 and maxsurrogate = 0, splits has one row per split,
    # in the order of the nodes; row 1 is the root's split.
    s <- fit$splits[1, , drop = FALSE]
    case$root_feature <- rownames(fit$splits)[1]
    case$root_threshold <- jnum(s[1, "index"])
    # ncat = -1: "x < index" goes left; +1: "x >= index" goes left
    case$root_left_is <- if (s[1, "ncat"] < 0) "x < threshold" else "x >= threshold"
    case$root_n_left <- as.integer(frame$n[node_ids == 2])
    case$root_n_right <- as.integer(frame$n[node_ids == 3])
  }
  message(sprintf("  rpart %s d=%d: train %.6f leaves %d depth %d (cp=-1: %.6f, %d leaves) root %s %s",
                  file, d, s0$train_accuracy, s0$n_leaves, s0$depth,
                  s1$train_accuracy, s1$n_leaves, nul_chr(case$root_feature),
                  nul_chr(case$root_threshold)))
  case
}

nul_chr <- function(x) if (is.null(x)) "-" else as.character(x)

cases <- list()
for (d in 1:5) {
  cases[[length(cases) + 1]] <- rpart_case(
    kyphosis, "kyphosis.csv", "Kyphosis", c("Age", "Number", "Start"), d)
}
bc_features <- setdiff(names(breast), "target")
stopifnot(length(bc_features) == 30)
for (d in 1:5) {
  cases[[length(cases) + 1]] <- rpart_case(
    breast, "breast_cancer.csv", "target", bc_features, d)
}

out <- list(
  versions = list(
    r = R.version.string,
    rpart = as.character(packageVersion("rpart")),
    jsonlite = as.character(packageVersion("jsonlite")),
    script = "tests/reference/patterns/make_fixtures_rpart.R"),
  tool = paste("rpart", as.character(packageVersion("rpart"))),
  model = paste(
    "rpart(target ~ all other columns in file order, method = 'class',",
    "control = rpart.control(cp = 0, minsplit = 2, minbucket = 1, maxdepth = d,",
    "xval = 0, maxcompete = 0, maxsurrogate = 0)); split = 'gini',",
    "priors = class proportions, 0/1 loss"),
  notes = c(
    "train_accuracy: fraction of predict(fit, type = 'class') equal to the target, on the fitting rows.",
    "n_leaves: rows of fit$frame with var == '<leaf>'. depth: deepest leaf, root = 0.",
    "root_threshold: fit$splits[1, 'index'], the midpoint (a + b)/2 of two adjacent distinct values (in double).",
    "root_left_is: which side of the threshold goes to node 2 (the left child); rpart may send either side left.",
    "rpart's maxdepth counts like sklearn's max_depth (root = depth 0).",
    paste("With cp = 0 rpart still prunes: after growing, it collapses every subtree that does not",
          "lower the resubstitution risk (misclassifications, with these priors and loss), i.e. whose",
          "complexity is <= cp * root risk = 0. So n_leaves can be smaller than sklearn's, and growing",
          "deeper can leave the tree unchanged, while train_accuracy is the same as the unpruned tree's."),
    paste("unpruned: the same fit with cp = -1, which prunes nothing; its n_leaves equal sklearn's",
          "DecisionTreeClassifier(criterion='gini', max_depth=d) on these data.")),
  cases = cases)

txt <- toJSON(out, json_verbatim = TRUE, auto_unbox = TRUE, pretty = TRUE,
              na = "null", null = "null", digits = NA)
writeLines(txt, "expected_rpart.json")
message("wrote expected_rpart.json")
