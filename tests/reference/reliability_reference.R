# Reference values for tests/test_reliability.py, computed with Revelle's R package `psych`
# (Debian r-cran-psych 2.2.9, R 4.2.2): Cronbach's alpha and its Feldt interval (psych::alpha,
# psych::alpha.ci), polychoric correlations and thresholds (psych::polychoric), ordinal alpha
# (psych::alpha of the polychoric matrix) and omega total (psych::omega and psych::fa with one
# factor, minres). The data: 60 respondents x 5 three-level items, "." where a respondent could
# not rate the item (9 respondents miss one item each, so 51 rated all five).
# Re-run with:  Rscript tests/reference/reliability_reference.R > tests/reference/reliability_reference.out
suppressPackageStartupMessages(library(psych))
items <- c(
  q1 = "122223222332222223311122322221322232332222221323323213333112",
  q2 = "121233232321223322212122222121221231321111221313323122232212",
  q3 = "2221.312333233333331232332221132.3323.322123232322222322322.",
  q4 = "212223132232122333221122313221311.12333111222333323313233123",
  q5 = "1121221223312113.322111131213112122233312.11.23222211222.121")
d <- as.data.frame(lapply(items, function(s) suppressWarnings(as.numeric(strsplit(s, "")[[1]]))))
complete <- na.omit(d)
options(digits = 10)
cat("complete cases:", nrow(complete), "\n")

cat("\n## Cronbach's alpha on the complete cases, Feldt interval (psych::alpha, psych::alpha.ci)\n")
a <- alpha(complete)
print(a$total[, c("raw_alpha", "std.alpha")])
print(unlist(a$feldt[c("lower.ci", "alpha", "upper.ci")]))
print(unlist(alpha.ci(a$total$raw_alpha, n.obs = 51, n.var = 5)[c("lower.ci", "alpha", "upper.ci")]))
cat("the same alpha with n = 60 (every respondent, before listwise deletion):\n")
print(unlist(alpha.ci(a$total$raw_alpha, n.obs = 60, n.var = 5)[c("lower.ci", "alpha", "upper.ci")]))

cat("\n## Feldt intervals for published alphas\n")
cat("pingouin's documented example (alpha 0.5917188485995826, 15 respondents, 10 items):\n")
print(unlist(alpha.ci(0.5917188485995826, n.obs = 15, n.var = 10)[c("lower.ci", "upper.ci")]))
cat("the demo study's scale (alpha 0.8873381049047153, 10 items), n = 410 complete and n = 755 before deletion:\n")
print(unlist(alpha.ci(0.8873381049047153, n.obs = 410, n.var = 10)[c("lower.ci", "upper.ci")]))
print(unlist(alpha.ci(0.8873381049047153, n.obs = 755, n.var = 10)[c("lower.ci", "upper.ci")]))

cat("\n## Polychoric correlations and thresholds of the complete cases (psych::polychoric defaults)\n")
p <- polychoric(complete)
print(p$rho)
print(p$tau)
cat("\nthe same likelihood (psych's own polyF), each pair optimised to tol = 1e-12:\n")
tight <- diag(5)
for (i in 2:5) for (j in 1:(i - 1)) {
  tab <- table(factor(complete[[i]], 1:3), factor(complete[[j]], 1:3))
  tab <- unclass(tab) / sum(tab)
  fit <- optimize(psych:::polyF, interval = c(-1, 1), rc = p$tau[i, ], cc = p$tau[j, ], tab = tab, tol = 1e-12)
  tight[i, j] <- tight[j, i] <- fit$minimum
}
dimnames(tight) <- dimnames(p$rho)
print(tight)

cat("\n## Polychoric correlations with the missing answers (pairwise tables, thresholds from all of an item's answers)\n")
pm <- polychoric(d)
print(pm$rho)
print(pm$tau)

cat("\n## Ordinal alpha: alpha of the polychoric matrix (all five items; q1-q3)\n")
print(alpha(p$rho)$total$raw_alpha)
print(alpha(polychoric(complete[, c("q1", "q2", "q3")])$rho)$total$raw_alpha)

cat("\n## Omega total from one factor (psych::omega, nfactors = 1; psych::fa minres loadings)\n")
o <- suppressWarnings(omega(complete, nfactors = 1, plot = FALSE))
cat("omega.tot", o$omega.tot, "\n")
f <- fa(complete, nfactors = 1, fm = "minres")
print(f$loadings[, 1])
cat("1 - sum(u2) / sum(R):", 1 - sum(1 - f$loadings[, 1]^2) / sum(cor(complete)), "\n")
o3 <- suppressWarnings(omega(complete[, c("q1", "q2", "q3")], nfactors = 1, plot = FALSE))
cat("omega.tot q1-q3", o3$omega.tot, "\n")
print(fa(complete[, c("q1", "q2", "q3")], nfactors = 1, fm = "minres")$loadings[, 1])
cat("alpha q1-q3", alpha(complete[, c("q1", "q2", "q3")])$total$raw_alpha, "\n")
