# Reference values for tests/test_waves.py: the Welch interval for the change between two survey
# waves of different respondents, from R's default two-sample t.test (var.equal = FALSE), R 4.2.2.
# Re-run with
#   Rscript tests/reference/waves_welch.R > tests/reference/waves_welch.out
# Each case is a unit's respondent scores on one two-item characteristic (so scores are whole or
# half levels on the 1-3 scale) in the earlier wave (`before`) and the later wave (`after`);
# t.test(after, before) estimates after - before, the change the workbench reports.
# One line per case: name, confidence, then change, ci_low, ci_high, df, t, p.
options(digits = 15)
cases <- list(
  list(name = "moderate", confidence = 0.95,
       before = c(1.5, 2, 2, 2.5, 1, 2, 1.5),
       after = c(2, 2.5, 3, 2.5, 2, 3, 2.5, 3, 2)),
  list(name = "moderate_90", confidence = 0.90,
       before = c(1.5, 2, 2, 2.5, 1, 2, 1.5),
       after = c(2, 2.5, 3, 2.5, 2, 3, 2.5, 3, 2)),
  # 5 respondents before, 30 after: the small wave's variance dominates, df near 5, not 33
  list(name = "five_vs_thirty", confidence = 0.95,
       before = c(1, 1.5, 2, 1, 3),
       after = c(2, 2, 2.5, 1.5, 2, 3, 2, 2.5, 2, 1.5, 2, 2, 3, 2.5, 2, 2, 1.5, 2.5, 2, 2,
                 2.5, 2, 2, 3, 2, 1.5, 2, 2.5, 2, 2)),
  # unequal spread: a settled unit that split into two camps; the means barely move
  list(name = "split", confidence = 0.95,
       before = c(2, 2, 2, 2.5, 2, 1.5),
       after = c(1, 3, 1, 3, 2.5, 1, 3, 1.5)),
  # a fall
  list(name = "fall", confidence = 0.95,
       before = c(3, 2.5, 3, 2.5, 2, 3, 2.5, 3, 3, 2.5, 2),
       after = c(2, 1.5, 2, 2.5, 1.5, 1, 2, 2.5, 1.5, 2, 2, 1.5))
)
cat("R", R.version$major, R.version$minor, "\n")
cat("case confidence change ci_low ci_high df t p\n")
for (case in cases) {
  test <- t.test(case$after, case$before, conf.level = case$confidence)
  change <- unname(test$estimate[1] - test$estimate[2])
  values <- c(change, test$conf.int[1], test$conf.int[2], test$parameter, test$statistic, test$p.value)
  cat(case$name, case$confidence, format(values, digits = 15), "\n")
}
