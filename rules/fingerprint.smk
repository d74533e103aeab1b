rule fingerprint:
    """One member's compact fingerprints: each channel's posteriors, information terms and
    factor NMI. A light job (numpy only; one per member): infofrag.stages.fingerprint.
    """
    input:
        key=key_input("fingerprint"),
        posteriors=R("posteriors/{member}.zarr"),
        sample=R("sample.zarr"),
    output:
        store=directory(R("fingerprints/{member}.zarr")),
        prov=R("fingerprints/{member}.zarr.prov.json"),
    log:
        R("logs/fingerprint/{member}.log"),
    benchmark:
        R("benchmarks/fingerprint/{member}.tsv")
    priority: lambda wc: MEMBER_PRIORITY[wc.member]
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=MEM_MB["fingerprint"],
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        key=lambda wc: KEYS.fingerprint(wc.member),
        code_left_out=lambda wc: KEYS.left_out(wc.member),
    script:
        "../scripts/fingerprint.py"
