"""One figure of a research question (rules rq1_* to rq4_summary)."""

from closerlook import figures, findings, logs, results

logs.setup(snakemake.log[0])
s = snakemake.params.settings
ev = results.load_evidence(
    s["parts"],
    s["seeds"],
    snakemake.input.metrics,
    snakemake.input.tables,
    snakemake.input.curves,
    s.get("questions"),
    s["method"],
    s["methods"],
)
verdicts = []
if s["name"] == "rq4_summary":
    found = findings.all_findings(ev, findings.Settings(**s["findings"]))
    verdicts = [(f.claim_id, f.verdict_cell(), f.reason) for f in found]
fig = figures.study_figure(s["name"], ev, s["parts"], s["colours"], verdicts)
figures.save(fig, snakemake.output, s["dpi"])
