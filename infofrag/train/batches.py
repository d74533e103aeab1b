"""What a member sees at each step: batch indices and noise seeds, and their background rendering.

The batch indices of step ``t`` are row ``t % 64`` of
``np.random.default_rng([seed, 1, t // 64]).integers(0, n, (64, batch))`` (:func:`batch_indices`);
the reparameterisation noise of step ``t`` comes from a ``torch.Generator`` seeded with
:func:`noise_seed` ``(seed, t)`` (also derived per block of 64 steps). Both are pure functions of
the member's seed and the step, so a resumed run sees exactly what an uninterrupted one does.
"""

from __future__ import annotations

import math
import queue
import threading

import numpy as np
import torch

_STREAM_BATCH, _STREAM_NOISE, _STREAM_INIT = 1, 2, 3
#: steps per block of batch indices: part of the definition of the batch sequence (do not change)
BATCH_BLOCK = 64
#: the background thread renders this many bytes of batches per ``ds.get`` call (>= 1 batch)
_RENDER_CHUNK_BYTES = 4 << 20
_PREFETCH_DEPTH = 2  # chunks waiting in the queue


def _stream_seed(seed: int, stream: int, step: int = 0) -> int:
    """A 63-bit seed for RNG stream ``stream`` at ``step`` of a member with ``seed``."""
    state = np.random.SeedSequence([int(seed), stream, int(step)]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def init_seed(seed: int) -> int:
    """The seed of the torch RNG that draws a member's initial weights."""
    return _stream_seed(seed, _STREAM_INIT)


def noise_seeds(seed: int, block: int) -> list[int]:
    """Seeds of the reparameterisation noise of the ``BATCH_BLOCK`` steps of block ``block``."""
    state = np.random.SeedSequence([int(seed), _STREAM_NOISE, int(block)]).generate_state(
        BATCH_BLOCK, np.uint64)
    return [int(v) for v in state >> np.uint64(1)]


def noise_seed(seed: int, step: int) -> int:
    """The seed of the torch.Generator that draws step ``step``'s reparameterisation noise."""
    return noise_seeds(seed, int(step) // BATCH_BLOCK)[int(step) % BATCH_BLOCK]


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


class Prefetcher:
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

