# Reference values for tests/test_agreement.py, computed with Bliese's R package
# `multilevel` (Debian r-cran-multilevel 2.7-1): rwg, rwg.j, ICC1 and ICC2 on a small,
# unbalanced data set of three 3-level items in five groups (group E has one member
# who could not rate item2: NA). Re-run with:  Rscript tests/reference/multilevel_reference.R
library(multilevel)
d <- data.frame(
  grp   = c("A","A","A", "B","B","B","B", "C","C","C","C","C","C", "D","D", "E","E","E","E","E"),
  item1 = c(3,3,2,      2,1,2,2,        3,3,3,2,3,3,              1,3,      2,2,3,2,1),
  item2 = c(3,2,2,      1,1,2,1,        3,2,3,3,3,2,              2,2,      2,NA,3,2,2),
  item3 = c(2,3,3,      2,2,1,1,        3,3,2,3,3,3,              1,2,      1,2,2,3,2)
)
options(digits = 10)
ranvar3 <- (3^2 - 1) / 12
print(rwg(d$item1, d$grp, ranvar = ranvar3))
print(rwg(d$item2, d$grp, ranvar = ranvar3))
print(rwg.j(d[, c("item1", "item2", "item3")], d$grp, ranvar = ranvar3))
for (item in c("item1", "item2", "item3")) {
  model <- aov(d[[item]] ~ as.factor(d$grp))
  cat(item, "ICC1", ICC1(model), "ICC2", ICC2(model), "\n")
}
print(cronbach(d[, c("item1", "item2", "item3")]))
print(item.total(d[, c("item1", "item2", "item3")]))
