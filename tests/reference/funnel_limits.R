# Reference values for tests/test_spc.py: funnel-plot limits and overdispersion after Spiegelhalter
# (2005) "Funnel plots for comparing institutional performance", Stat Med 24:1185-1202 (exact
# limits, Appendix A.1.1) and "Handling over-dispersion of performance indicators", Qual Saf
# Health Care 14:347-351 (Winsorised phi and the additive random-effects tau^2), in base R only
# (R 4.2.2; FunnelPlotR is not used).
# Re-run with
#   Rscript tests/reference/funnel_limits.R > tests/reference/funnel_limits.out
#
# Exact limit at probability p for a volume n and target theta, with Spiegelhalter's interpolation
# between the discrete quantiles:
#   r_p = qbinom(p, n, theta); alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)); limit = (r_p - alpha) / n
# and for rates the same with the Poisson on the expected count n * theta (limit per unit of
# exposure). Printed raw: below zero where r_p = 0 (the workbench floors these at 0).
# Section "limit": kind theta volume p limit.
# Section "overdispersion": one block per example, the units' numerators and denominators, then
# theta (pooled), the z-scores, the 10%/90% quantiles (type 7), phi, I * phi, the chi-square(I - 1)
# 95% point, tau^2 and the adjusted 95% and 99.8% limits at three volumes.
options(digits = 15)
cat("R", R.version$major, R.version$minor, "\n")

limit_binomial <- function(p, n, theta) {
  r <- qbinom(p, n, theta)
  alpha <- (pbinom(r, n, theta) - p) / (pbinom(r, n, theta) - pbinom(r - 1, n, theta))
  (r - alpha) / n
}
limit_poisson <- function(p, exposure, theta) {
  e <- exposure * theta
  r <- qpois(p, e)
  alpha <- (ppois(r, e) - p) / (ppois(r, e) - ppois(r - 1, e))
  (r - alpha) / exposure
}

probabilities <- c(0.001, 0.025, 0.975, 0.999)
cat("section limit\n")
cat("kind theta volume p limit\n")
for (theta in c(0.02, 0.1, 0.3, 0.5, 0.85)) {
  for (n in c(5, 20, 60, 150, 500, 2000)) {
    for (p in probabilities) {
      cat("proportion", theta, n, p, format(limit_binomial(p, n, theta), digits = 15), "\n")
    }
  }
}
for (theta in c(0.002, 0.015, 0.5, 3)) {
  for (exposure in c(10, 100, 500, 2000, 10000)) {
    for (p in probabilities) {
      cat("rate", theta, exposure, p, format(limit_poisson(p, exposure, theta), digits = 15), "\n")
    }
  }
}

overdispersion <- function(name, kind, r, n, volumes) {
  theta <- sum(r) / sum(n)
  y <- r / n
  s2 <- if (kind == "proportion") theta * (1 - theta) / n else theta / n
  z <- (y - theta) / sqrt(s2)
  q <- quantile(z, c(0.1, 0.9), type = 7)
  zw <- pmin(pmax(z, q[1]), q[2])
  phi <- mean(zw^2)
  I <- length(z)
  w <- 1 / s2
  tau2 <- max(0, (I * phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w)))
  s2v <- if (kind == "proportion") theta * (1 - theta) / volumes else theta / volumes
  cat("section overdispersion", name, kind, "\n")
  cat("numerator", r, "\n")
  cat("denominator", n, "\n")
  cat("theta", format(theta, digits = 15), "\n")
  cat("z", format(z, digits = 15), "\n")
  cat("quantiles", format(unname(q), digits = 15), "\n")
  cat("phi", format(phi, digits = 15), "\n")
  cat("I_phi", format(I * phi, digits = 15), "\n")
  cat("chisq_95", format(qchisq(0.95, I - 1), digits = 15), "\n")
  cat("tau2", format(tau2, digits = 15), "\n")
  cat("volumes", volumes, "\n")
  for (p in c(0.975, 0.999)) {
    zp <- qnorm(p)
    cat("adjusted", p, "lower", format(theta - zp * sqrt(s2v + tau2), digits = 15), "\n")
    cat("adjusted", p, "upper", format(theta + zp * sqrt(s2v + tau2), digits = 15), "\n")
  }
}
# Hand hygiene in twelve units: opportunities met of opportunities observed; units differ by more
# than binomial noise.
overdispersion("hygiene", "proportion",
               c(71, 100, 41, 131, 84, 114, 66, 137, 86, 58, 121, 95),
               c(100, 120, 60, 150, 110, 130, 90, 160, 100, 80, 140, 125),
               c(50, 150, 400))
# Safety events per patient-day in ten units: within Poisson noise, so no adjustment.
overdispersion("safety", "rate",
               c(9, 25, 14, 40, 7, 31, 12, 22, 48, 16),
               c(800, 1500, 1100, 2300, 650, 1800, 1000, 1400, 2350, 1200),
               c(500, 1000, 2000))
# The same exposures with events spread more widely than Poisson noise allows.
overdispersion("safety_wide", "rate",
               c(4, 38, 9, 61, 3, 45, 8, 14, 70, 30),
               c(800, 1500, 1100, 2300, 650, 1800, 1000, 1400, 2350, 1200),
               c(500, 1000, 2000))
