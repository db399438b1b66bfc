# Figures: drawn from metrics.csv and the similarity tables; cheap, run locally.


rule learning_curves:
    input:
        metrics=[metrics(run) for run in config["runs"]],
    output:
        figure_files("learning_curves"),
    log:
        f"{LOGS}/figures/learning_curves.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        runs=list(config["runs"]),
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/learning_curves.py"


rule similarity_figure:
    input:
        table=similarity_table("{analysis}"),
    output:
        figure_files("similarity_{analysis}"),
    log:
        f"{LOGS}/figures/similarity_{{analysis}}.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        methods=config["similarity"]["methods"],
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/similarity_figure.py"
