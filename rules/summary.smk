rule summary:
    """The report's front page: hotspot table, boosting numbers, scores and provenance."""
    input:
        key=key_input("summary"),
        similarity=R("similarity.zarr"),
        hotspots=R("hotspots/hotspots.json"),
        boost=R("boost/boost.json"),
        scores=[R(f"scores/{m}.json") for m in MEMBERS],
        spaces=SPACES_TARGETS,
    output:
        html=report(
            R("summary/summary.html"),
            caption="../report/summary.rst",
            category="Summary",
        ),
        prov=R("summary/summary.html.prov.json"),
    log:
        R("logs/summary.log"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=MEM_MB["summary"],
        runtime=10,
    params:
        key=KEYS.summary(),
    script:
        "../scripts/summary.py"
