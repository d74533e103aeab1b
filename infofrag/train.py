"""Training one ensemble member: a deterministic, resumable beta-VAE loop.

``train_member(ds, member, checkpoint, log, resume_dir)`` trains the member described by
``member`` on dataset ``ds`` and writes

* ``checkpoint``: the final checkpoint (``torch.save`` of a dict; read it with
  :func:`load_model`), written atomically and only when training finished with finite losses;
* ``log``: the training log, CSV with columns ``step, loss, recon, kl_total, kl_0 ..
  kl_{d-1}, seconds``; one row every ``log_every`` steps (and one for the last step), each the
  mean over the steps since the previous row; ``seconds`` is the training wall time so far
  (including the time of earlier, interrupted runs);
* ``resume_dir/<name>.resume.pt``: the resume checkpoint, every ``checkpoint_every`` steps and
  at the end (model, optimizer, step, log rows, config hash).

Determinism. The weights are a pure function of the member config and the machine: the
initial weights come from a torch RNG seeded from ``seed``; the batch indices of step ``t``
are row ``t % 64`` of ``np.random.default_rng([seed, 1, t // 64]).integers(0, n, (64, batch))``
(:func:`batch_indices`); the reparameterisation noise of step ``t`` comes from a
``torch.Generator`` seeded with :func:`noise_seed` ``(seed, t)`` (also derived per block of 64
steps); the learning rate is constant (Adam). A run killed after a checkpoint and resumed is therefore bit-identical to an uninterrupted one (on
CPU; on CUDA cuDNN is put in deterministic mode, but bit-identity across GPU models is not
promised).

Resuming. The resume file is used only when its *config hash* matches: a hash of the settings
that decide the trajectory (beta, seed, arch, latent_dim, batch_size, lr, obs_std, tc_weight
when it is non-zero, and the dataset's name, size, input shape and likelihood). ``steps`` is
deliberately **not** part of it: with a constant learning rate and per-step RNG streams the
first k steps do not depend on the total, so a member whose ``steps`` was raised continues
from its last checkpoint (the resume file is kept after success, at the final step, for
exactly that); a resume file beyond the new ``steps`` is ignored (training starts over). ``name``, ``checkpoint_every``,
``log_every`` and ``threads`` do not change the trajectory either (``threads`` may change the
low bits of CPU reductions; keep it fixed for bit-identity). A resume file that cannot be read
or fails its digest check is a cache miss: a warning is logged and training starts over.

Failure. A non-finite loss raises :class:`TrainingDivergedError` naming the member and the
(first) step; the final checkpoint and log are not written and the last good resume
checkpoint is kept. Losses are checked on the device at log/checkpoint intervals (no per-step
host sync); a resume checkpoint is never written with a non-finite loss behind it.

Speed. Batches are rendered ahead by a background thread, in chunks of consecutive steps (one
``ds.get`` call per ~4 MB of batches), into a small queue; the per-step log values are written
into a buffer on the device and fetched (and checked for NaN) at log/checkpoint intervals only.
A resume checkpoint costs a few tens of ms (about 16 MB of weights + Adam state for ``mlp``);
choose ``checkpoint_every`` so that checkpoints are at least ~10 s apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import queue
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from .models import build_model

__all__ = ["CheckpointError", "TrainingDivergedError", "train_member", "load_model", "encode",
           "config_hash", "batch_indices", "noise_seed", "BATCH_BLOCK"]

logger = logging.getLogger(__name__)

FORMAT = "infofrag-member-v1"
RESUME_FORMAT = "infofrag-resume-v1"
REQUIRED_KEYS = ("name", "beta", "seed", "arch", "latent_dim", "steps", "batch_size", "lr",
                 "checkpoint_every", "log_every")
FINAL_KEYS = ("format", "state_dict", "arch", "input_shape", "latent_dim", "likelihood",
              "member", "steps_done", "torch_version", "digest")
_STREAM_BATCH, _STREAM_NOISE, _STREAM_INIT = 1, 2, 3
#: steps per block of batch indices: part of the definition of the batch sequence (do not change)
BATCH_BLOCK = 64
#: the background thread renders this many bytes of batches per ``ds.get`` call (>= 1 batch)
_RENDER_CHUNK_BYTES = 4 << 20
_PREFETCH_DEPTH = 2  # chunks waiting in the queue
_LOG_LINE_SECONDS = 10.0


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or incomplete (the message names it)."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN/inf (the message names the member and the step)."""


# --------------------------------------------------------------------------- helpers

def _stream_seed(seed: int, stream: int, step: int = 0) -> int:
    """A 63-bit seed for RNG stream ``stream`` at ``step`` of a member with ``seed``."""
    state = np.random.SeedSequence([int(seed), stream, int(step)]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def _noise_seeds(seed: int, block: int) -> list[int]:
    """Seeds of the reparameterisation noise of the ``BATCH_BLOCK`` steps of block ``block``."""
    state = np.random.SeedSequence([int(seed), _STREAM_NOISE, int(block)]).generate_state(
        BATCH_BLOCK, np.uint64)
    return [int(v) for v in state >> np.uint64(1)]


def noise_seed(seed: int, step: int) -> int:
    """The seed of the torch.Generator that draws step ``step``'s reparameterisation noise."""
    return _noise_seeds(seed, int(step) // BATCH_BLOCK)[int(step) % BATCH_BLOCK]


def _index_block(seed: int, block: int, n: int, batch_size: int) -> np.ndarray:
    """Indices of the ``BATCH_BLOCK`` steps of block ``block``: ``[BATCH_BLOCK, batch_size]``."""
    rng = np.random.default_rng([int(seed), _STREAM_BATCH, int(block)])
    return rng.integers(0, n, size=(BATCH_BLOCK, batch_size))


def batch_indices(seed: int, step: int, n: int, batch_size: int) -> np.ndarray:
    """The dataset indices of training step ``step`` (0-based): a pure function of its args.

    Drawn per block of ``BATCH_BLOCK`` steps (one RNG per block, row ``step % BATCH_BLOCK``), so
    that a whole run of batches costs one RNG call per 64 steps.
    """
    return _index_block(seed, int(step) // BATCH_BLOCK, n, batch_size)[int(step) % BATCH_BLOCK]


def _resolve_device(device) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _plain(obj):
    """Config values as plain Python (numpy scalars -> int/float), for safe (weights_only) loading."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def _digest(obj) -> str:
    """sha256 over a nested structure of tensors and plain values (the 'digest' key skipped).

    ``torch.save`` files are zip archives whose reader does not check CRCs, so a flipped bit in
    tensor data would load silently; the digest catches it.
    """
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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync, and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a failed write() has no file name: say which file (ENOSPC, EIO, ...)
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def _save(obj: dict, path: Path) -> None:
    obj = dict(obj)
    obj["digest"] = _digest(obj)
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_write_bytes(path, buf.getvalue())


def _read(path: Path, required: tuple[str, ...], fmt: str, map_location="cpu") -> dict:
    """Load and verify a checkpoint; CheckpointError (naming the file) when it is not sound."""
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


def _dataset_identity(ds) -> dict:
    return {"name": str(getattr(ds, "name", type(ds).__name__)), "n": int(ds.n),
            "input_shape": [int(s) for s in ds.input_shape], "likelihood": str(ds.likelihood),
            # what else tells datasets of one name apart (circle seed, user file), when present
            **{k: _plain(getattr(ds, k)) for k in ("seed", "source", "digest")
               if getattr(ds, k, None) is not None}}


def _validate_member(member: dict) -> dict:
    if not isinstance(member, dict):
        raise ValueError(f"member: expected a dict, got {type(member).__name__}")
    name = member.get("name", "?")
    missing = [k for k in REQUIRED_KEYS if k not in member]
    if missing:
        raise ValueError(f"member {name!r}: missing key(s) {missing}")
    m = _plain(member)

    def positive_int(key):
        v = m[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"member {name!r}: {key} must be a positive int, got {v!r}")

    for key in ("latent_dim", "steps", "batch_size", "checkpoint_every", "log_every"):
        positive_int(key)
    if m.get("threads") is not None:
        positive_int("threads")
    if isinstance(m["seed"], bool) or not isinstance(m["seed"], int) or m["seed"] < 0:
        raise ValueError(f"member {name!r}: seed must be a non-negative int, got {m['seed']!r}")
    for key in ("beta", "lr", "tc_weight"):
        if key not in m:
            continue
        v = m[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"member {name!r}: {key} must be a finite number >= 0, got {v!r}")
    if not m["lr"] > 0:
        raise ValueError(f"member {name!r}: lr must be > 0, got {m['lr']!r}")
    if not isinstance(m["name"], str) or not m["name"]:
        raise ValueError(f"member: name must be a non-empty string, got {m['name']!r}")
    return m


def config_hash(member: dict, ds) -> str:
    """Fingerprint of everything that decides a member's training trajectory (not ``steps``)."""
    m = _plain(member)
    keyed = {"format": RESUME_FORMAT, "beta": float(m["beta"]), "seed": int(m["seed"]),
             "arch": m["arch"], "latent_dim": int(m["latent_dim"]),
             "batch_size": int(m["batch_size"]), "lr": float(m["lr"]),
             "obs_std": float(m.get("obs_std", 0.1)), "optimizer": "adam(0.9,0.999,1e-8)",
             "dataset": _dataset_identity(ds)}
    if float(m.get("tc_weight", 0.0)):  # only when used, so plain beta-VAE hashes stay as they were
        keyed["tc_weight"] = float(m["tc_weight"])
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]


def _resume_path(resume_dir, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return Path(resume_dir) / f"{safe}.resume.pt"


def _try_resume(path: Path, chash: str, steps: int, name: str):
    """The resume checkpoint if it is sound, ours, and not beyond ``steps``; else None."""
    if not path.exists():
        return None
    try:
        state = _read(path, ("format", "config_hash", "step", "model", "optimizer", "rows",
                             "acc", "n_acc", "seconds", "digest"), RESUME_FORMAT)
    except CheckpointError as exc:
        logger.warning("member %r: ignoring the resume file (%s); starting over", name, exc)
        return None
    if state["config_hash"] != chash:
        logger.warning("member %r: resume file '%s' belongs to another configuration (hash %s, "
                    "expected %s); starting over", name, path, state["config_hash"], chash)
        return None
    if state["step"] > steps:
        logger.warning("member %r: resume file '%s' is at step %d, beyond steps=%d; starting over",
                    name, path, state["step"], steps)
        return None
    return state


class _Prefetcher:
    """Renders the batches of steps [start, stop) in a background thread, in order.

    Batches are rendered in chunks of consecutive steps (one ``ds.get`` call per chunk of about
    ``_RENDER_CHUNK_BYTES``), so that the per-step cost on the training thread is one queue
    look-up per chunk and a slice.
    """

    def __init__(self, ds, seed: int, batch_size: int, start: int, stop: int, pin: bool,
                 depth: int = _PREFETCH_DEPTH):
        self._ds, self._seed, self._bs = ds, seed, batch_size
        self._start, self._stop, self._pin = start, stop, pin
        self._shape = tuple(int(s) for s in ds.input_shape)
        batch_bytes = 4 * batch_size * math.prod(self._shape)
        self._chunk = int(max(1, min(BATCH_BLOCK, _RENDER_CHUNK_BYTES // batch_bytes)))
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._halt = threading.Event()
        self._cur, self._cur_start = None, None
        self._thread = threading.Thread(target=self._run, name="infofrag-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._halt.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _indices(self, first: int, last: int) -> np.ndarray:
        """Concatenated batch indices of steps [first, last)."""
        out, block, rows = [], None, None
        for step in range(first, last):
            if step // BATCH_BLOCK != block:
                block = step // BATCH_BLOCK
                rows = _index_block(self._seed, block, self._ds.n, self._bs)
            out.append(rows[step % BATCH_BLOCK])
        return np.concatenate(out)

    def _run(self):
        try:
            for first in range(self._start, self._stop, self._chunk):
                if self._halt.is_set():
                    return
                last = min(first + self._chunk, self._stop)
                x = self._ds.get(self._indices(first, last))
                x = np.ascontiguousarray(x, dtype=np.float32)
                expected = ((last - first) * self._bs, *self._shape)
                if x.shape != expected:
                    raise ValueError(f"dataset {getattr(self._ds, 'name', '?')!r}: get() returned "
                                     f"shape {x.shape}, expected {expected}")
                t = torch.from_numpy(x).reshape(last - first, self._bs, *self._shape)
                if self._pin:
                    t = t.pin_memory()
                if not self._put((first, t, None)):
                    return
        except BaseException as exc:  # hand it to the training thread
            self._put((None, None, exc))

    def get(self, step: int) -> torch.Tensor:
        """The batch of ``step`` (steps must be asked for in order)."""
        if self._cur is None or step - self._cur_start >= self._cur.shape[0]:
            first, t, exc = self._q.get()
            if exc is not None:
                raise exc
            assert first == step, (first, step)
            self._cur, self._cur_start = t, first
        return self._cur[step - self._cur_start]

    def close(self):
        self._halt.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=10)


def _write_log(path: Path, rows: list, latent_dim: int) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", "loss", "recon", "kl_total", *[f"kl_{k}" for k in range(latent_dim)], "seconds"])
    for step, vals, seconds in rows:
        loss, recon, *kl = vals
        w.writerow([step, repr(loss), repr(recon), repr(float(sum(kl))), *map(repr, kl),
                    f"{seconds:.3f}"])
    _atomic_write_bytes(path, buf.getvalue().encode())


def _use_bar(progress) -> bool:
    if progress is None:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return bool(progress)


# --------------------------------------------------------------------------- training

def train_member(ds, member: dict, checkpoint: str, log: str, resume_dir: str | None,
                 device="auto", progress=None) -> dict:
    """Train one member; write ``checkpoint`` and ``log``; resume from ``resume_dir``.

    member: dict with name, beta, seed, arch, latent_dim, steps, batch_size, lr,
    checkpoint_every, log_every; optional threads (torch.set_num_threads for the run),
    obs_std (Gaussian likelihood), tc_weight (total-correlation penalty, beta-TCVAE; the logged
    ``loss`` then includes it); other keys are ignored (but stored in the checkpoint).
    device: "auto" (CUDA when available), "cpu", "cuda", ... .
    progress: None (tqdm bar when stderr is a TTY, else log lines), True (bar), False (lines).
    Returns a summary dict (name, steps_done, resumed_from, loss, recon, kl, seconds, ...).
    """
    m = _validate_member(member)
    name, steps, bs, beta, seed = m["name"], m["steps"], m["batch_size"], float(m["beta"]), m["seed"]
    tc_weight = float(m.get("tc_weight", 0.0))
    d = m["latent_dim"]
    dev = _resolve_device(device)
    chash = config_hash(m, ds)
    ckpt_path, log_path = Path(checkpoint), Path(log)
    rpath = _resume_path(resume_dir, name) if resume_dir is not None else None

    old_threads = torch.get_num_threads()
    if m.get("threads"):
        torch.set_num_threads(m["threads"])
    old_cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    if dev.type == "cuda":  # deterministic convolution algorithms (restored afterwards)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    prefetch = bar = None
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_stream_seed(seed, _STREAM_INIT))
            model = build_model(m["arch"], tuple(ds.input_shape), d, likelihood=ds.likelihood,
                                obs_std=float(m.get("obs_std", 0.1)))
        model.to(dev).train()
        opt = torch.optim.Adam(model.parameters(), lr=float(m["lr"]))

        start, rows, prior_seconds = 0, [], 0.0
        acc = torch.zeros(d + 2, dtype=torch.float64)  # sums since the last log row (on dev)
        n_acc = 0
        state = _try_resume(rpath, chash, steps, name) if rpath is not None else None
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            start, rows, prior_seconds = int(state["step"]), list(state["rows"]), float(state["seconds"])
            rows = [(int(s), [float(v) for v in vals], float(sec)) for s, vals, sec in rows]
            acc, n_acc = state["acc"].to(torch.float64), int(state["n_acc"])
            logger.info("member %r: resuming from '%s' at step %d of %d", name, rpath, start, steps)
            del state
        acc = acc.to(dev)
        # per-step (loss, recon, kl_0..) since the last sync point, on the device: one small op
        # per step; folded into `acc` (float64) and checked for NaN/inf at sync points only
        window = torch.zeros(max(1, min(m["log_every"], m["checkpoint_every"])), d + 2,
                             dtype=torch.float32, device=dev)
        window_rows = window.unbind(0)
        n_win, win_start = 0, start

        gen = torch.Generator(device=dev)
        on_gpu = dev.type != "cpu"
        prefetch = _Prefetcher(ds, seed, bs, start, steps, pin=dev.type == "cuda") if start < steps else None
        if _use_bar(progress):
            from tqdm.auto import tqdm
            bar = tqdm(total=steps, initial=start, desc=name, unit="step", dynamic_ncols=True)
        logger.info("member %r: training steps %d..%d on %s (arch %s, beta %g, lr %g, batch %d)",
                    name, start, steps, dev, m["arch"], beta, m["lr"], bs)

        def sync(upto: int):
            """Sync point: raise if a loss since the last one was not finite; fold into acc."""
            nonlocal n_win, win_start, n_acc
            if n_win:
                part = window[:n_win]
                finite = torch.isfinite(part[:, 0])
                if not bool(finite.all()):
                    first = win_start + int((~finite).nonzero()[0, 0]) + 1
                    raise TrainingDivergedError(
                        f"member {name!r}: loss is not finite at step {first} of {steps} "
                        f"(beta {beta:g}, lr {m['lr']:g}); the final checkpoint is not written, the last "
                        f"resume checkpoint (if any) is kept")
                acc.add_(part.sum(0, dtype=torch.float64))
                n_acc += n_win
            n_win, win_start = 0, upto

        noise_block, noise_seeds = None, []
        t0 = time.perf_counter()
        last_line = t0
        for step in range(start, steps):
            x = prefetch.get(step)
            if on_gpu:
                x = x.to(dev, non_blocking=True)
            if step // BATCH_BLOCK != noise_block:  # seeds are derived per block of steps
                noise_block = step // BATCH_BLOCK
                noise_seeds = _noise_seeds(seed, noise_block)
            gen.manual_seed(noise_seeds[step % BATCH_BLOCK])
            terms = model.loss(x, beta, gen, tc_weight, ds.n)
            opt.zero_grad(set_to_none=True)
            terms.total.backward()
            opt.step()
            torch.cat((terms.total.detach().reshape(1), terms.recon.detach().reshape(1),
                       terms.kl.detach()), out=window_rows[n_win])
            n_win += 1
            done = step + 1
            if bar is not None:
                bar.update(1)
            is_log = done % m["log_every"] == 0 or done == steps
            is_ckpt = rpath is not None and (done % m["checkpoint_every"] == 0 or done == steps)
            if n_win == window.shape[0] or is_log or is_ckpt:
                sync(done)
            if is_log:
                seconds = prior_seconds + time.perf_counter() - t0
                mean = (acc / n_acc).tolist()
                rows.append((done, mean, seconds))
                acc.zero_()
                n_acc = 0
                now = time.perf_counter()
                if bar is not None:
                    bar.set_postfix(loss=f"{mean[0]:.2f}", kl=f"{sum(mean[2:]):.2f}", refresh=False)
                elif now - last_line >= _LOG_LINE_SECONDS or done == steps or done == start + m["log_every"]:
                    rate = (done - start) / max(now - t0, 1e-9)
                    logger.info("member %r: step %d/%d loss %.3f recon %.3f kl %.3f (%.1f steps/s)",
                                name, done, steps, mean[0], mean[1], sum(mean[2:]), rate)
                    last_line = now
            if is_ckpt:
                _save({"format": RESUME_FORMAT, "config_hash": chash, "step": done,
                       "model": model.state_dict(), "optimizer": opt.state_dict(),
                       "rows": rows, "acc": acc.cpu(), "n_acc": n_acc,
                       "seconds": prior_seconds + time.perf_counter() - t0,
                       "member": m}, rpath)

        seconds = prior_seconds + time.perf_counter() - t0
        if bar is not None:
            bar.close()
            bar = None
        final = {"format": FORMAT, "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                 "arch": m["arch"], "input_shape": [int(s) for s in ds.input_shape], "latent_dim": d,
                 "likelihood": model.likelihood, "obs_std": model.obs_std, "member": m,
                 "config_hash": chash, "steps_done": steps, "torch_version": str(torch.__version__),
                 "dataset": _dataset_identity(ds), "seconds": seconds}
        _write_log(log_path, rows, d)
        _save(final, ckpt_path)
        last = rows[-1][1]
        logger.info("member %r: done, %d steps, loss %.3f, %.1f s", name, steps, last[0], seconds)
        return {"name": name, "steps_done": steps, "resumed_from": start, "loss": last[0],
                "recon": last[1], "kl": last[2:], "kl_total": float(sum(last[2:])), "seconds": seconds,
                "steps_per_s": (steps - start) / max(time.perf_counter() - t0, 1e-9),
                "device": str(dev), "config_hash": chash, "checkpoint": str(ckpt_path), "log": str(log_path)}
    finally:
        if prefetch is not None:
            prefetch.close()
        if bar is not None:
            bar.close()
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn


# --------------------------------------------------------------------------- using members

def load_model(path, device="cpu"):
    """Load a final checkpoint -> (model in eval mode, meta dict without the weights).

    Raises CheckpointError (a ValueError) naming the file when it is missing, truncated,
    corrupt (digest mismatch), lacks keys, or does not fit its architecture.
    """
    path = Path(path)
    obj = _read(path, FINAL_KEYS, FORMAT)
    try:
        model = build_model(obj["arch"], tuple(obj["input_shape"]), int(obj["latent_dim"]),
                            likelihood=obj["likelihood"], obs_std=float(obj.get("obs_std", 0.1)))
        model.load_state_dict(obj["state_dict"])
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint '{path}': weights do not fit the recorded model: {exc}") from exc
    model.to(_resolve_device(device)).eval()
    meta = {k: v for k, v in obj.items() if k != "state_dict"}
    meta["path"] = str(path)
    return model, meta


def encode(model, x, batch_size: int = 256, device="auto"):
    """Posterior parameters of ``x`` ``[N, *input_shape]`` -> (mu, logvar), numpy float32 [N, d].

    Eval mode, no gradients, in batches; the model's training mode is restored afterwards.
    device "auto": the model's device if it is on a GPU, else CUDA when available, else CPU.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: must be a positive int, got {batch_size!r}")
    shape = tuple(model.input_shape)
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"x: shape {tuple(x.shape)} does not fit the model's input_shape {shape} "
                         f"(expected [N, {', '.join(map(str, shape))}])")
    if device is None or device == "auto":
        p = next(model.parameters())
        dev = p.device if p.device.type != "cpu" else _resolve_device("auto")
    else:
        dev = torch.device(device)
    was_training = model.training
    model.to(dev).eval()
    mus, lvs = [], []
    try:
        with torch.inference_mode():
            for i in range(0, x.shape[0], batch_size):
                xb = torch.as_tensor(np.asarray(x[i:i + batch_size]) if not isinstance(x, torch.Tensor)
                                     else x[i:i + batch_size], dtype=torch.float32).to(dev)
                mu, lv = model.encode(xb)
                mus.append(mu.float().cpu().numpy())
                lvs.append(lv.float().cpu().numpy())
    finally:
        model.train(was_training)
    d = model.latent_dim
    if not mus:
        return np.zeros((0, d), np.float32), np.zeros((0, d), np.float32)
    return np.concatenate(mus).astype(np.float32, copy=False), np.concatenate(lvs).astype(np.float32, copy=False)
