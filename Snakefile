# infofrag: which pieces of information does training find again and again?
#   sample -> train* -> encode* -> fingerprint* -> similarity* -> gather -> hotspots -> boost -> summary
#                             encode* -> scores* -> summary                       (MIG, SAP, DCI)
#                             encode* -> spaces* -> spaces_gather -> summary   (whole latent spaces)
# Run:     snakemake --cores 2 --configfile config/demo.yaml
# Report:  snakemake --configfile config/demo.yaml --report results/report.html


# The demo config unless one is given (--configfile replaces it; it is never merged into it).
if not config:

    configfile: "config/demo.yaml"


include: "rules/common.smk"
include: "rules/sample.smk"
include: "rules/train.smk"
include: "rules/encode.smk"
include: "rules/scores.smk"
include: "rules/fingerprint.smk"
include: "rules/similarity.smk"
include: "rules/gather.smk"
include: "rules/spaces.smk"
include: "rules/hotspots.smk"
include: "rules/boost.smk"
include: "rules/summary.smk"
include: "rules/explore.smk"


rule all:
    default_target: True
    input:
        R("hotspots/hotspots.json"),
        R("boost/boost.json"),
        R("summary/summary.html"),
        R("explore/index.html"),
        SPACES_TARGETS,


onstart:
    # A run starts (not a dry run): this machine's memory for local jobs, then claim the
    # results directory for this config.
    if workflow.local_exec:
        resources.check(config, list(MEMBERS.values()), resources.available_mb())
        # Snakemake's job-rate limiter paces cluster submissions; locally its re-evaluation
        # rounds keep the Snakemake process busy at thousands of jobs (infofrag.scheduling).
        lift_local_rate_limit(workflow)
    # Each scheduling round reads every ready job's input sizes: read each once.
    cache_input_sizes(workflow)
    ownership.claim(RESULTS, OWNER)
    # Snakemake deletes a job's outputs before running it: keep the previous results (hard
    # links) so that a job that fails does not lose its rule's last good result.
    previous.keep(RESULTS)


onsuccess:
    previous.discard(RESULTS)
    # Date every key file by the results as they are now (past for a current result), so that
    # the finished tree needs no write to be found up to date (a read-only copy of it, say).
    settle_key_files()
    # Say loudly when the ensemble learnt nothing (a run that "succeeds" with no information).
    from infofrag.stages.hotspots import collapse_warning

    if message := collapse_warning(R("hotspots/hotspots.json")):
        print(message, file=sys.stderr)


onerror:
    if restored := previous.restore(RESULTS):
        print(
            f"infofrag: {len(restored)} previous result(s) of the failed jobs put back, each with "
            f"its own record (stale now, so the next run redoes them): {', '.join(restored[:10])}"
            f"{' ...' if len(restored) > 10 else ''}",
            file=sys.stderr,
        )
    previous.discard(RESULTS)
    settle_key_files()
