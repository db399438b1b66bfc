"""One figure of the study's registry (closerlook.study_figures; rules rq1_* to rq4_summary)."""

import importlib

from closerlook import evidence, findings, logs, plots, study_figures

logs.setup(snakemake.log[0])
s = snakemake.params.settings
importlib.import_module(s["module"])  # where the figure's entry and draw function live
i = snakemake.input
ev = evidence.from_inputs(s, i.metrics, i.tables, i.curves)
verdicts = findings.verdicts(ev, s["findings"]) if "findings" in s else []
fig = study_figures.draw(s["name"], ev, s["parts"], s["colours"], verdicts)
plots.save(fig, snakemake.output, s["dpi"])
