"""Stage ``train``: one ensemble member (deterministic; resumes from its last checkpoint)."""

from __future__ import annotations

from .. import data, train


def run(member: dict, dataset: dict, checkpoint, log, resume_dir, code: str, data_digests: dict,
        threads: int) -> dict:
    """``code``: the digest of the code that trains it; ``data_digests``: {file: sha256} of the
    user's data files. Both are part of what a resume checkpoint must match."""
    import torch

    torch.set_num_threads(threads)
    ds = data.make_dataset(dict(dataset))
    summary = train.train_member(ds, dict(member), checkpoint=checkpoint, log=log, resume_dir=resume_dir,
                                 origin={"code": code, "data": dict(data_digests)})
    return {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool, type(None)))}
