"""Stack the layer x layer matrices of one analysis' pairs, every seed, into one tidy
table (rule similarity_matrix_table)."""

import pandas as pd

from closerlook import compare, layer_matrix, logs

log = logs.setup(snakemake.log[0])
table = pd.concat([layer_matrix.read_matrix(p) for p in snakemake.input], ignore_index=True)
compare.write_table(table, snakemake.output[0])
log.info("%s: %d rows", snakemake.output[0], len(table))
