"""The fast (no-grad) path of :func:`similarity`: float64 sums of log m and log1p(G_i).

For each sample row i the M x K problem is one Gram matrix ``X_i X_i^T`` -- a GEMM. Rows are
processed in chunks (bounded memory, sized for the CPU caches or a GPU batch), the Gram
matrices of a chunk as batched products over the upper block-triangle only (each unordered
pair once), into reused buffers; ``a`` comes out of the same products (a constant extra
channel, see :class:`_Chunk`). On the CPU, independent single-threaded workers take the
chunks in a fixed assignment and their sums are merged in a fixed order.
"""

from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import numpy as np
import torch

from ._coefficients import _Chunk
from ._constants import DEFAULT_MAX_MEMORY

# Working-buffer targets (bytes) for the row chunks: small enough to stay in the CPU caches,
# large enough to amortise the per-call overhead; a GPU wants big batches.
_CPU_CHUNK_BYTES = 8 * 2**20
_GPU_CHUNK_BYTES = 512 * 2**20
_BLOCK = 128  # channel block of the block-triangular Gram products


def _blocks(M, block=_BLOCK):
    """[p0, p1) ranges of about equal size, at most ``block`` channels each."""
    nb = max(1, -(-M // block))
    b = -(-M // nb)
    return [(p0, min(M, p0 + b)) for p0 in range(0, M, b)]


class _Layout(NamedTuple):
    """Where each Gram block lies in one flat buffer (so that the log of all is a single pass).

    Block (p0, p1, q1, c0): block-rows [p0, p1) of the channels of D_a against the channels
    [c0, K) of D_b (D_b None: c0 = p0, the upper block-triangle, each unordered pair once), plus
    the constant channel as a last column (-> a of the block's rows) -- and, in the last block
    with D_b given, as a last row (q1 = p1 + 1; -> a of D_b's channels). Listed from the last
    block, so that the a of every column is known when a block is corrected.
    """

    blocks: list  # (p0, p1, q1, c0)
    starts: list  # offset of each block per row of the buffer; the total last
    sizes: list  # elements of each block per row
    size: int  # elements per row


def _plan_layout(M, K, sym):
    blocks = []
    for p0, p1 in _blocks(M):
        c0 = p0 if sym else 0
        q1 = p1 + 1 if (not sym and p1 == M) else p1  # rows, incl. D_a's constant channel
        blocks.append((p0, p1, q1, c0))
    blocks.reverse()
    sizes = [(q1 - p0) * (K + 1 - c0) for p0, p1, q1, c0 in blocks]
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return _Layout(blocks, starts, sizes, starts[-1])


def _chunk_rows(M, K, N, sym, chunk_rows, max_memory, dtype, device):
    """Sample rows per chunk: the caller's choice, else what fits the working-buffer target."""
    itemsize = torch.finfo(dtype).bits // 8
    gram = sum((p1 - p0 + 1) * (K + 1 - (p0 if sym else 0)) for p0, p1 in _blocks(M))
    per_row = ((M + (0 if sym else K) + 2) * N + gram) * itemsize
    if chunk_rows is None:
        target = _GPU_CHUNK_BYTES if device.type == "cuda" else _CPU_CHUNK_BYTES
        budget = min(target, int(max_memory or DEFAULT_MAX_MEMORY) // 2)
        chunk_rows = max(1, min(N, budget // max(per_row, 1)))
    return int(max(1, min(N, chunk_rows)))


class _Partials:
    """One worker's float64 sums over the rows it processed."""

    def __init__(self, S, M, K, sym, device):
        f64 = dict(dtype=torch.float64, device=device)
        self.acc_flat = torch.zeros(S, **f64)
        self.lm_a = torch.zeros(M, **f64)
        self.lm_b = None if sym else torch.zeros(K, **f64)
        self.h_a = None if sym else torch.zeros(M, **f64)
        self.h_b = None if sym else torch.zeros(K, **f64)


def _gram_blocks(Xa, Xb, aa, ab, gflat, r, layout, K):
    """The Gram blocks of r rows, corrected to ``G_i = X_i X_i^T - a_i a_i^T``, into ``gflat``.

    Fills ``aa`` and ``ab`` (the a of each channel) on the way; returns the blocks' views.
    """
    views = []
    for (p0, p1, q1, c0), o in zip(layout.blocks, layout.starts):
        G = gflat[r * o:r * (o + (q1 - p0) * (K + 1 - c0))].view(r, q1 - p0, K + 1 - c0)
        torch.bmm(Xa[:, p0:q1], Xb[:, c0:].transpose(1, 2), out=G)
        aa[:, p0:p1] = G[:, :p1 - p0, -1]
        if q1 > p1:
            ab.copy_(G[:, -1, :K])
        G[:, :p1 - p0, :K - c0].addcmul_(aa[:, p0:p1, None], ab[:, None, c0:], value=-1.0)
        views.append(G)
    return views


def _accumulate(Da, Db, layout, rows, dtype, device, chunk_starts, out):
    """One worker: add the sums of the chunks starting at ``chunk_starts`` to ``out``.

    Its buffers are allocated once and reused for every chunk.
    """
    M, N = Da.shape[0], Da.shape[-1]
    sym = Db is None
    K = M if sym else Db.shape[0]
    S = layout.size
    ca = _Chunk(M, N, rows, dtype, device)
    cb = None if sym else _Chunk(K, N, rows, dtype, device)
    gflat = torch.empty(rows * S, dtype=dtype, device=device)
    gsum = torch.empty(S, dtype=dtype, device=device)  # a chunk's sums over rows
    a_a = torch.empty((rows, M), dtype=dtype, device=device)
    a_b = a_a if sym else torch.empty((rows, K), dtype=dtype, device=device)
    for i0 in chunk_starts:
        i1 = min(N, i0 + rows)
        r = i1 - i0
        Xa, la = ca.load(Da, i0, i1, "D_a", device)
        out.lm_a += la
        if sym:
            Xb = Xa
        else:
            Xb, lb = cb.load(Db, i0, i1, "D_b", device)
            out.lm_b += lb
        aa, ab = a_a[:r], a_b[:r]
        views = _gram_blocks(Xa, Xb, aa, ab, gflat, r, layout, K)
        if not sym:  # self terms of both stacks (symmetric case: in the diagonal blocks)
            for X, a, h, n in ((Xa, aa, out.h_a, M), (Xb, ab, out.h_b, K)):
                g = torch.linalg.vecdot(X[:, :n], X[:, :n]).to(torch.float64)
                a64 = a.to(torch.float64)
                h += torch.log1p(g - a64 * a64).sum(0)
        if device.type == "cpu":
            g = gflat[:r * S].numpy()
            np.log1p(g, out=g)  # numpy's SIMD log1p: ~2.5x torch's on the CPU
        else:
            gflat[:r * S].log1p_()
        for G, o, size in zip(views, layout.starts, layout.sizes):
            torch.sum(G.view(r, size), 0, out=gsum[o:o + size])  # cascade sum: ~eps log2(r)
        out.acc_flat += gsum


def _in_threads(run, chunk_starts, parts, threads):
    """Worker k runs ``run(chunk_starts[k::W], parts[k])``, single-threaded, W = len(parts).

    Independent workers, each on its own rows: no thread synchronisation per operation -- on
    a busy machine the fork/join of every small parallel operation costs more than the
    operation. The static assignment (and the caller's fixed merge order) keeps the result
    deterministic. A worker's exception is re-raised here.
    """
    workers = len(parts)
    errors = [None] * workers

    def work(k):
        torch.set_num_threads(1)  # this thread's intra-op threads (and MKL's)
        try:
            run(chunk_starts[k::workers], parts[k])
        except BaseException as exc:  # re-raised in the caller
            errors[k] = exc
        finally:
            torch.set_num_threads(threads)

    pool = [threading.Thread(target=work, args=(k,), name=f"infofrag-similarity-{k}") for k in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    torch.set_num_threads(threads)
    raised = [e for e in errors if e is not None]
    if raised:
        raise raised[0]


def _collect(parts, layout, M, K, device):
    """Merge the workers' sums (in worker order) and unpack the Gram blocks into [M, K]."""
    total = parts[0]
    for p in parts[1:]:
        for name in ("acc_flat", "lm_a", "lm_b", "h_a", "h_b"):
            if getattr(total, name) is not None:
                getattr(total, name).add_(getattr(p, name))
    acc = torch.zeros((M, K), dtype=torch.float64, device=device)
    for (p0, p1, q1, c0), o, size in zip(layout.blocks, layout.starts, layout.sizes):
        acc[p0:p1, c0:] = total.acc_flat[o:o + size].view(q1 - p0, K + 1 - c0)[:p1 - p0, :K - c0]
    return acc, total.lm_a, total.lm_b, total.h_a, total.h_b


def _fast_terms(Da, Db, chunk_rows, max_memory, dtype, device):
    """Accumulate sum_i log m (per channel) and sum_i log1p(G_i) (per pair), float64.

    Returns (acc [M, K], lm_a, lm_b, h_a, h_b); with ``Db`` None only the upper block-triangle
    of ``acc`` is filled, and lm_b, h_a, h_b are None (the caller reads them off ``acc``).
    """
    M, N = Da.shape[0], Da.shape[-1]
    sym = Db is None
    K = M if sym else Db.shape[0]
    rows = _chunk_rows(M, K, N, sym, chunk_rows, max_memory, dtype, device)
    layout = _plan_layout(M, K, sym)
    run = functools.partial(_accumulate, Da, Db, layout, rows, dtype, device)
    chunk_starts = list(range(0, N, rows))
    threads = torch.get_num_threads()
    workers = min(threads, len(chunk_starts)) if device.type == "cpu" else 1
    parts = [_Partials(layout.size, M, K, sym, device) for _ in range(workers)]
    if workers == 1:
        run(chunk_starts, parts[0])
    else:
        _in_threads(run, chunk_starts, parts, threads)
    return _collect(parts, layout, M, K, device)
