from infofrag.stages import scores as scores_stage


def scores_inputs(wc):
    """The member's posteriors and the sample; for the field protocol also the member's encoder
    (a trained member's checkpoint, an imported one's file) and the data files."""
    member = MEMBERS[wc.member]
    out = {"posteriors": posteriors_path(wc.member), "sample": R("sample.zarr")}
    if scores_stage.uses_encoder(config["scores"], member):
        out.update(model_input(wc), data=DATASET_FILES)
    return out


def scores_params(wc):
    """What decides the member's scores: the settings it reads; for the field protocol also
    how to load its encoder and the points it draws (the dataset and its files' digests)."""
    member = MEMBERS[wc.member]
    field = scores_stage.uses_encoder(config["scores"], member)
    if field:
        who = member_params(wc)
    elif config["scores"]["protocol"] == "field":  # no encoder: the sample, with a note saying so
        who = {"name": wc.member, "kind": "posteriors"}
    else:
        who = None
    return {
        "settings": scores_stage.rule_settings(config["scores"], member),
        "member": who,
        "dataset": config["dataset"] if field else None,
    }


rule scores:
    """Supervised disentanglement scores (MIG, SAP, DCI) of one member, where the data has factors."""
    input:
        unpack(scores_inputs),
        key=key_input("scores"),
    output:
        scores=R("scores/{member}.json"),
        prov=R("scores/{member}.json.prov.json"),
    log:
        R("logs/scores/{member}.log"),
    benchmark:
        R("benchmarks/scores/{member}.tsv")
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=MEM_MB["scores"],
        runtime=lambda wc, attempt: (
            30 if scores_stage.uses_encoder(config["scores"], MEMBERS[wc.member]) else 10
        )
        * attempt,
    params:
        run=lambda wc: canonical(scores_params(wc)),
        key=lambda wc: KEYS.scores(wc.member),
    script:
        "../scripts/scores.py"
