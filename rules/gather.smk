rule gather:
    """Assemble the shards into one labelled store: results/similarity.zarr."""
    input:
        key=key_input("gather"),
        shards=[shard_path(p) for p in BLOCK_PAIRS],
        fingerprints=[fingerprint_path(m) for m in MEMBERS],
    output:
        store=directory(R("similarity.zarr")),
        prov=R("similarity.zarr.prov.json"),
    log:
        R("logs/gather.log"),
    benchmark:
        R("benchmarks/gather.tsv")
    priority: 3
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=MEM_MB["gather"],
        runtime=30,
    params:
        key=KEYS.gather(),
    script:
        "../scripts/gather.py"
