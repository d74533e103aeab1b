rule sample:
    """The fingerprint sample: N data points drawn once from a seed, shared by every member."""
    input:
        key=key_input("sample"),
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
        mem_mb=MEM_MB["sample"],
        runtime=20,
    params:
        dataset=canonical(config["dataset"]),
        sample=canonical(config["sample"]),
        key=KEYS.sample(),
    script:
        "../scripts/sample.py"
