# infofrag: which pieces of information does training find again and again?
#   sample -> train* -> encode* -> fingerprint* -> similarity* -> gather -> hotspots -> boost -> summary
# Run:     snakemake --cores 2 --configfile config/demo.yaml
# Report:  snakemake --configfile config/demo.yaml --report results/report.html


# The demo config unless one is given (--configfile replaces it; it is never merged into it).
if not config:

    configfile: "config/demo.yaml"


include: "rules/common.smk"
include: "rules/sample.smk"
include: "rules/train.smk"
include: "rules/encode.smk"
include: "rules/fingerprint.smk"
include: "rules/similarity.smk"
include: "rules/gather.smk"
include: "rules/hotspots.smk"
include: "rules/boost.smk"
include: "rules/summary.smk"


rule all:
    default_target: True
    input:
        R("hotspots/hotspots.json"),
        R("boost/boost.json"),
        R("summary/summary.html"),
