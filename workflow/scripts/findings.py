"""findings.md: every claim of the study with its effect across seeds and its verdict under
every similarity measure."""

from closerlook import findings, logs

log = logs.setup(snakemake.log[0])
s = snakemake.params.settings
ev = findings.load_evidence(
    s["parts"],
    s["seeds"],
    snakemake.input.metrics,
    snakemake.input.tables,
    snakemake.input.curves,
    s["questions"],
    s["method"],
    s["methods"],
)
found = findings.all_findings(ev, findings.Settings(**s["findings"]))
findings.write(found, snakemake.output[0], s["preset"], s["method"])
for f in found:
    log.info("%s %s: %s", f.claim_id, f.verdict, f.reason)
