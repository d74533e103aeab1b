rule similarity:
    """One shard: NMI, VI and joint information for all channel pairs of a block pair."""
    input:
        key=key_input("similarity"),
        rows=lambda wc: block_fingerprints(wc.block_a),
        cols=lambda wc: block_fingerprints(wc.block_b),
    output:
        store=directory(R("similarity/shards/{block_a}__{block_b}.zarr")),
        prov=R("similarity/shards/{block_a}__{block_b}.zarr.prov.json"),
    log:
        R("logs/similarity/{block_a}__{block_b}.log"),
    benchmark:
        R("benchmarks/similarity/{block_a}__{block_b}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=MEM_MB["similarity"],
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        key=lambda wc: KEYS.similarity(wc.block_a, wc.block_b),
    script:
        "../scripts/similarity.py"
