# How each member's latents are decoded for traversals (its files are the rule's inputs, in the
# same order: `models` for trained members, `imported` for imported checkpoints).
DECODERS = {
    name: (
        {"kind": "trained"}
        if m.trained
        else (
            None
            if m.posteriors_only
            else {
                "kind": "checkpoint",
                "entry_point": m.source["entry_point"],
                "latent_dim": m.latent_dim,
                "member": name,
            }
        )
    )
    for name, m in MEMBERS.items()
}


rule hotspots:
    """Hotspots: OPTICS on the channel distances; table, figures, latent traversals."""
    input:
        key=key_input("hotspots"),
        similarity=R("similarity.zarr"),
        sample=R("sample.zarr"),
        models=[R(f"members/{m}/model.pt") for m in TRAINED],
        imported=[
            IMPORTED_FILES[m]
            for m, spec in DECODERS.items()
            if spec and spec["kind"] == "checkpoint"
        ],
        posteriors=[posteriors_path(m) for m in MEMBERS],
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
    priority: 3
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=MEM_MB["hotspots"],
        runtime=30,
    params:
        decoders=DECODERS,
        key=KEYS.hotspots(),
    script:
        "../scripts/hotspots.py"
