rule fingerprint:
    """One channel's fingerprint: its N x N Bhattacharyya distances, information, factor NMI.
    A light job (numpy only; thousands of them at the paper's scale): infofrag.stages.fingerprint.
    """
    input:
        posteriors=R("posteriors/{member}.zarr"),
        sample=R("sample.zarr"),
    output:
        store=directory(R("fingerprints/{member}/ch{channel}.zarr")),
        prov=R("fingerprints/{member}/ch{channel}.zarr.prov.json"),
    log:
        R("logs/fingerprint/{member}/ch{channel}.log"),
    benchmark:
        R("benchmarks/fingerprint/{member}/ch{channel}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=MEM_MB["fingerprint"],
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        code=CODE["fingerprint"],
    script:
        "../scripts/fingerprint.py"
