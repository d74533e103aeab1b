rule gather:
    """Assemble the shards into one labelled store: results/similarity.zarr."""
    input:
        shards=[shard_path(p) for p in BLOCK_PAIRS],
        fingerprints=all_fingerprints(),
        scores=[R(f"scores/{m}.json") for m in MEMBERS],
    output:
        store=directory(R("similarity.zarr")),
        prov=R("similarity.zarr.prov.json"),
    log:
        R("logs/gather.log"),
    benchmark:
        R("benchmarks/gather.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        pairs=BLOCK_PAIRS,
        blocks={name: list(b.members) for name, b in BLOCKS.items()},
        members={name: m.train_config() for name, m in MEMBERS.items()},
        n_channels={name: m.latent_dim for name, m in MEMBERS.items()},
        code=CODE["estimators"],
    script:
        "../scripts/gather.py"
