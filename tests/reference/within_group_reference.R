# Reference values for tests/test_within_group.py: within-group agreement with Bliese's R
# package `multilevel` (Debian r-cran-multilevel 2.7) -- rwg, rwg.j and rwg.j.lindell against
# each null distribution (ranvar), awg, ad.m (mean and median), and the simulated null
# distributions of rwg / rwg(j) (rwg.sim, rwg.j.sim; Dunlap, Burke & Smith-Crowe 2003).
# Two data sets: the 3-level set of multilevel_reference.R, and a 5-level set of six groups.
# The null variances are computed here from the null probabilities, independently of the
# Python code (for 5 and 7 levels they reproduce LeBreton & Senter 2008, Table 2).
# Re-run with:  Rscript tests/reference/within_group_reference.R > tests/reference/within_group_reference.out
library(multilevel)
options(digits = 10, width = 120)

null_variance <- function(p) { x <- seq_along(p); sum(p * x^2) - sum(p * x)^2 }
nulls <- list(
  "3" = list(uniform = rep(1 / 3, 3), slight_skew = c(.10, .30, .60), moderate_skew = c(.05, .25, .70),
             heavy_skew = c(0, .20, .80), triangular = c(.20, .60, .20)),
  "5" = list(uniform = rep(1 / 5, 5), slight_skew = c(.05, .15, .20, .35, .25),
             moderate_skew = c(0, .10, .15, .40, .35), heavy_skew = c(0, 0, .10, .40, .50),
             triangular = c(.11, .22, .34, .22, .11)),
  "7" = list(uniform = rep(1 / 7, 7), slight_skew = c(.05, .05, .10, .15, .15, .30, .20),
             moderate_skew = c(0, .05, .10, .10, .15, .35, .25), heavy_skew = c(0, 0, .05, .10, .15, .30, .40),
             triangular = c(.05, .10, .20, .30, .20, .10, .05))
)
cat("== null variances\n")
for (A in names(nulls)) for (null in names(nulls[[A]])) cat(A, null, format(null_variance(nulls[[A]][[null]]), digits = 12), "\n")

three <- data.frame(
  grp   = c("A","A","A", "B","B","B","B", "C","C","C","C","C","C", "D","D", "E","E","E","E","E"),
  item1 = c(3,3,2,      2,1,2,2,        3,3,3,2,3,3,              1,3,      2,2,3,2,1),
  item2 = c(3,2,2,      1,1,2,1,        3,2,3,3,3,2,              2,2,      2,NA,3,2,2),
  item3 = c(2,3,3,      2,2,1,1,        3,3,2,3,3,3,              1,2,      1,2,2,3,2)
)
five <- data.frame(
  grp   = rep(c("A", "B", "C", "D", "E", "F"), times = c(4, 5, 6, 7, 3, 8)),
  item1 = c(5,5,5,4, 1,2,4,5,3, 3,3,3,3,3,3, 2,3,2,4,3,2,3, 4,5,4, 1,2,2,3,1,5,4,2),
  item2 = c(5,4,5,5, 2,1,5,4,3, 3,4,3,3,2,3, 3,3,2,4,NA,2,3, 5,5,4, 2,2,1,3,2,4,5,1),
  item3 = c(4,5,5,5, 1,1,5,5,2, 3,3,4,3,3,3, 2,2,3,3,3,2,4, 4,4,5, 3,1,2,2,4,5,1,2)
)
items <- c("item1", "item2", "item3")
for (set in c("three", "five")) {
  d <- get(set)
  A <- if (set == "three") 3 else 5
  for (null in names(nulls[[as.character(A)]])) {
    ranvar <- null_variance(nulls[[as.character(A)]][[null]])
    cat("==", set, null, "ranvar", format(ranvar, digits = 12), "\n")
    for (item in items) {
      r <- rwg(d[[item]], d$grp, ranvar = ranvar)
      cat("rwg", item, paste(r$grpid, format(r$rwg, digits = 10)), "\n")
    }
    r <- rwg.j(d[, items], d$grp, ranvar = ranvar)
    cat("rwg.j", paste(r$grpid, format(r$rwg.j, digits = 10)), "\n")
    r <- rwg.j.lindell(d[, items], d$grp, ranvar = ranvar)
    cat("rwg.j.lindell", paste(r$grpid, format(r$rwg.lindell, digits = 10)), "\n")
  }
  cat("==", set, "awg range", 1, A, "\n")
  for (item in items) {
    r <- awg(d[[item]], d$grp, range = c(1, A))
    cat("awg", item, paste(r$grpid, format(r$a.wg, digits = 10)), "\n")
  }
  r <- awg(d[, items], d$grp, range = c(1, A))
  cat("awg.j", paste(r$grpid, format(r$a.wg, digits = 10)), "\n")
  for (type in c("mean", "median")) {
    cat("==", set, "ad.m", type, "\n")
    for (item in items) {
      r <- ad.m(d[[item]], d$grp, type = type)
      cat("ad.m", item, paste(r$grpid, format(r$AD.M, digits = 10)), "\n")
    }
    r <- ad.m(d[, items], d$grp, type = type)
    cat("ad.m.j", paste(r$grpid, format(r$AD.M, digits = 10)), "\n")
  }
}

# Simulated null distributions (uniform null, as multilevel simulates it): the critical value
# rwg.95 and, for each value the simulation reached, the share of draws at or above it.
tails <- function(sim) {
  values <- sort(unique(sim$rwg))
  share <- sapply(values, function(v) mean(sim$rwg >= v - 1e-12))
  paste(format(values, digits = 10), format(share, digits = 6), sep = ":", collapse = " ")
}
set.seed(2003)
for (A in c(3, 5)) for (gsize in (if (A == 3) c(3, 5, 10, 20) else c(5, 10))) {
  sim <- rwg.sim(gsize = gsize, nresp = A, nrep = 10000)
  cat("== rwg.sim nresp", A, "gsize", gsize, "nrep 10000 rwg.95", format(sim$rwg.95, digits = 10), "\n")
  cat("tail", tails(sim), "\n")
}
for (gsize in c(5, 10)) {
  sim <- rwg.j.sim(gsize = gsize, nitems = 3, nresp = 3, nrep = 10000)
  cat("== rwg.j.sim nresp 3 nitems 3 gsize", gsize, "nrep 10000 rwg.95", format(sim$rwg.95, digits = 10), "\n")
  cat("tail", tails(sim), "\n")
}
