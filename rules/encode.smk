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
        posteriors=R("posteriors/{member}.zarr"),
        sample=R("sample.zarr"),
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
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        code=CODE["scores"],
    script:
        "../scripts/scores.py"
