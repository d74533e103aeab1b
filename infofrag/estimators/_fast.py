"""The fast (no-grad) path of :func:`similarity`: float64 sums of log m and log1p(G_i).

For each sample row i the M x K problem is one Gram matrix ``X_i X_i^T`` -- a GEMM. Rows are
processed in chunks (bounded memory, sized for the CPU caches or a GPU batch), the Gram
matrices of a chunk as batched products over the upper triangle only (each unordered pair once,
in two levels of blocks, see ``_SYM_BLOCK``), into reused buffers laid out once per worker
(:class:`_GramPlan`); ``a`` comes out of the same products (a constant extra channel, see
:class:`_Chunk`). The channels expected to have nearly constant rows are put first (see
``_weak_first``), so that ``exp`` and ``expm1`` each run over one contiguous range. On the CPU,
independent single-threaded workers take groups of chunks in a fixed assignment and their sums
are merged in a fixed order.

What bounds it (M = 500, N = 1,000, one core, MKL): the products run at ~85-88% of torch.matmul's
multiply-add rate (smaller GEMMs than one full [M, N] x [N, M] product; ~8% more multiply-adds
than the pairs need: whole diagonal squares, padding); the rest -- copying the chunk out of D
(memory-bound), exp/expm1, the row sums, the per-chunk bookkeeping, log1p of the Gram products --
costs about 40% as much again as the products (docs/benchmarks.md has the breakdown).
"""

from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import numpy as np
import torch

from ._coefficients import _Chunk, _max_distance, _weak_first
from ._sources import DenseRows
from ..measures import DEFAULT_MAX_MEMORY

# Working-buffer targets (bytes) for the row chunks: small enough to stay in the CPU caches,
# large enough to amortise the per-call overhead; a GPU wants big batches.
_CPU_CHUNK_BYTES = 8 * 2**20
_GPU_CHUNK_BYTES = 512 * 2**20
# On the CPU the Gram products of several chunks (about this many bytes of them) are held before
# their log1p and their sum over rows run, each as one pass: with large M a chunk holds one or a
# few rows, and a float64 accumulation of every chunk costs about as much as its log1p (measured
# at M = 500, N = 1,000 with one-row chunks: ~4% of the time). The sum over a group's rows is a
# float32 cascade sum, as over the rows of one larger chunk. Groups are made only where there are
# at least _MIN_GROUPS of them, so that up to that many workers share the rows evenly.
_CPU_GRAM_GROUP_BYTES = 4 * 2**20
_MIN_GROUPS = 64
_BLOCK = 128  # channel block of the Gram products of two stacks (every block against all of D_b)
# The upper triangle of one stack (each unordered pair once) in two levels: block rows of
# _SYM_BLOCK channels against all the columns right of their diagonal block (large GEMMs), and
# each diagonal block as a staircase of _SYM_STEP-row products, their diagonal squares computed
# whole: about M (M + 1) / 2 + M _SYM_STEP / 2 multiply-adds per row for the M (M + 1) / 2 needed
# (1.08x at M = 500 with the padding; one level of 64-channel blocks: 1.13x in smaller GEMMs).
_SYM_BLOCK = 128
_SYM_STEP = 32
# GEMM dimensions in multiples of this many channels: the CPU's GEMM kernels work in such tiles
# (measured with MKL: a 128 x 1000 x 376 product ~7% faster than 128 x 1000 x 373). The chunk
# buffers hold zero channels up to a multiple of it.
_ALIGN = 8
# Put the channels expected to be centred first (see _weak_first); False: D's order throughout
# (the same numbers, to rounding).
_REORDER = True


def _padded(n):
    """Channels of a chunk buffer for n channels: theirs, the constant channel, zero channels up
    to a multiple of _ALIGN."""
    return -(-(n + 1) // _ALIGN) * _ALIGN


def _blocks(M, block=_BLOCK):
    """[p0, p1) ranges of about equal size, at most ``block`` channels each."""
    nb = max(1, -(-M // block))
    b = -(-M // nb)
    return [(p0, min(M, p0 + b)) for p0 in range(0, M, b)]


class _Layout(NamedTuple):
    """Where each Gram block lies in one flat buffer (so that the log of all is a single pass).

    Block (p0, p1, q1, c0, c1): the channels [p0, p1) of D_a against the columns [c0, c1) of
    D_b's chunk buffer, which holds D_b's K channels, the constant channel at column K (-> a of
    the block's rows, in the block that includes it) and zero channels up to Kp (GEMM dimensions
    in multiples of _ALIGN). With D_b given: blocks of rows against all columns, and in the last
    block D_a's constant channel as one more row (q1 = p1 + 1; -> a of D_b's channels). With D_b
    None: the upper triangle, each unordered pair once (two levels, see _SYM_BLOCK).
    """

    blocks: list  # (p0, p1, q1, c0, c1)
    starts: list  # offset of each block per row of the buffer; the total last
    sizes: list  # elements of each block per row
    size: int  # elements per row
    Kp: int  # channels of D_b's chunk buffer


def _plan_layout(M, K, sym):
    Kp = _padded(K)
    blocks = []
    if sym:
        for P0 in range(0, M, _SYM_BLOCK):
            P1 = min(M, P0 + _SYM_BLOCK)
            blocks.append((P0, P1, P1, P1, Kp))  # right of the diagonal block (and the constant)
            for s0 in range(P0, P1, _SYM_STEP):
                s1 = min(P1, s0 + _SYM_STEP)
                blocks.append((s0, s1, s1, s0, P1))  # the diagonal block's staircase
    else:
        for p0, p1 in _blocks(M, _BLOCK):
            q1 = p1 + 1 if p1 == M else p1  # rows, incl. D_a's constant channel
            blocks.append((p0, p1, q1, 0, Kp))
    sizes = [(q1 - p0) * (c1 - c0) for p0, p1, q1, c0, c1 in blocks]
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return _Layout(blocks, starts, sizes, starts[-1], Kp)


def _chunk_rows(M, K, N, sym, chunk_rows, max_memory, dtype, device):
    """Sample rows per chunk: the caller's choice, else what fits the working-buffer target."""
    itemsize = torch.finfo(dtype).bits // 8
    gram = _plan_layout(M, K, sym).size
    channels = _padded(M) + (0 if sym else _padded(K))  # the chunk buffer of each stack
    per_row = (channels * N + gram) * itemsize
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


class _GramPlan:
    """The Gram products of r rows as views into one worker's buffers, made once per r.

    ``g`` [r, S]: each row holds every block of its Gram matrix (the layout's offsets), so that
    the log and the sum over rows are single passes. Running it fills ``g`` with
    ``G_i = X_i X_i^T - a_i a_i^T`` per block, and ``aa``, ``ab`` (the a of each channel).
    """

    def __init__(self, Xa, Xb, aa, ab, g, layout, K):
        r = g.shape[0]
        self.products, self.a_rows, self.a_cols, self.corrections = [], [], [], []
        for (p0, p1, q1, c0, c1), o, size in zip(layout.blocks, layout.starts, layout.sizes):
            G = g[:, o:o + size].view(r, q1 - p0, c1 - c0)
            self.products.append((Xa[:, p0:q1], Xb[:, c0:c1].transpose(1, 2), G))
            if c0 <= K < c1:
                self.a_rows.append((aa[:, p0:p1], G[:, :p1 - p0, K - c0]))
            if q1 > p1:
                self.a_cols.append((ab, G[:, -1, :K]))
            if c0 < K:
                k1 = min(c1, K)
                self.corrections.append((G[:, :p1 - p0, :k1 - c0], aa[:, p0:p1, None], ab[:, None, c0:k1]))

    def run(self):
        for A, B, G in self.products:
            torch.bmm(A, B, out=G)
        for dst, src in self.a_rows + self.a_cols:
            dst.copy_(src)
        for G, a_rows, a_cols in self.corrections:
            G.addcmul_(a_rows, a_cols, value=-1.0)


def _group_chunks(chunk_starts, rows, S, dtype, device):
    """Consecutive chunks whose Gram products are summed together (see
    ``_CPU_GRAM_GROUP_BYTES``); a group is never split between workers, so that its float32 sum
    is the same whatever the number of workers."""
    itemsize = torch.finfo(dtype).bits // 8
    per_group = 1
    if device.type == "cpu":
        per_group = max(1, min(_CPU_GRAM_GROUP_BYTES // (rows * S * itemsize), len(chunk_starts) // _MIN_GROUPS))
    return [chunk_starts[j:j + per_group] for j in range(0, len(chunk_starts), per_group)]


def _accumulate(Da, Db, layout, rows, dtype, device, orders, groups, out):
    """One worker: add the sums of the groups of chunks ``groups`` (chunk starts) to ``out``.

    Its buffers are allocated once and reused for every chunk. ``orders``: the channel order
    and number of expected-centred channels of each stack (see ``_weak_first``); the sums are
    in that order. The Gram products of a group's chunks fill one buffer whose log1p and row sum
    run once per group.
    """
    M, N = Da.M, Da.N
    sym = Db is None
    K = M if sym else Db.M
    S = layout.size
    slots = max(len(g) for g in groups)
    ca = _Chunk(M, N, rows, dtype, device, _padded(M), *orders[0])
    cb = None if sym else _Chunk(K, N, rows, dtype, device, layout.Kp, *orders[1])
    gflat = torch.empty(slots * rows * S, dtype=dtype, device=device)
    gsum = torch.empty(S, dtype=dtype, device=device)  # a group's sums over rows
    a_a = torch.empty((rows, M), dtype=dtype, device=device)
    a_b = a_a if sym else torch.empty((rows, K), dtype=dtype, device=device)
    plans = {}
    for group in groups:
        filled = 0  # rows of gflat holding this group's products
        for i0 in group:
            i1 = min(N, i0 + rows)
            r = i1 - i0
            Xa, la = ca.load(Da, i0, i1)
            out.lm_a += la  # (in D's order)
            if sym:
                Xb = Xa
            else:
                Xb, lb = cb.load(Db, i0, i1)
                out.lm_b += lb
            aa, ab = a_a[:r], a_b[:r]
            if (r, filled) not in plans:
                g = gflat[filled * S:(filled + r) * S].view(r, S)
                plans[r, filled] = _GramPlan(Xa, Xb, aa, ab, g, layout, K)
            plans[r, filled].run()
            if not sym:  # self terms of both stacks (symmetric case: in the diagonal blocks)
                for X, a, h, n in ((Xa, aa, out.h_a, M), (Xb, ab, out.h_b, K)):
                    d = torch.linalg.vecdot(X[:, :n], X[:, :n]).to(torch.float64)
                    a64 = a.to(torch.float64)
                    h += torch.log1p(d - a64 * a64).sum(0)
            filled += r
        g = gflat[:filled * S].view(filled, S)
        if device.type == "cpu":
            gn = g.numpy()
            np.log1p(gn, out=gn)  # numpy's SIMD log1p: ~2.5x torch's on the CPU
        else:
            g.log1p_()
        if filled == 1:
            out.acc_flat += g[0]
        else:
            out.acc_flat += torch.sum(g, 0, out=gsum)  # cascade sum: ~eps log2(rows)


def _in_threads(run, groups, parts, threads):
    """Worker k runs ``run(groups[k::W], parts[k])``, single-threaded, W = len(parts).

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
            run(groups[k::workers], parts[k])
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


def _collect(parts, layout, M, K, device, orders):
    """Merge the workers' sums (in worker order), unpack the Gram blocks into [M, K] and put
    the channels back in D's order."""
    total = parts[0]
    for p in parts[1:]:
        for name in ("acc_flat", "lm_a", "lm_b", "h_a", "h_b"):
            if getattr(total, name) is not None:
                getattr(total, name).add_(getattr(p, name))
    acc = torch.zeros((M, K), dtype=torch.float64, device=device)
    for (p0, p1, q1, c0, c1), o, size in zip(layout.blocks, layout.starts, layout.sizes):
        if c0 < K:
            k1 = min(c1, K)
            acc[p0:p1, c0:k1] = total.acc_flat[o:o + size].view(q1 - p0, c1 - c0)[:p1 - p0, :k1 - c0]
    h_a, h_b = total.h_a, total.h_b
    order_a = orders[0][0]
    order_b = order_a if len(orders) == 1 else orders[1][0]
    if order_a is not None or order_b is not None:
        if len(orders) == 1:  # the upper triangle, in buffer order: mirror before reordering
            acc = torch.triu(acc) + torch.triu(acc, 1).T
        back = lambda order, n: torch.from_numpy(np.argsort(order)).to(device) if order is not None else torch.arange(n, device=device)  # noqa: E731
        ia, ib = back(order_a, M), back(order_b, K)
        acc = acc[ia][:, ib]
        h_a = None if h_a is None else h_a[ia]
        h_b = None if h_b is None else h_b[ib]
    return acc, total.lm_a, total.lm_b, h_a, h_b


def _fast_terms(Da, Db, chunk_rows, max_memory, dtype, device):
    """Accumulate sum_i log m (per channel) and sum_i log1p(G_i) (per pair), float64.

    ``Da``, ``Db``: stacks of distance matrices [M, N, N], or :class:`PosteriorChannels`.
    Returns (acc [M, K], lm_a, lm_b, h_a, h_b); with ``Db`` None only the upper block-triangle
    of ``acc`` is filled, and lm_b, h_a, h_b are None (the caller reads them off ``acc``).
    """
    Da = Da if hasattr(Da, "fill") else DenseRows(Da, "D_a")
    Db = None if Db is None else (Db if hasattr(Db, "fill") else DenseRows(Db, "D_b"))
    M, N = Da.M, Da.N
    sym = Db is None
    K = M if sym else Db.M
    rows = _chunk_rows(M, K, N, sym, chunk_rows, max_memory, dtype, device)
    layout = _plan_layout(M, K, sym)
    cap = _max_distance(dtype, N)
    orders = [_weak_first(D, cap, device) if _REORDER else (None, 0) for D in ((Da,) if sym else (Da, Db))]
    run = functools.partial(_accumulate, Da, Db, layout, rows, dtype, device, orders)
    groups = _group_chunks(list(range(0, N, rows)), rows, layout.size, dtype, device)
    threads = torch.get_num_threads()
    workers = min(threads, len(groups)) if device.type == "cpu" else 1
    parts = [_Partials(layout.size, M, K, sym, device) for _ in range(workers)]
    if workers == 1:
        run(groups, parts[0])
    else:
        _in_threads(run, groups, parts, threads)
    return _collect(parts, layout, M, K, device, orders)
