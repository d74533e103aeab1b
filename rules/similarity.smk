# Channels carrying at most this many bits are bounded, not computed (similarity.bound_uninformative).
BOUNDED_BELOW = (
    config["hotspots"]["info_threshold"]
    if config["similarity"]["bound_uninformative"]
    else None
)


rule similarity:
    """One shard: NMI, VI and joint information for all channel pairs of a block pair."""
    input:
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
        bounded_below=BOUNDED_BELOW,
        code=CODE["similarity"],
    script:
        "../scripts/similarity.py"
