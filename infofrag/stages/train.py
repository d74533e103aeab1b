"""Stage ``train``: one ensemble member (deterministic; resumes from its last checkpoint)."""

from __future__ import annotations

from .. import data, train


def run(member: dict, dataset: dict, checkpoint, log, resume_dir, key: dict, threads: int) -> dict:
    """``key``: what decides the member's weights (:meth:`infofrag.keys.Keys.train`): the digest
    of the code that trains it and the contents of the user's data files are part of what a
    resume checkpoint must match."""
    import torch

    torch.set_num_threads(threads)
    ds = data.make_dataset(dict(dataset))
    digests = {k: v for k, v in key["dataset"].items() if k.startswith("dataset.")}
    summary = train.train_member(ds, dict(member), checkpoint=checkpoint, log=log, resume_dir=resume_dir,
                                 origin={"code": key["code"], "data": digests, "threads": threads})
    return {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool, type(None)))}
