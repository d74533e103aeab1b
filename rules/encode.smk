from infofrag.stages import scores as scores_stage


rule encode:
    """Encode the fingerprint sample once per member: posterior means and log-variances."""
    input:
        unpack(encode_inputs),
    output:
        store=directory(R("posteriors/{member}.zarr")),
        prov=R("posteriors/{member}.zarr.prov.json"),
    log:
        R("logs/encode/{member}.log"),
    benchmark:
        R("benchmarks/encode/{member}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=MEM_MB["encode"],
        runtime=30,
    params:
        member=member_params,
        code=CODE["encode"],
    script:
        "../scripts/encode.py"


rule scores:
    """Supervised disentanglement scores (MIG, SAP, DCI) of one member, where the data has factors."""
    input:
        # the field protocol draws points of the dataset and encodes them with the member's
        # encoder: its checkpoint and the data files are inputs then (infofrag.stages.scores)
        unpack(
            lambda wc: scores_stage.rule_inputs(
                config["scores"],
                MEMBERS[wc.member],
                R(f"posteriors/{wc.member}.zarr"),
                R("sample.zarr"),
                R(f"members/{wc.member}/model.pt"),
                IMPORTED_FILES.get(wc.member),
                DATASET_FILES,
            )
        ),
    output:
        scores=R("scores/{member}.json"),
        prov=R("scores/{member}.json.prov.json"),
    log:
        R("logs/scores/{member}.log"),
    benchmark:
        R("benchmarks/scores/{member}.tsv")
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=MEM_MB["scores"],
        runtime=lambda wc, attempt: (
            30
            if scores_stage.uses_encoder(config["scores"], MEMBERS[wc.member])
            else 10
        )
        * attempt,
    params:
        settings=lambda wc: canonical(
            scores_stage.rule_settings(config["scores"], MEMBERS[wc.member])
        ),
        # what decides the points the field protocol draws and encodes (None otherwise)
        dataset=lambda wc: (
            canonical(config["dataset"])
            if scores_stage.uses_encoder(config["scores"], MEMBERS[wc.member])
            else None
        ),
        data_digests=lambda wc: (
            DATA_DIGESTS
            if scores_stage.uses_encoder(config["scores"], MEMBERS[wc.member])
            else None
        ),
        # the field protocol: how to load the member's encoder (an imported posteriors-only
        # member has none and is scored on the sample, which its output says)
        member=lambda wc: (
            member_params(wc) if config["scores"]["protocol"] == "field" else None
        ),
        code=CODE["scores"],
    script:
        "../scripts/scores.py"
