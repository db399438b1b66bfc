# Train: one job per configured run and seed. It writes the checkpoint of every saved
# epoch (initialisation, SGDR cycle ends, save_epochs, the last), of every step of
# save_iterations (mid-epoch: checkpoints/step000200.pt) and metrics.csv under
# runs/{run}/seed{k}/. Progress lives in runs/{run}/seed{k}/resume/, outside the declared
# outputs, so a killed job resumes. A distilled run reads the checkpoint of the same seed of
# its teacher: that teacher trains first.


if config["data"]["synthetic"]:

    rule synthetic_cifar10:
        """A CIFAR-shaped archive of random class patterns (data.synthetic): NOT CIFAR-10."""
        output:
            cifar10_files(),
        log:
            f"{LOGS}/synthetic_cifar10.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            settings=config["data"]["synthetic"],
        script:
            "../scripts/synthetic_data.py"

else:

    rule download_cifar10:
        """CIFAR-10's official python archive, fetched and checked (needs internet)."""
        output:
            cifar10_files(),
        log:
            f"{LOGS}/download_cifar10.log",
        localrule: True
        conda:
            CONDA_ENV
        script:
            "../scripts/download.py"


for run in replicates.trained_runs(config):

    rule:
        name:
            f"train_{run}"
        input:
            data=dataset_files(),
            teacher=teacher_checkpoint(run),
            code=training_code(run),
        output:
            checkpoints=[checkpoint(run, "{seed}", p) for p in saved_points(run)],
            metrics=metrics(run, "{seed}"),
        log:
            f"{LOGS}/train/{run}.seed{{seed}}.log",
        conda:
            CONDA_ENV
        resources:
            **planned_resources(f"train_{run}"),
        params:
            settings=lambda wildcards, run=run: train_settings(run, wildcards.seed),
        script:
            "../scripts/train.py"
