"""The layout of the similarity tables, shared by their writer (closerlook.compare,
closerlook.layer_matrix) and their reader (closerlook.evidence) without either importing
the other: the columns that name a compared pair, and the method suffix of a shuffled
baseline row (docs/architecture.md, artifacts)."""

# The columns that name a compared pair in every tidy similarity table (per layer and per
# layer x layer matrix): the analysis, both seeds, both runs and both checkpoints.
PAIR_COLUMNS = ["analysis", "seed", "seed_b", "run_a", "epoch_a", "run_b", "epoch_b"]
# A measure's shuffled baseline is the measure's name with this suffix ("cka_shuffled").
SHUFFLED = "_shuffled"
