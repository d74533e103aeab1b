rule sample:
    """The fingerprint sample: N data points drawn once from a seed, shared by every member."""
    input:
        data=DATASET_FILES,
    output:
        store=directory(R("sample.zarr")),
        prov=R("sample.zarr.prov.json"),
    log:
        R("logs/sample.log"),
    benchmark:
        R("benchmarks/sample.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        dataset=config["dataset"],
        sample=config["sample"],
        code=CODE["data"],
    script:
        "../scripts/sample.py"
