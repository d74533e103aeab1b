"""Checkpoints: the final one a member's jobs read, and the resume state of a training run.

Both are ``torch.save`` dicts with a content digest (a ``torch.save`` zip's reader checks no CRCs,
so a flipped bit in tensor data would otherwise load silently), written atomically. A resume
state is used only when its *trajectory key* matches the run at hand: a digest of every setting
that decides the trajectory, of the code that trains it and of the data's content (see
:func:`trajectory_key`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from pathlib import Path

import torch

from ..atomic import write_bytes
from ..devices import resolve_device
from ..errors import CheckpointError
from ..models import build_member_model
from ..values import plain
from ..defaults import default
from .learners import DEFAULT_METHOD, LEARNERS, member_method, member_settings

logger = logging.getLogger("infofrag.train")

FORMAT = "infofrag-member-v1"
RESUME_FORMAT = "infofrag-resume-v2"
FINAL_KEYS = ("format", "state_dict", "arch", "input_shape", "latent_dim", "likelihood",
              "member", "steps_done", "torch_version", "digest")
RESUME_KEYS = ("format", "config_hash", "identity", "step", "model", "optimizer", "rows", "acc",
               "n_acc", "seconds", "digest")


def _digest(obj) -> str:
    """sha256 over a nested structure of tensors and plain values (the 'digest' key skipped)."""
    h = hashlib.sha256()

    def walk(o):
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(o, dict):
            h.update(b"{")
            for k in sorted(o, key=str):
                if k == "digest":
                    continue
                h.update(repr(k).encode())
                walk(o[k])
            h.update(b"}")
        elif isinstance(o, (list, tuple)):
            h.update(b"[")
            for v in o:
                walk(v)
            h.update(b"]")
        else:
            h.update(repr(o).encode())

    walk(obj)
    return h.hexdigest()


def _save(obj: dict, path) -> None:
    obj = dict(obj)
    obj["digest"] = _digest(obj)
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def _read(path: Path, required: tuple[str, ...], fmt: str, map_location="cpu") -> dict:
    """Load and verify a checkpoint; CheckpointError (naming the file) when it is not sound."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}': no such file")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, ... all mean the same here
        raise CheckpointError(f"checkpoint '{path}' cannot be read (truncated or corrupt): "
                              f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint '{path}': not an infofrag checkpoint "
                              f"(top level is {type(obj).__name__}, not dict)")
    missing = [k for k in required if k not in obj]
    if missing:
        raise CheckpointError(f"checkpoint '{path}': missing key(s) {missing}")
    if obj["format"] != fmt:
        raise CheckpointError(f"checkpoint '{path}': format {obj['format']!r}, expected {fmt!r}")
    if _digest(obj) != obj["digest"]:
        raise CheckpointError(f"checkpoint '{path}': content digest mismatch (corrupt file)")
    return obj


# --------------------------------------------------------------------------- resume

def dataset_identity(ds) -> dict:
    return {"name": str(getattr(ds, "name", type(ds).__name__)), "n": int(ds.n),
            "input_shape": [int(s) for s in ds.input_shape], "likelihood": str(ds.likelihood),
            # what else tells datasets of one name apart (circle seed, user file), when present
            **{k: plain(getattr(ds, k)) for k in ("seed", "source", "digest")
               if getattr(ds, k, None) is not None}}


def trajectory_identity(member: dict, ds, origin: dict | None = None) -> dict:
    """Everything that decides a member's training trajectory, in three parts: ``settings``
    (not ``steps``: the first k steps do not depend on the total), ``code`` (the digest of the
    code that trains it) and ``data`` (digests of the data files' content).

    ``settings`` holds the method and all its hyperparameters with their defaults filled in
    (:func:`.learners.member_settings`: a default given explicitly is the same trajectory).
    A ``beta_vae`` member (``method`` absent or "beta_vae") has exactly the settings it had
    before methods existed (beta; tc_weight only when non-zero; no ``method``), so its resume
    states stay valid."""
    m = plain(member)
    method = member_method(m)
    learner = LEARNERS[method]
    settings = {"format": RESUME_FORMAT, "seed": int(m["seed"]),
                "arch": m["arch"], "latent_dim": int(m["latent_dim"]),
                "batch_size": int(m["batch_size"]), "lr": float(m["lr"]),
                "obs_std": float(m.get("obs_std", 0.1)), "optimizer": learner.optimizer,
                "dataset": dataset_identity(ds)}
    if method == DEFAULT_METHOD:
        settings["beta"] = float(m["beta"])
        if float(m.get("tc_weight", default("model.tc_weight"))):
            settings["tc_weight"] = float(m["tc_weight"])
    else:
        settings["method"] = method
        settings["hyperparameters"] = member_settings(m)
    origin = plain(origin or {})
    if origin.get("threads") is not None:  # CPU kernels round differently with another thread count
        settings["threads"] = int(origin["threads"])
    return {"settings": settings, "code": origin.get("code"), "data": origin.get("data") or {}}


def trajectory_key(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def config_hash(member: dict, ds, origin: dict | None = None) -> str:
    """The trajectory key of a member (see :func:`trajectory_identity`)."""
    return trajectory_key(trajectory_identity(member, ds, origin))


def resume_path(resume_dir, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return Path(resume_dir) / f"{safe}.resume.pt"



def try_resume(path: Path, identity: dict, steps: int, name: str):
    """The resume state if it is sound, of exactly this trajectory, and not beyond ``steps``;
    else None, with a log line that says why training starts from step 0."""
    if not path.exists():
        return None
    try:
        state = _read(path, RESUME_KEYS, RESUME_FORMAT)
    except CheckpointError as exc:
        logger.warning("member %r: ignoring the resume file (%s); starting from step 0", name, exc)
        return None
    if state["config_hash"] != trajectory_key(identity):
        differs = [part for part in ("settings", "code", "data")
                   if json.dumps(state["identity"].get(part), sort_keys=True)
                   != json.dumps(identity[part], sort_keys=True)]
        logger.warning("member %r: resume file '%s' was written by another %s; starting from step 0",
                       name, path, " and ".join({"settings": "configuration", "code": "version of the code",
                                                 "data": "content of the data files"}[p] for p in differs)
                       or "configuration")
        return None
    if state["step"] > steps:
        logger.warning("member %r: resume file '%s' is at step %d, beyond steps=%d; starting from step 0",
                       name, path, state["step"], steps)
        return None
    return state


# --------------------------------------------------------------------------- final

def load_model(path, device="cpu"):
    """Load a final checkpoint -> (model in eval mode, meta dict without the weights).

    The model is the member's method's (``meta["method"]``, "beta_vae" for checkpoints written
    before methods existed): a :class:`~infofrag.models.BetaVAE` for the VAE families, an
    :class:`~infofrag.models.InfoGAN` for ``infogan``; ``meta["settings"]`` holds the method's
    hyperparameters. Raises CheckpointError (a ValueError) naming the file when it is missing,
    truncated, corrupt (digest mismatch), lacks keys, or does not fit its architecture.
    """
    path = Path(path)
    obj = _read(path, FINAL_KEYS, FORMAT)
    try:
        method = obj.get("method", DEFAULT_METHOD)
        settings = obj.get("settings") or {}
        model = build_member_model(method, obj["arch"], tuple(obj["input_shape"]), int(obj["latent_dim"]),
                                   likelihood=obj["likelihood"], obs_std=float(obj.get("obs_std", 0.1)),
                                   noise_dim=int(settings.get("noise_dim", 8)))
        model.load_state_dict(obj["state_dict"])
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint '{path}': weights do not fit the recorded model: {exc}") from exc
    model.to(resolve_device(device)).eval()
    meta = {k: v for k, v in obj.items() if k != "state_dict"}
    meta["path"] = str(path)
    return model, meta
