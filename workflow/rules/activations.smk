# Activation dumps: every registered layer of one checkpoint on the fixed probe set.


rule activations:
    input:
        checkpoint=checkpoint("{run}", "{seed}", "{epoch}"),
    output:
        activation("{run}", "{seed}", "{epoch}"),
    log:
        f"{LOGS}/activations/{{run}}.seed{{seed}}.epoch{{epoch}}.log",
    conda:
        CONDA_ENV
    params:
        probe=config["probe"],
        data=config["data"],
    script:
        "../scripts/activations.py"
