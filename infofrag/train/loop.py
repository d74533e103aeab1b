"""The training loop of one member: deterministic, resumable, checked for divergence.

``train_member(ds, member, checkpoint, log, resume_dir)`` trains the member described by
``member`` on dataset ``ds`` and writes

* ``checkpoint``: the final checkpoint (read it with :func:`load_model`), written atomically and
  only when training finished with finite losses;
* ``log``: CSV with columns ``step``, the method's columns, ``seconds``; one row every
  ``log_every`` steps (and one for the last step), each the mean over the steps since the
  previous row; ``seconds`` is the training wall time so far (earlier, interrupted runs
  included). The VAE families' columns are ``loss, recon, kl_total, kl_0 .. kl_{d-1}``
  followed by the method's extra terms (beta_tcvae: ``tc``; factor_vae: ``tc, disc_loss,
  disc_acc``; dip_vae_*: ``dip_offdiag, dip_diag``; annealed_vae: ``capacity``, C(t));
  infogan's are ``d_loss, g_loss, info_nll, mi_bound, d_real, d_fake``
  (:mod:`.learners`);
* ``resume_dir/<name>.resume.pt``: the resume state, every ``checkpoint_every`` steps and at the
  end (every network and every optimiser, step, log rows, trajectory key).

Methods. ``member["method"]`` (absent: ``beta_vae``) picks the learner of :mod:`.learners`:
``beta_vae``, ``beta_tcvae``, ``factor_vae``, ``dip_vae_i``, ``dip_vae_ii``, ``annealed_vae``,
``infogan``; the method's hyperparameters are top-level keys of the member (see
:data:`.learners.LEARNERS` and each learner's ``settings``).

Determinism. The weights are a pure function of the member's settings and the machine: the
initial weights come from a torch RNG seeded from ``seed``, batches and noise (and every other
random draw of a step) are pure functions of seed and step (:mod:`.batches`), the learning rates
are constant (Adam), and anything scheduled (AnnealedVAE's C(t)) is a function of the step. A run killed after a
checkpoint and resumed is bit-identical to an uninterrupted one (on CPU; on CUDA cuDNN is put in
deterministic mode, but bit-identity across GPU models is not promised).

Resuming. A resume state is used only when its trajectory key matches exactly: every setting
that decides the trajectory, the code's digest and the data files' content digests
(:func:`.checkpoints.trajectory_identity`); otherwise training starts from step 0 and the log says
which of the three differs. ``steps`` is deliberately not part of it: with a constant learning
rate and per-step RNG streams the first k steps do not depend on the total, so a member whose
``steps`` was raised continues from its last state (kept at the final step for exactly that); a
state beyond the new ``steps`` is ignored. ``threads`` may change the low bits of CPU reductions;
keep it fixed for bit-identity. A resume file that cannot be read or fails its digest check is
a cache miss: a warning is logged and training starts from step 0.

Failure. A non-finite loss raises :class:`TrainingDivergedError` naming the member and the first
step; the final checkpoint and log are not written and the last good resume state is kept.
Losses are checked at log/checkpoint intervals (no per-step host sync); a resume state is never
written with a non-finite loss behind it.

Speed. Batches are rendered ahead by a background thread; the per-step log values are written
into a buffer on the device and fetched at log/checkpoint intervals only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import sys
import time
from pathlib import Path

import torch

from ..atomic import write_bytes
from ..devices import resolve_device
from ..errors import TrainingDivergedError
from ..values import plain
from .batches import BATCH_BLOCK, Prefetcher, noise_seeds
from .checkpoints import FORMAT, RESUME_FORMAT, _save, resume_path, trajectory_identity, trajectory_key, try_resume
from .learners import COMMON_KEYS, LEARNERS, Learner, member_method, member_settings, setting_keys

logger = logging.getLogger("infofrag.train")

_LOG_LINE_SECONDS = 10.0


def _validate_member(member: dict) -> dict:
    """The member as plain values; ValueError naming the member and the key when a key is
    missing, out of range, or a hyperparameter of another method."""
    if not isinstance(member, dict):
        raise ValueError(f"member: expected a dict, got {type(member).__name__}")
    name = member.get("name", "?")
    method = member.get("method", None)
    if method is not None and method not in LEARNERS:
        raise ValueError(f"member {name!r}: method must be one of {list(LEARNERS)}, got {method!r}")
    learner = LEARNERS[member_method(member)]
    required = COMMON_KEYS + tuple(k for k, spec in learner.settings.items() if spec.default is None)
    missing = [k for k in required if k not in member]
    if missing:
        raise ValueError(f"member {name!r}: missing key(s) {missing}"
                         + (f" (method {learner.method!r})" if method is not None else ""))
    m = plain(member)

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
    lr = m["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"member {name!r}: lr must be a finite number >= 0, got {lr!r}")
    if not lr > 0:
        raise ValueError(f"member {name!r}: lr must be > 0, got {lr!r}")
    if "obs_std" in m:
        v = m["obs_std"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not v > 0:
            raise ValueError(f"member {name!r}: obs_std must be a finite number > 0, got {v!r}")
    for key, spec in learner.settings.items():
        if key in m:
            spec.check(name, key, m[key])
    learner.check_member(name, m)
    foreign = sorted(k for k in setting_keys() - set(learner.settings) if k in m)
    if foreign:
        raise ValueError(f"member {name!r}: {', '.join(foreign)} "
                         f"{'is not a setting' if len(foreign) == 1 else 'are not settings'} of method "
                         f"{learner.method!r} (its settings: {', '.join(learner.settings)})")
    if not isinstance(m["name"], str) or not m["name"]:
        raise ValueError(f"member: name must be a non-empty string, got {m['name']!r}")
    return m


def _write_log(path: Path, rows: list, learner: Learner) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", *learner.columns, "seconds"])
    for step, vals, seconds in rows:
        w.writerow([step, *map(repr, learner.row(vals)), f"{seconds:.3f}"])
    write_bytes(path, buf.getvalue().encode())


def _use_bar(progress) -> bool:
    if progress is None:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return bool(progress)


@contextlib.contextmanager
def _torch_settings(threads, dev):
    """Threads for the run (when given) and deterministic cuDNN on a GPU; restored afterwards."""
    old_threads = torch.get_num_threads()
    old_cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    if threads:
        torch.set_num_threads(threads)
    if dev.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn


class _Run:
    """The bookkeeping of one training run: log rows, sums since the last row, the divergence
    check at sync points, resume states."""

    def __init__(self, learner: Learner, m: dict, dev, rpath, identity: dict):
        self.learner, self.m, self.rpath, self.identity = learner, m, rpath, identity
        self.name, self.steps = m["name"], m["steps"]
        self.start, self.rows, self.prior_seconds = 0, [], 0.0
        self.acc = torch.zeros(learner.n_values, dtype=torch.float64)  # sums since the last log row
        self.n_acc = 0
        # per-step values since the last sync point, on the device: one small op per step
        self.window = torch.zeros(max(1, min(m["log_every"], m["checkpoint_every"])), learner.n_values,
                                  dtype=torch.float32, device=dev)
        self.window_rows = self.window.unbind(0)
        self.n_win = 0
        self.dev = dev

    def resume(self, state) -> None:
        if state is not None:
            self.learner.load(state)
            self.start, self.prior_seconds = int(state["step"]), float(state["seconds"])
            self.rows = [(int(s), [float(v) for v in vals], float(sec)) for s, vals, sec in state["rows"]]
            self.acc, self.n_acc = state["acc"].to(torch.float64), int(state["n_acc"])
            logger.info("member %r: resuming from '%s' at step %d of %d", self.name, self.rpath,
                        self.start, self.steps)
        self.acc = self.acc.to(self.dev)
        self.win_start = self.start

    def sync(self, upto: int) -> None:
        """Raise if a loss since the last sync point was not finite; fold the window into acc."""
        if self.n_win:
            part = self.window[:self.n_win]
            finite = torch.isfinite(part).all(dim=1)
            if not bool(finite.all()):
                first = self.win_start + int((~finite).nonzero()[0, 0]) + 1
                raise TrainingDivergedError(
                    f"member {self.name!r}: loss is not finite at step {first} of {self.steps} "
                    f"({self.learner.describe()}, lr {self.m['lr']:g}); the final checkpoint is not "
                    f"written, the last resume checkpoint (if any) is kept")
            self.acc.add_(part.sum(0, dtype=torch.float64))
            self.n_acc += self.n_win
        self.n_win, self.win_start = 0, upto

    def log_row(self, done: int, seconds: float) -> list:
        mean = (self.acc / self.n_acc).tolist()
        self.rows.append((done, mean, seconds))
        self.acc.zero_()
        self.n_acc = 0
        return mean

    def save_resume(self, done: int, seconds: float) -> None:
        _save({"format": RESUME_FORMAT, "config_hash": trajectory_key(self.identity),
               "identity": self.identity, "step": done, **self.learner.state(), "rows": self.rows,
               "acc": self.acc.cpu(), "n_acc": self.n_acc, "seconds": seconds, "member": self.m},
              self.rpath)

    def loop(self, ds, progress) -> float:
        """Steps ``start .. steps``; returns the seconds they took."""
        m, start, steps = self.m, self.start, self.steps
        learner, seed = self.learner, m["seed"]
        gen = torch.Generator(device=self.dev)
        on_gpu = self.dev.type != "cpu"
        prefetch = Prefetcher(ds, seed, m["batch_size"], start, steps, pin=self.dev.type == "cuda") \
            if start < steps else None
        bar = None
        if _use_bar(progress):
            from tqdm.auto import tqdm
            bar = tqdm(total=steps, initial=start, desc=self.name, unit="step", dynamic_ncols=True)
        logger.info("member %r: training steps %d..%d on %s (arch %s, %s, lr %g, batch %d)",
                    self.name, start, steps, self.dev, m["arch"], learner.describe(), m["lr"], m["batch_size"])
        noise_block, seeds = None, []
        t0 = time.perf_counter()
        last_line = t0
        try:
            for step in range(start, steps):
                x = prefetch.get(step)
                if on_gpu:
                    x = x.to(self.dev, non_blocking=True)
                if step // BATCH_BLOCK != noise_block:  # seeds are derived per block of steps
                    noise_block = step // BATCH_BLOCK
                    seeds = noise_seeds(seed, noise_block)
                gen.manual_seed(seeds[step % BATCH_BLOCK])
                learner.step(step, x, gen, self.window_rows[self.n_win])
                self.n_win += 1
                done = step + 1
                if bar is not None:
                    bar.update(1)
                is_log = done % m["log_every"] == 0 or done == steps
                is_ckpt = self.rpath is not None and (done % m["checkpoint_every"] == 0 or done == steps)
                if self.n_win == self.window.shape[0] or is_log or is_ckpt:
                    self.sync(done)
                if is_log:
                    mean = self.log_row(done, self.prior_seconds + time.perf_counter() - t0)
                    now = time.perf_counter()
                    if bar is not None:
                        bar.set_postfix_str(learner.progress(learner.row(mean)), refresh=False)
                    elif now - last_line >= _LOG_LINE_SECONDS or done == steps or done == start + m["log_every"]:
                        rate = (done - start) / max(now - t0, 1e-9)
                        logger.info("member %r: step %d/%d %s (%.1f steps/s)", self.name, done, steps,
                                    learner.progress(learner.row(mean)), rate)
                        last_line = now
                if is_ckpt:
                    self.save_resume(done, self.prior_seconds + time.perf_counter() - t0)
        finally:
            if prefetch is not None:
                prefetch.close()
            if bar is not None:
                bar.close()
        return time.perf_counter() - t0

    def finish(self, ds, checkpoint, log, elapsed: float) -> dict:
        seconds = self.prior_seconds + elapsed
        learner, m = self.learner, self.m
        model = learner.model
        final = {"format": FORMAT, "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                 "arch": m["arch"], "input_shape": [int(s) for s in ds.input_shape], "latent_dim": m["latent_dim"],
                 "likelihood": model.likelihood, "obs_std": float(getattr(model, "obs_std", m.get("obs_std", 0.1))),
                 "method": learner.method, "settings": member_settings(m), "member": m,
                 "config_hash": trajectory_key(self.identity), "steps_done": self.steps,
                 "torch_version": str(torch.__version__), "dataset": self.identity["settings"]["dataset"],
                 "seconds": seconds}
        _write_log(Path(log), self.rows, learner)
        _save(final, Path(checkpoint))
        last = learner.row(self.rows[-1][1])
        logger.info("member %r: done, %d steps, %s, %.1f s", self.name, self.steps, learner.progress(last), seconds)
        return {"name": self.name, "method": learner.method, "steps_done": self.steps, "resumed_from": self.start,
                **learner.summary(last), "seconds": seconds,
                "steps_per_s": (self.steps - self.start) / max(elapsed, 1e-9),
                "device": str(self.dev), "config_hash": trajectory_key(self.identity),
                "checkpoint": str(checkpoint), "log": str(log)}


def train_member(ds, member: dict, checkpoint: str, log: str, resume_dir: str | None,
                 device="auto", progress=None, origin: dict | None = None) -> dict:
    """Train one member; write ``checkpoint`` and ``log``; resume from ``resume_dir``.

    member: dict with name, seed, arch, latent_dim, steps, batch_size, lr, checkpoint_every,
    log_every; ``method`` (default "beta_vae") and that method's hyperparameters (beta_vae: beta,
    optional tc_weight; the others: see :mod:`.learners`); optional threads
    (torch.set_num_threads for the run), obs_std (Gaussian likelihood). A hyperparameter of
    another method is an error; other keys are ignored (but stored in the checkpoint).
    origin: ``{"code": digest, "data": {file: digest}, "threads": n}``, part of the trajectory key.
    device: "auto" (CUDA when available), "cpu", "cuda", ... .
    progress: None (tqdm bar when stderr is a TTY, else log lines), True (bar), False (lines).
    Returns a summary dict (name, steps_done, resumed_from, loss, recon, kl, seconds, ...).
    """
    m = _validate_member(member)
    dev = resolve_device(device)
    identity = trajectory_identity(m, ds, origin)
    rpath = resume_path(resume_dir, m["name"]) if resume_dir is not None else None
    with _torch_settings(m.get("threads"), dev):
        run = _Run(LEARNERS[member_method(m)](ds, m, dev), m, dev, rpath, identity)
        run.resume(try_resume(rpath, identity, m["steps"], m["name"]) if rpath is not None else None)
        elapsed = run.loop(ds, progress)
        return run.finish(ds, checkpoint, log, elapsed)
