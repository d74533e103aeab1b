rule boost:
    """Fuse channels into one representation by gradient ascent on a similarity objective."""
    input:
        key=key_input("boost"),
        similarity=R("similarity.zarr"),
        hotspots=R("hotspots/hotspots.json"),
        sample=R("sample.zarr"),
        fingerprints=[fingerprint_path(m) for m in MEMBERS],
    output:
        store=directory(R("boost/fused.zarr")),
        json=R("boost/boost.json"),
        curve=report(
            R("boost/objective.png"),
            caption="../report/objective.rst",
            category="Boosting",
        ),
        picture=report(
            R("boost/fused.png"), caption="../report/fused.rst", category="Boosting"
        ),
        continuity=report(
            R("boost/continuity.png"),
            caption="../report/continuity.rst",
            category="Boosting",
        ),
        prov=R("boost/boost.json.prov.json"),
    log:
        R("logs/boost.log"),
    benchmark:
        R("benchmarks/boost.tsv")
    priority: 3
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=MEM_MB["boost"],
        runtime=120,
    params:
        key=KEYS.boost(),
    script:
        "../scripts/boost.py"
