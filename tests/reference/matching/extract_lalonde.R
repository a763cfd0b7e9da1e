# Writes lalonde.csv from the `lalonde` data frame shipped with the R package
# MatchIt (Debian: apt-get install r-base-core r-cran-matchit).  Only the data
# is used; MatchIt's matcher is not (Debian's MatchIt 4.5.1 has a
# nearest-neighbour bug).  Run from this directory:  Rscript extract_lalonde.R
data(lalonde, package = "MatchIt")
out <- with(lalonde, data.frame(
  treat = as.integer(treat), age = age, educ = educ,
  black = as.integer(race == "black"), hispan = as.integer(race == "hispan"),
  married = as.integer(married), nodegree = as.integer(nodegree),
  re74 = re74, re75 = re75, re78 = re78))
write.csv(out, "lalonde.csv", row.names = FALSE, quote = FALSE, na = "")
cat("MatchIt", as.character(packageVersion("MatchIt")), "- wrote",
    nrow(out), "rows to lalonde.csv\n")
