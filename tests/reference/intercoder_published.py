"""Published inter-coder agreement values beside what workbench.intercoder computes on the same data.

No R package computes these here (irrCAC is on CRAN only, not in Debian), so the references are the
values the sources print, transcribed into tests/test_intercoder.py, which holds them to the printed
precision. This script shows them side by side for a reader. Re-run with:

    .venv/bin/python tests/reference/intercoder_published.py > tests/reference/intercoder_published.out
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_intercoder import (  # noqa: E402  (the transcribed data live with the tests)
    ABSTRACTORS,
    FLEISS_1971,
    IRRCAC_RAW4RATERS,
    IRRCAC_SIX_RATERS,
    OBSERVERS,
    expand_pairs,
)
from workbench import intercoder  # noqa: E402

rows = []
for level, published in [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]:
    ours = intercoder.krippendorff_alpha(OBSERVERS, level=level)
    rows.append(("Krippendorff 2011, 4 observers x 12 units", f"alpha {level}", published, ours["estimate"],
                 f"bootstrap {ours['ci_low']:.3f} to {ours['ci_high']:.3f}"))
for weights, published in IRRCAC_RAW4RATERS.items():
    table = intercoder.gwet_coefficients(OBSERVERS, weights=weights)
    for name, (estimate, se, low, high, _) in published.items():
        ours = table.loc[name]
        rows.append(("irrCAC cac.raw4raters (raw functions)", f"{name} {weights}",
                     f"{estimate} se {se} ({low}, {high})",
                     f"{ours['estimate']:.5f} se {ours['se']:.5f} ({ours['ci_low']:.3f}, {ours['ci_high']:.3f})", ""))
for weights, published in IRRCAC_SIX_RATERS.items():
    table = intercoder.gwet_coefficients(pd.DataFrame(FLEISS_1971[:15]), weights=weights)
    for name, (estimate, se, low, high) in published.items():
        ours = table.loc[name]
        rows.append(("irrCAC distrib.6raters (dist functions)", f"{name} {weights}",
                     f"{estimate} se {se} ({low}, {high})",
                     f"{ours['estimate']:.7f} se {ours['se']:.7g} ({ours['ci_low']:.3f}, {ours['ci_high']:.3f})", ""))
pairs = expand_pairs(ABSTRACTORS)
for weights, estimate, se in [("identity", 0.7964094, 0.05891072), ("quadratic", 0.8921569, 0.03535151)]:
    ours = intercoder.cohen_kappa(pairs["rater1"], pairs["rater2"], weights=weights)
    rows.append(("irrCAC cont3x3abstractors (kappa2.table)", f"Cohen's kappa {weights}", f"{estimate} se {se}",
                 f"{ours['estimate']:.7f} se {ours['se']:.8f}", "interval: ours normal, irrCAC t(n-1)"))
sas = expand_pairs([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
for weights, published in [("identity", "0.4842 ASE 0.1380 (0.2137, 0.7547)"),
                           ("linear", "0.4701 ASE 0.1457 (0.1845, 0.7558)")]:
    ours = intercoder.cohen_kappa(sas["rater1"], sas["rater2"], weights=weights)
    rows.append(("SAS PROC FREQ AGREE (statsmodels tests)", f"Cohen's kappa {weights}", published,
                 f"{ours['estimate']:.4f} ASE {ours['se']:.4f} ({ours['ci_low']:.4f}, {ours['ci_high']:.4f})", ""))

table = pd.DataFrame(rows, columns=["source", "coefficient", "published", "workbench", "note"])
with pd.option_context("display.width", 250, "display.max_colwidth", 80, "display.max_rows", 100):
    print("\n".join(line.rstrip() for line in table.to_string(index=False).splitlines()))
