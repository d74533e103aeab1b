rule hotspots:
    """Hotspots: OPTICS on the channel distances; table, figures, latent traversals."""
    input:
        similarity=R("similarity.zarr"),
        models=[R(f"members/{m}/model.pt") for m in TRAINED],
        imported=[
            m.source["checkpoint"]
            for m in IMPORTED.values()
            if "checkpoint" in m.source
        ],
        posteriors=[R(f"posteriors/{m}.zarr") for m in MEMBERS],
    output:
        json=R("hotspots/hotspots.json"),
        csv=R("hotspots/hotspots.csv"),
        overview=report(
            R("hotspots/overview.png"),
            caption="../report/overview.rst",
            category="Hotspots",
        ),
        traversals=report(
            R("hotspots/traversals.png"),
            caption="../report/traversals.rst",
            category="Hotspots",
        ),
        per_group=report(
            R("hotspots/per_group.png"),
            caption="../report/per_group.rst",
            category="Hotspots",
        ),
        prov=R("hotspots/hotspots.json.prov.json"),
    log:
        R("logs/hotspots.log"),
    benchmark:
        R("benchmarks/hotspots.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=MEM_MB["hotspots"],
        runtime=30,
    params:
        settings=canonical(config["hotspots"]),
        models=decoder_table(),
        posteriors={m: R(f"posteriors/{m}.zarr") for m in MEMBERS},
        code=CODE["hotspots"],
    script:
        "../scripts/hotspots.py"
