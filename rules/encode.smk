rule encode:
    """Encode the fingerprint sample once per member: posterior means and log-variances."""
    input:
        unpack(model_input),
        sample=R("sample.zarr"),
        key=key_input("encode"),
    output:
        store=directory(R("posteriors/{member}.zarr")),
        prov=R("posteriors/{member}.zarr.prov.json"),
    log:
        R("logs/encode/{member}.log"),
    benchmark:
        R("benchmarks/encode/{member}.tsv")
    priority: lambda wc: MEMBER_PRIORITY[wc.member]
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=lambda wc: 0 if MEMBERS[wc.member].posteriors_only else 1,
        mem_mb=MEM_MB["encode"],
        runtime=30,
    params:
        member=member_params,
        key=lambda wc: KEYS.encode(wc.member),
        code_left_out=lambda wc: KEYS.left_out(wc.member),
    script:
        "../scripts/encode.py"
