# Whole latent spaces (config `spaces`): members' posterior spaces compared by Monte Carlo
# (the pairs spaces.monte_carlo_members chooses, sharded by pairs of member blocks that hold
# such pairs) and every pair by fingerprint (in spaces_gather, one pass). With spaces.enabled
# false nothing asks for these rules (SPACES_TARGETS is empty: `all` and `summary`) and they
# are not in the DAG.
SPACES_TARGETS = [R("spaces.zarr")] if config["spaces"]["enabled"] else []
SPACES_PAIRS = ENSEMBLE.spaces.pairs if config["spaces"]["enabled"] else []


rule spaces:
    """One shard: the Monte Carlo estimates of the chosen member pairs of a block pair."""
    input:
        key=key_input("spaces"),
        rows=lambda wc: mc_posteriors(wc.block_a),
        cols=lambda wc: mc_posteriors(wc.block_b),
    output:
        store=directory(R("spaces/shards/{block_a}__{block_b}.zarr")),
        prov=R("spaces/shards/{block_a}__{block_b}.zarr.prov.json"),
    log:
        R("logs/spaces/{block_a}__{block_b}.log"),
    benchmark:
        R("benchmarks/spaces/{block_a}__{block_b}.tsv")
    priority: 3
    conda:
        "../envs/torch.yaml"
    # one thread: the Monte Carlo's small tensor operations gain nothing from a second, and
    # lose much on a busy machine (21 s a pair with two threads where one takes 2.9 s)
    threads: 1
    resources:
        mem_mb=MEM_MB["spaces"],
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        key=lambda wc: KEYS.spaces(wc.block_a, wc.block_b),
    script:
        "../scripts/spaces.py"


rule spaces_gather:
    """The shards assembled into results/spaces.zarr with every pair's fingerprint estimate;
    each group's concatenated space; the figure."""
    input:
        key=key_input("spaces_gather"),
        shards=[R(f"spaces/shards/{a}__{b}.zarr") for a, b in SPACES_PAIRS],
        posteriors=[posteriors_path(m) for m in MEMBERS],
    output:
        store=directory(R("spaces.zarr")),
        figure=report(
            R("spaces/spaces.png"),
            caption="../report/spaces.rst",
            category="Whole latent spaces",
        ),
        prov=R("spaces.zarr.prov.json"),
    log:
        R("logs/spaces_gather.log"),
    benchmark:
        R("benchmarks/spaces_gather.tsv")
    priority: 3
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=MEM_MB["spaces_gather"],
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        key=KEYS.spaces_gather(),
    script:
        "../scripts/spaces_gather.py"
