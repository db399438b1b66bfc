"""Stack the per-pair tables of one analysis (rule similarity_table)."""

from closerlook import compare, logs

log = logs.setup(snakemake.log[0])
table = compare.concat_tables(list(snakemake.input), snakemake.output[0])
log.info("%s: %d rows", snakemake.output[0], len(table))
