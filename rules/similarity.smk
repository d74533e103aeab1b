rule similarity:
    """One shard: NMI, VI and joint information for all channel pairs of a block pair. One thread:
    shards run side by side, one per core, as soon as their fingerprints exist (priority 3 to 3.5,
    the largest first); a shard asking for two cores would wait behind the one-core jobs that keep
    taking each core as it frees."""
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
    priority: lambda wc: SHARD_PRIORITY[(wc.block_a, wc.block_b)]
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=MEM_MB["similarity"],
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        key=lambda wc: KEYS.similarity(wc.block_a, wc.block_b),
    script:
        "../scripts/similarity.py"
