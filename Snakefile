# closerlook: a closer look at deep-learning heuristics (Gotmare et al., ICLR 2019).
#
#   train -> checkpoints -> activation dumps (HDF5) -> similarity -> figures
#
# `snakemake --cores all figures` runs the embedded preset (config.yaml);
# `snakemake --cores all figures --configfile workflow/configs/paper.yaml` the CIFAR-10
# study (targets before --configfile, which takes every word after it as a file).
from pathlib import Path

from closerlook import plan
from closerlook.config import load_schema, validate
from closerlook.usercode import search_folders

# A preset given with --configfile stands alone (with its overlays): config.yaml is read
# only without one, so that no embedded setting leaks into another preset.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# Validate before any job runs: unknown keys, wrong types, bad ranges, broken references,
# and your own networks and schedules (their module files found next to the config files).
config.update(
    validate(
        config,
        load_schema(
            Path(workflow.current_basedir) / "workflow/schemas/config.schema.yaml"
        ),
        search=search_folders(workflow.configfiles),
    )
)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Every figure of the configured study: the default target.
rule figures:
    default_target: True
    input:
        all_figures(),


include: "workflow/rules/train.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/similarity.smk"
include: "workflow/rules/curves.smk"
include: "workflow/rules/figures.smk"
