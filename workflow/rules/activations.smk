# Activation dumps: every registered layer of one checkpoint on the fixed probe set.


rule activations:
    input:
        checkpoint=checkpoint("{run}", "{epoch}"),
    output:
        activation("{run}", "{epoch}"),
    log:
        f"{LOGS}/activations/{{run}}.epoch{{epoch}}.log",
    conda:
        CONDA_ENV
    params:
        probe=config["probe"],
        data=config["data"],
    script:
        "../scripts/activations.py"
