# Activation dumps: every registered layer of one checkpoint on the fixed probe set.


rule activations:
    input:
        checkpoint=checkpoint("{run}", "{epoch}"),
    output:
        activation("{run}", "{epoch}"),
    params:
        probe=config["probe"],
        data=config["data"],
    log:
        f"{LOGS}/activations/{{run}}.epoch{{epoch}}.log",
    script:
        "../scripts/activations.py"
