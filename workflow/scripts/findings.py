"""findings.md and findings.json: every claim of the study with its preconditions, its
effect across seeds and its verdict under every similarity measure."""

from closerlook import evidence, findings, findings_doc, findings_html, logs

log = logs.setup(snakemake.log[0])
s = snakemake.params.settings
i = snakemake.input
ev = evidence.from_inputs(s, i.metrics, i.tables, i.curves)
settings = findings.Settings.from_config(s["findings"])
found = findings.all_findings(ev, settings)
o = snakemake.output
text = findings_doc.write(
    found, o.md, o.json, settings, s["preset"], ev.method, s["synthetic_data"], s["design"]
)
findings_html.write(text, o.html, f"closerlook findings: {s['preset']}")
for f in found:
    log.info("%s %s: %s", f.claim_id, f.verdict, f.reason)
