# Mode connectivity: fit a curve between two checkpoints (its bends are a checkpoint of
# their own), then evaluate line, curve and loss plane into one HDF5 file per curve.
# Evaluation settings (points, BN subset, plane grid) rerun only the evaluation.


rule curve_fit:
    input:
        unpack(curve_endpoint_checkpoints),
    output:
        curve_bends("{curve}"),
    log:
        f"{LOGS}/curves/{{curve}}.fit.log",
    conda:
        CONDA_ENV
    params:
        settings=curve_fit_params,
    script:
        "../scripts/curve_fit.py"


rule curve_evaluate:
    input:
        bends=curve_bends("{curve}"),
        projected=curve_projection_checkpoints,
    output:
        curve_file("{curve}"),
    log:
        f"{LOGS}/curves/{{curve}}.evaluate.log",
    conda:
        CONDA_ENV
    params:
        settings=curve_eval_params,
    script:
        "../scripts/curve_evaluate.py"


rule curves:
    """Every configured curve (also built by the `figures` target)."""
    input:
        all_curves(),
