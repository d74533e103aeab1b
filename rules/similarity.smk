rule similarity:
    """One shard: NMI, VI and joint information for all channel pairs of a block pair."""
    input:
        shard_inputs,
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
        rows=lambda wc: fingerprints_of(BLOCKS[wc.block_a].members),
        cols=lambda wc: fingerprints_of(BLOCKS[wc.block_b].members),
        code=CODE["similarity"],
    script:
        "../scripts/similarity.py"
