# Reference values for tests/test_perception.py: role gaps pooled and within units, computed with
# R's `ordinal` (Debian r-cran-ordinal) and `lme4` (r-cran-lme4). Re-run with
#   Rscript tests/reference/role_gaps_reference.R > tests/reference/role_gaps_reference.out
# The data were drawn once (numpy, seed 2024) and are written out literally: 149 respondents in
# 12 units; roles N = nurse (reference), M = manager, MA = medical assistant, P = physician.
# Medical assistants work mostly in the high-rated units but rate lower than their own
# colleagues, so the pooled and the within-unit gap point opposite ways. Every answer in unit 12
# is the top level. `level` is one 3-level item; `score` a respondent's mean over 5 items.
suppressPackageStartupMessages({library(ordinal); library(lme4)})
options(digits = 15, width = 110)
unit <- c(
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3,
  3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6,
  6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 11,
  11, 11, 11, 11, 11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
  12, 12
)
role <- c(
  "N", "N", "N", "N", "N", "N", "N", "P", "N", "N", "N", "N", "N", "N", "P", "N", "N", "P", "N",
  "N", "N", "N", "P", "N", "N", "N", "N", "N", "N", "N", "N", "M", "N", "M", "M", "P", "P", "P",
  "P", "N", "N", "M", "N", "N", "N", "N", "N", "N", "P", "P", "P", "MA", "MA", "M", "P", "P", "N",
  "P", "N", "P", "MA", "P", "N", "N", "M", "N", "P", "P", "M", "P", "N", "M", "MA", "MA", "MA",
  "MA", "P", "N", "P", "MA", "M", "MA", "MA", "N", "P", "MA", "MA", "MA", "MA", "P", "N", "MA",
  "N", "N", "MA", "P", "N", "N", "N", "M", "P", "MA", "M", "MA", "MA", "MA", "MA", "MA", "M", "N",
  "M", "MA", "N", "MA", "MA", "MA", "N", "MA", "P", "MA", "M", "N", "N", "P", "MA", "N", "MA",
  "P", "P", "MA", "N", "N", "MA", "MA", "P", "N", "MA", "N", "MA", "M", "P", "MA", "M", "M", "MA",
  "P", "MA", "MA", "MA"
)
level <- c(
  1, 1, 3, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 1, 1, 1, 2, 2, 1, 2, 1, 2,
  1, 2, 3, 1, 1, 3, 2, 2, 1, 3, 2, 3, 1, 1, 1, 3, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 1, 3, 2, 3, 2, 3,
  3, 3, 1, 2, 2, 3, 3, 2, 2, 1, 1, 3, 2, 2, 1, 1, 1, 2, 2, 3, 3, 2, 1, 1, 3, 2, 3, 2, 3, 3, 2, 2,
  3, 2, 3, 3, 2, 3, 2, 1, 3, 1, 3, 2, 2, 3, 3, 3, 3, 1, 1, 2, 2, 2, 3, 1, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3
)
score <- c(
  1.4, 1.0, 1.0, 1.0, 1.2, 1.4, 1.2, 1.0, 1.2, 1.0, 1.2, 1.2, 1.0, 1.6, 1.0, 1.2, 1.2, 1.4, 1.0,
  1.2, 1.6, 1.2, 1.8, 1.2, 1.6, 1.4, 1.2, 2.4, 1.8, 1.4, 1.4, 1.6, 1.4, 1.4, 1.2, 1.4, 2.0, 2.0,
  1.4, 1.0, 1.2, 1.8, 2.2, 1.4, 1.2, 1.2, 1.4, 1.6, 1.8, 1.4, 1.0, 1.6, 1.4, 2.2, 1.6, 1.6, 1.6,
  2.0, 2.2, 2.2, 1.4, 2.0, 2.2, 1.8, 2.0, 2.0, 1.8, 2.2, 2.4, 2.4, 2.0, 2.6, 1.8, 1.4, 2.2, 2.0,
  2.2, 2.2, 2.8, 2.0, 2.6, 2.0, 2.8, 2.2, 2.4, 2.2, 2.2, 1.8, 2.2, 2.8, 2.4, 2.2, 2.2, 2.0, 2.0,
  1.8, 2.4, 2.6, 3.0, 2.4, 2.6, 2.6, 2.6, 2.6, 2.0, 2.0, 2.2, 2.2, 2.8, 2.2, 2.8, 2.8, 2.6, 2.6,
  2.6, 2.4, 2.4, 2.4, 2.4, 2.4, 2.8, 2.2, 2.8, 3.0, 2.2, 3.0, 2.8, 2.8, 2.8, 2.8, 2.6, 2.6, 3.0,
  2.8, 3.0, 2.8, 2.6, 2.6, 3.0, 2.8, 3.0, 2.2, 3.0, 3.0, 2.8, 2.8, 3.0, 3.0, 2.4
)
d <- data.frame(unit = factor(unit), role = factor(role, levels = c("N", "M", "MA", "P")),
                level = factor(level, ordered = TRUE), score = score)
cat("R", R.version$major, R.version$minor, " ordinal", format(packageVersion("ordinal")),
    " lme4", format(packageVersion("lme4")), "\n")

# Newton to a gradient of 1e-10 rather than clm's default 1e-6, so the reference is exact to
# well beyond the 1e-6 the tests ask for.
tight <- clm.control(gradTol = 1e-10, relTol = 1e-12)

# Cluster-robust (CRV1) covariance of a clm fit: the observation scores of the cumulative
# logit written out, summed by cluster, between two copies of vcov(); small-sample factor
# G/(G-1) (n-1)/(n-K). (sandwich::vcovCL has no clm method.)
vcov_cluster <- function(fit, data, cluster) {
  X <- model.matrix(fit)$X[, -1, drop = FALSE]
  y <- as.integer(data$level)
  theta <- fit$alpha
  eta <- drop(X %*% fit$beta)
  cuts <- c(-Inf, theta, Inf)
  upper <- cuts[y + 1] - eta
  lower <- cuts[y] - eta
  p <- plogis(upper) - plogis(lower)
  g_upper <- dlogis(upper) / p
  g_lower <- -dlogis(lower) / p
  S <- cbind(sapply(seq_along(theta), function(j) g_upper * (y == j) + g_lower * (y == j + 1)),
             -(g_upper + g_lower) * X)
  n <- nrow(S); K <- ncol(S); G <- length(unique(cluster))
  meat <- crossprod(rowsum(S, cluster))
  G / (G - 1) * (n - 1) / (n - K) * vcov(fit) %*% meat %*% vcov(fit)
}
show_clm <- function(label, fit, data) {
  cat("\n==", label, "==\n")
  print(summary(fit))
  cat("logLik", format(as.numeric(logLik(fit)), digits = 15), " max.grad", format(max(abs(fit$gradient))), "\n")
  se <- sqrt(diag(vcov(fit)))
  se_cluster <- sqrt(diag(vcov_cluster(fit, data, data$unit)))
  z <- coef(fit) / se_cluster
  print(cbind(estimate = coef(fit), se = se, se_cluster = se_cluster,
              p_cluster = 2 * pnorm(-abs(z))))
  p <- (2 * pnorm(-abs(z)))[c("roleM", "roleMA", "roleP")]
  print(rbind(p_cluster = p, holm = p.adjust(p, "holm"), BH = p.adjust(p, "BH")))
}

pooled <- clm(level ~ role, data = d, control = tight)
show_clm("pooled: clm(level ~ role)", pooled, d)

# Unit 12 (every answer the top level) has an infinite unit effect and nothing to say about
# roles: the within-unit model is fitted without it ...
informative <- droplevels(subset(d, unit != "12"))
within <- clm(level ~ role + unit, data = informative, control = tight)
show_clm("within units: clm(level ~ role + unit), unit 12 left out", within, informative)
# ... and with it, clm runs that unit's coefficient off towards infinity while the role
# coefficients approach the same values.
everything <- suppressWarnings(clm(level ~ role + unit, data = d))
cat("\nwith unit 12: unit12 coefficient", format(coef(everything)["unit12"]), "\n")
print(coef(everything)[c("roleM", "roleMA", "roleP")])

cat("\n== mixed: lmer(score ~ role + (1 | unit)), REML ==\n")
mixed <- lmer(score ~ role + (1 | unit), data = d, REML = TRUE,
              control = lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-14)))
print(summary(mixed), digits = 10)
print(cbind(estimate = fixef(mixed), se = sqrt(diag(as.matrix(vcov(mixed))))))
print(as.data.frame(VarCorr(mixed))[, c("grp", "vcov")])
cat("REML criterion", format(REMLcrit(mixed), digits = 15), "\n")

cat("\n== within units: lm(score ~ role + unit) ==\n")
fixed <- lm(score ~ role + unit, data = d)
within_lm <- cbind(summary(fixed)$coefficients, confint(fixed))[c("roleM", "roleMA", "roleP"), ]
print(within_lm)
cat("df.residual", df.residual(fixed), "\n")
p <- within_lm[, "Pr(>|t|)"]
print(rbind(p = p, holm = p.adjust(p, "holm"), BH = p.adjust(p, "BH")))
