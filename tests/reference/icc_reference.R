# Reference values for the ICC(1) / ICC(2) intervals, design effect and random-group resampling
# in tests/test_agreement.py. R 4.2.2 with Debian's r-cran-psych 2.2.9 and r-cran-multilevel 2.7.
# Re-run with:  Rscript tests/reference/icc_reference.R > tests/reference/icc_reference.out
suppressPackageStartupMessages({library(psych); library(multilevel)})
options(digits = 10)

cat("## Balanced: Shrout & Fleiss (1979), 6 targets x 4 judges; psych::ICC (ANOVA, not lmer)\n")
sf <- matrix(c(9,2,5,8, 6,1,3,2, 8,4,6,8, 7,1,2,6, 10,5,6,9, 6,2,4,7), ncol = 4, byrow = TRUE)
icc <- ICC(sf, lmer = FALSE)
print(icc$results[c("Single_raters_absolute", "Average_raters_absolute"), ])

cat("\n## Unbalanced: the five groups of tests/reference/multilevel_reference.R\n")
d <- data.frame(
  grp   = c("A","A","A", "B","B","B","B", "C","C","C","C","C","C", "D","D", "E","E","E","E","E"),
  item1 = c(3,3,2,      2,1,2,2,        3,3,3,2,3,3,              1,3,      2,2,3,2,1),
  item2 = c(3,2,2,      1,1,2,1,        3,2,3,3,3,2,              2,2,      2,NA,3,2,2),
  item3 = c(2,3,3,      2,2,1,1,        3,3,2,3,3,3,              1,2,      1,2,2,3,2)
)
# The F-based interval (Shrout & Fleiss 1979; McGraw & Wong 1996, case 1) computed by hand from
# aov's mean squares, with k the mean group size N/J (as multilevel::ICC1) and with the
# ANOVA-adjusted k0 = (N - sum(n_j^2)/N) / (J - 1); the design effect 1 + (N/J - 1) ICC(1).
for (item in c("item1", "item2", "item3")) {
  x <- d[!is.na(d[[item]]), ]
  model <- aov(x[[item]] ~ as.factor(x$grp))
  ms <- summary(model)[[1]][["Mean Sq"]]
  df <- summary(model)[[1]][["Df"]]
  Fv <- ms[1] / ms[2]
  N <- nrow(x); J <- length(unique(x$grp)); nj <- table(x$grp)
  FL <- Fv / qf(0.975, df[1], df[2]); FU <- Fv * qf(0.975, df[2], df[1])
  for (k in c(N / J, (N - sum(nj^2) / N) / (J - 1))) {
    icc1 <- (ms[1] - ms[2]) / (ms[1] + (k - 1) * ms[2])
    cat(item, "k", k, "ICC1", icc1, "lower", (FL - 1) / (FL + k - 1), "upper", (FU - 1) / (FU + k - 1), "\n")
  }
  cat(item, "multilevel::ICC1", ICC1(model), "ICC2", ICC2(model), "ICC2 lower", 1 - 1 / FL,
      "upper", 1 - 1 / FU, "design effect", 1 + (N / J - 1) * ICC1(model), "\n")
}

cat("\n## Random-group resampling: multilevel::graph.ran.mean(item, grp, nreps = 20000, bootci = TRUE)\n")
cat("(graph.ran.mean's shuffling binds the ids into a numeric matrix: groups A-E are passed as 1-5)\n")
set.seed(15)
codes <- as.integer(factor(d$grp))
for (item in c("item1", "item3")) {
  cat(item, "\n")
  print(graph.ran.mean(d[[item]], codes, nreps = 20000, graph = FALSE, bootci = TRUE))
}
