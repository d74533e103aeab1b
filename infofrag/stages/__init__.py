"""The pipeline's stages, one module each: what a rule does, as a plain function.

Each module has one entry point, ``run(...)``, taking paths and settings and returning the facts
to record; the rule scripts under ``scripts/`` are adapters that call it inside a
:class:`infofrag.workflow.Job`. Stages import only what they use, so a light job (a fingerprint)
does not pay for a heavy import (torch, scikit-learn).
"""
