"""findings.md: every claim of the study with its effect across seeds and its verdict under
every similarity measure."""

from closerlook import evidence, findings, logs

log = logs.setup(snakemake.log[0])
s = snakemake.params.settings
i = snakemake.input
ev = evidence.from_inputs(s, i.metrics, i.tables, i.curves)
found = findings.all_findings(ev, findings.Settings(**s["findings"]))
findings.write(found, snakemake.output[0], s["preset"], ev.method, s["synthetic_data"])
for f in found:
    log.info("%s %s: %s", f.claim_id, f.verdict, f.reason)
