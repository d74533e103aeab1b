rule scores:
    """Supervised disentanglement scores (MIG, SAP, DCI) of one member, where the data has factors."""
    input:
        unpack(scores_inputs),
        key=key_input("scores"),
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
        run=lambda wc: canonical(scores_params(wc)),
        key=lambda wc: KEYS.scores(wc.member),
        code_left_out=lambda wc: KEYS.left_out(wc.member),
    script:
        "../scripts/scores.py"
