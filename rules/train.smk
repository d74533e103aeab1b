rule train:
    """One ensemble member: a beta-VAE trained from its own seed (resumes after a kill)."""
    input:
        key=key_input("train"),
        data=DATASET_FILES,
    output:
        model=R("members/{member}/model.pt"),
        log=R("members/{member}/train_log.csv"),
        prov=R("members/{member}/model.pt.prov.json"),
    log:
        R("logs/train/{member}.log"),
    benchmark:
        R("benchmarks/train/{member}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=1,
        mem_mb=MEM_MB["train"],
        # Minutes; a job SLURM kills at its limit is resubmitted with more time and resumes.
        runtime=lambda wc, attempt: MEMBERS[wc.member].runtime_min * attempt,
    params:
        member=member_params,
        dataset=canonical(config["dataset"]),
        resume_dir=lambda wc: R(f"members/{wc.member}/.resume"),
        key=lambda wc: KEYS.train(wc.member),
        code_left_out=lambda wc: KEYS.left_out(wc.member),
    script:
        "../scripts/train.py"
