# Reference values for tests/test_spc.py: Anhøj & Olesen's (2014) critical values for run charts,
# "Run charts revisited: a simulation study of run chart rules for detection of non-random
# variation in health care processes", PLoS ONE 9(11): e113825, Table 1, from their formulae in
# base R (R 4.2.2; qicharts2's runs.analysis computes the same two numbers).
# Re-run with
#   Rscript tests/reference/anhoej_critical.R > tests/reference/anhoej_critical.out
# For n useful observations (points not on the centre line): a longest run longer than
# round(log2(n)) + 3 signals (Schilling 2012); fewer crossings than qbinom(0.05, n - 1, 0.5)
# signals (Chen 2010). One line per n: n, longest_run_limit, crossings_limit.
cat("R", R.version$major, R.version$minor, "\n")
cat("n longest_run_limit crossings_limit\n")
for (n in 10:100) {
  cat(n, round(log2(n)) + 3, qbinom(0.05, n - 1, 0.5), "\n")
}
