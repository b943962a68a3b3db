"""MC-dropout samples of the head's first Dense layer, computed from the dropped features only.

Why: in the seed's CNN the head starts Dropout(0.25) -> Flatten -> Dense(128), and each of T=100
samples of 2,000 pool images needs that Dense on its own masked features. As a dense batched matmul
(the compact path in `model`) that is ~94 GFLOP plus ~2 GB of masks and gathered weights per query.
But a sample keeps 75% of the features, so it equals the no-dropout sum minus the ~25% it drops:

    dense(dropout(x))_t = scale * (sum_j x_j W_j  -  sum_{j dropped in t} x_j W_j) + b

The first sum is computed once per point; each sample then touches only its dropped non-zero
features (~460 rows of W on MNIST instead of ~1,830): a quarter of the arithmetic and no mask tensor.
Where a layer drops more than half (rate > 0.5) it adds the kept features instead. Every
(sample, point, feature) still gets its own independent keep decision with Keras's probability, so
the distribution is exactly that of T full passes. This is a scatter of row updates, which no
TensorFlow op does without materialising the rows, hence a numba kernel, compiled on first use.

Randomness: a counter-based generator (splitmix64 over the counter (point, sample, word, bit
plane)), so a point's samples do not depend on chunking or thread scheduling. Keras keeps a unit
when a float32 uniform u = k / 2^23 is >= rate, i.e. drops it when the 23-bit k < ceil(rate * 2^23);
the kernel draws k bit-sliced, 64 features per word, comparing plane by plane from the top bit and
stopping once every lane is decided (two planes for rate 0.25, one for 0.5).

Where the head ends in a plain Dense with a softmax (or linear) output, as the seed's does, the
kernel applies it too and returns class probabilities: the [N, T, 128] activations (100 MB on
MNIST) never leave the cache, which inside a query round measured 0.25 s faster than handing them
to TensorFlow.

The kernel module is rendered from a template (`_KERNEL_SOURCE`, with `_block_loop` spelling out the
128 and 32 accumulators as scalars: 1.5x faster than a loop over them when first measured, 2.1x on a
loaded machine when measured again), so ruff never sees it as a file: tests/test_sparse_head.py renders
it and checks that it compiles and is ruff-clean. Compilation takes ~20 s (LLVM vectorising 128 scalar
accumulators), so the rendered module is written to a file in the user's cache directory and compiled
with numba's `cache=True`: once per machine and version; later processes load it in under a second.
The file is `sparse_kernel_generated_by_baltui_sparse_head_<hash>.py`, so that a traceback into it
says where its source is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

# Output units accumulated in registers at once: blocks of 128 (16 AVX2 / 8 AVX-512 vectors) while
# they fit, then of 32, then one by one. On MNIST (128 units) one 128-block beat 4 x 32: 0.29 s
# against 0.32-0.38 s per query.
BLOCKS = (128, 32)
# Parallel tasks per thread: each task allocates its scratch (T x H accumulators, ~50 KB) once, so a
# few tasks per thread keep page faults off the hot path while still balancing uneven points.
TASKS_PER_THREAD = 4
_compile_lock = threading.Lock()


def drop_rule(rate: float) -> tuple[int, int]:
    """(m, bits): drop a unit when a uniform `bits`-bit integer is < m; probability = Keras's.

    Keras drops when k < ceil(rate * 2^23) for k uniform on 23 bits; halving m and the bit count
    while m is even keeps the probability and saves random bits (0.25 -> (1, 2), 0.5 -> (1, 1)).
    """
    bits = 23
    m = math.ceil(rate * 2**bits)
    while bits > 0 and m % 2 == 0:
        m //= 2
        bits -= 1
    return m, bits


_KERNEL_SOURCE = '''
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@nb.njit(inline="always")
def mix(z):
    """splitmix64's output function: consecutive counters give independent 64-bit words."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always")
def drop_word(key, counter, m, bits):
    """64 independent drop decisions (bit set = dropped), each k < m for a bit-sliced k."""
    lt = np.uint64(0)
    eq = ~np.uint64(0)
    for i in range(bits - 1, -1, -1):
        x = mix(key + GOLDEN * np.uint64(counter * bits + i + 1))
        if (m >> i) & 1:
            lt |= eq & ~x
            eq &= x
        else:
            eq &= ~x
        if eq == np.uint64(0):
            break
    return lt


@nb.njit(inline="always")
def drops(key, counter, m, bits, subtract, last, K):
    """The features of one word whose rows the sample adds: its drops, or its keeps when it
    drops more than it keeps; lanes past the K non-zero features are cleared."""
    d = drop_word(key, counter, m, bits)
    if not subtract:
        d = ~d
    if last and K % 64:
        d &= (np.uint64(1) << np.uint64(K % 64)) - np.uint64(1)
    return d


@nb.njit(parallel=True, cache=True)
def drop_masks(feats, T, m, bits, seed, first):
    """The kernel's drop decisions as a [N, T, F] bool array (zero features never drop): for tests."""
    N, F = feats.shape
    out = np.zeros((N, T, F), dtype=np.bool_)
    key = mix(np.uint64(seed))
    for n in nb.prange(N):
        nz = np.flatnonzero(feats[n])
        words = (len(nz) + 63) // 64
        stride = (F + 63) // 64  # counters per (point, sample): the same for every point, so none overlap
        for t in range(T):
            for w in range(words):
                d = drop_word(key, ((first + n) * T + t) * stride + w, m, bits)
                for s in range(64):
                    q = w * 64 + s
                    if q < len(nz) and (d >> np.uint64(s)) & np.uint64(1):
                        out[n, t, nz[q]] = True
    return out


@nb.njit(parallel=True, fastmath={"contract"}, cache=True)
def sample_dense(feats, W, b, T, m, bits, scale, relu, out_m, out_bits, out_scale, seed, first, W2, b2, final,
                 threads):
    """[N, T, H] = dropout2(act(scale * masked feats @ W + b)), from the dropped (or kept) features only.

    dropout2 is the Dropout that often follows the Dense (rule out_m, out_bits; out_bits = 0 and
    out_m = 0 for none), drawn from its own key so its decisions are independent of the first's.
    With `final` 1 (linear) or 2 (softmax) the output layer Dense(W2, b2) is applied too and the
    result is [N, T, C]: the [N, T, H] activations never reach memory.
    """
    N, F = feats.shape
    H = W.shape[1]
    C = W2.shape[1] if final else H
    Wf = W.ravel()
    out = np.empty((N, T, C), dtype=np.float32)
    key = mix(np.uint64(seed))
    out_key = mix(key ^ np.uint64(0x5DEECE66D))
    out_words = (H + 63) // 64
    stride = (F + 63) // 64  # counters per (point, sample): the same for every point, so none overlap
    subtract = m * 2 < (1 << bits)  # dropping fewer than half: start from the full sum, subtract drops
    tasks = max(1, min(N, threads * TASKS_PER_THREAD))  # threads: an argument, as a cached kernel must not call numba
    per_task = (N + tasks - 1) // tasks
    for task in nb.prange(tasks):
        nz = np.empty(F, dtype=np.int64)
        acc = np.empty((T, H), dtype=np.float32)
        accf = acc.ravel()
        hidden = np.empty(H, dtype=np.float32)
        logits = np.empty(max(C, 1), dtype=np.float32)
        offsets = np.empty(F, dtype=np.uint64)
        values = np.empty(F, dtype=np.float32)
        for n in range(task * per_task, min(N, (task + 1) * per_task)):
            f = feats[n]
            K = 0
            for j in range(F):
                if f[j] != 0.0:
                    nz[K] = j
                    K += 1
            for h in range(H):
                acc[0, h] = 0.0
            if subtract:
                for q in range(K):
                    j = nz[q]
                    a = f[j]
                    for h in range(H):
                        acc[0, h] += a * W[j, h]
            for t in range(1, T):
                for h in range(H):
                    acc[t, h] = acc[0, h]
            words = (K + 63) // 64
            for q in range(K):  # the signed values and row offsets of the non-zero features, in order
                values[q] = -f[nz[q]] if subtract else f[nz[q]]
                offsets[q] = np.uint64(nz[q] * H)
            done = 0
{blocks}
            for h in range(done, H):  # units beyond the last whole block
                for w in range(words):
                    for t in range(T):
                        d = drops(key, ((first + n) * T + t) * stride + w, m, bits, subtract, w == words - 1, K)
                        while d:
                            q = w * 64 + trailing_zeros(d)
                            d &= d - np.uint64(1)
                            acc[t, h] += values[q] * Wf[offsets[q] + np.uint64(h)]
            for t in range(T):
                for w in range(out_words):
                    d = drop_word(out_key, ((first + n) * T + t) * out_words + w, out_m, out_bits)
                    for h in range(w * 64, min(H, w * 64 + 64)):
                        v = scale * acc[t, h] + b[h]
                        if (relu and v < 0.0) or (d >> np.uint64(h - w * 64)) & np.uint64(1):
                            v = 0.0
                        hidden[h] = v * out_scale
                if not final:
                    for h in range(H):
                        out[n, t, h] = hidden[h]
                    continue
                for c in range(C):
                    logits[c] = b2[c]
                for h in range(H):  # most units are zero after ReLU and dropout: skip their rows
                    v = hidden[h]
                    if v != 0.0:
                        for c in range(C):
                            logits[c] += v * W2[h, c]
                if final == 2:  # softmax as Keras computes it: exp(x - max) / sum
                    top = logits[0]
                    for c in range(1, C):
                        top = max(top, logits[c])
                    total = np.float32(0.0)
                    for c in range(C):
                        logits[c] = np.exp(logits[c] - top)
                        total += logits[c]
                    for c in range(C):
                        logits[c] /= total
                for c in range(C):
                    out[n, t, c] = logits[c]
    return out
'''


def _block_loop(width: int) -> str:
    """The kernel's loop over whole `width`-unit blocks from unit `done` on, its accumulators spelled
    out as scalars s0, s1, ...: numba has no register arrays, and separate scalars let LLVM's SLP
    vectoriser keep them in vector registers for the whole loop over a word's set bits (1.5x faster
    than accumulating in memory; measured again with these loops rolled up into `for i in range(width):
    accf[base + i] += a * Wf[o + i]`, same outputs bit for bit, on MNIST-sized input (2,000 points, 3,872
    features at 44% non-zero, T=100) on a loaded 2-core machine: 2.4 s against 5.1 s, best of 7
    alternating runs). A word covers 64 features, whose W rows (32 KB) stay in L1 while
    all T samples use them; each block pass draws its words again (2 hashes per word at rate 0.25),
    which is cheaper than storing the decisions. Indices are unsigned, so no negative-index
    wraparound code is emitted, and the accumulator row is one contiguous run (vector loads).
    """
    pad = " " * 24
    load = "\n".join(f"{pad}s{i} = accf[base + np.uint64({i})]" for i in range(width))
    update = "\n".join(f"{pad}    s{i} += a * Wf[o + np.uint64({i})]" for i in range(width))
    store = "\n".join(f"{pad}accf[base + np.uint64({i})] = s{i}" for i in range(width))
    return f"""\
            stop = done + (H - done) // {width} * {width}
            for hb in range(done, stop, {width}):
                for w in range(words):
                    for t in range(T):
                        d = drops(key, ((first + n) * T + t) * stride + w, m, bits, subtract, w == words - 1, K)
                        base = np.uint64(t * H + hb)
{load}
                        while d:
                            q = w * 64 + trailing_zeros(d)
                            d &= d - np.uint64(1)
                            a = values[q]
                            o = offsets[q] + np.uint64(hb)
{update}
{store}
            done = stop"""


def _source() -> str:
    """The kernel module: imports, settings, and one block loop per width in BLOCKS, widest first."""
    header = (
        '"""Generated by baltui.core.mc.sparse_head (_source: _KERNEL_SOURCE and _block_loop): '
        'edit those, not this file.\n\n'
        'numba caches the compiled kernels beside this file, in __pycache__.\n"""\n\n'
        "import numba as nb\nimport numpy as np\nfrom numba.cpython.unsafe.numbers import trailing_zeros\n\n"
        f"TASKS_PER_THREAD = {TASKS_PER_THREAD}\n"
    )
    return header + _KERNEL_SOURCE.replace("{blocks}", "\n".join(_block_loop(width) for width in BLOCKS))


def cache_dir() -> Path:
    """Where the kernel source and numba's compiled copy live: $BALTUI_CACHE_DIR, else the user cache."""
    if os.environ.get("BALTUI_CACHE_DIR"):
        return Path(os.environ["BALTUI_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "baltui"


def kernel_file_name(source: str) -> str:
    """The kernel module's file name: what generated it, and a hash of the source and numba's version."""
    import numba

    digest = hashlib.sha256(f"{numba.__version__}\n{source}".encode()).hexdigest()[:16]
    return f"sparse_kernel_generated_by_baltui_sparse_head_{digest}.py"


def _kernel_file(source: str) -> Path:
    """The source as a file named by its hash, written once: numba caches only functions that live
    in a file, and rewriting it would change its timestamp and throw the compiled copy away.
    Without a writable cache directory a temporary one still works, compiling in every process."""
    name = kernel_file_name(source)
    for attempt in ("cache", "temporary"):
        try:  # Path.home() raises RuntimeError where the user has no home directory
            folder = cache_dir() if attempt == "cache" else Path(tempfile.mkdtemp(prefix="baltui-"))
            path = folder / name
            if not path.is_file() or path.read_text() != source:
                folder.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
                partial.write_text(source)
                os.replace(partial, path)
            return path
        except (OSError, RuntimeError):
            continue
    raise OSError("no writable directory for the sparse head's kernel")


def _allow_wide_vectors() -> bool:
    """Let LLVM use 512-bit vectors on AVX-512 CPUs, where its default tuning keeps to 256 bits.

    Measured here (Xeon with AVX-512), alternating runs: the MNIST-sized kernel 0.26 s -> 0.24 s. numba
    reads its CPU features once, when its first function compiles, and applies them process-wide:
    so this only acts before that, and never over a NUMBA_CPU_FEATURES the user set. baltui compiles
    no other numba code, and the setting is part of numba's cache key, so cached kernels stay valid.
    """
    try:
        import llvmlite.binding as llvm
        from numba.core import codegen, config, registry
    except (ImportError, OSError):
        return False
    if config.CPU_FEATURES is not None or "_toplevel_target_context" in vars(registry.cpu_target):
        return False
    try:
        if not llvm.get_host_cpu_features().get("avx512f", False):
            return False
    except RuntimeError:
        return False
    config.CPU_FEATURES = codegen.get_host_cpu_features() + ",-prefer-256-bit"
    return True


@lru_cache(maxsize=1)
def kernels() -> tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]:
    """(sample_dense, drop_masks): loaded from numba's disk cache, or compiled (~20 s, once per machine
    and version) with SLP vectorisation on."""
    import numba as nb

    _allow_wide_vectors()
    path = _kernel_file(_source())
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    sample, masks = module.sample_dense, module.drop_masks
    with _compile_lock:
        previous = nb.config.SLP_VECTORIZE
        nb.config.SLP_VECTORIZE = 1
        try:  # load or compile now, for the one signature used, while SLP is on
            f = np.ones((1, 3), dtype=np.float32)
            w = np.ones((3, 3), dtype=np.float32)
            sample(f, w, np.zeros(3, np.float32), 2, 1, 2, np.float32(1.0), True, 1, 1, np.float32(2.0), 1, 0,
                   np.ones((3, 2), np.float32), np.zeros(2, np.float32), 2, 1)
            masks(f, 2, 1, 2, 1, 0)
        finally:
            nb.config.SLP_VECTORIZE = previous
    return sample, masks


def loaded() -> bool:
    """Whether this process has the kernels already; if not, the next call loads them from numba's disk
    cache (under a second) or compiles them (~20 s, once per machine): a phase worth telling the user."""
    return kernels.cache_info().currsize > 0


def available() -> bool:
    """numba is a dependency, but if it cannot load (missing, or llvmlite's library fails to load) the
    TensorFlow heads still sample the same distribution, so that costs speed, not the run."""
    try:
        import numba  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


# Output layers the kernel can apply itself (`sample_first_dense`'s `final`).
FINAL_ACTIVATIONS = {"linear": 1, "softmax": 2}


def sample_first_dense(feats: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, T: int, rate: float,
                       relu: bool, seed: int, first: int = 0, out_rate: float = 0.0,
                       final: tuple[np.ndarray, np.ndarray | None, str] | None = None) -> np.ndarray:
    """[N, T, units] samples of Dropout(out_rate)(act(Dense(Dropout(rate)(feats)))).

    `final` = (kernel, bias, activation) of a Dense output layer ("linear" or "softmax") to apply as
    well, giving [N, T, classes]: on MNIST that saves writing and re-reading 100 MB of activations
    per query and a TensorFlow call. Points are numbered from `first` for the random numbers, so
    chunking does not change them.
    """
    m, bits = drop_rule(rate)
    out_m, out_bits = drop_rule(out_rate)
    sample, _ = kernels()
    feats = np.ascontiguousarray(feats, dtype=np.float32)
    kernel = np.ascontiguousarray(kernel, dtype=np.float32)
    bias = _bias(bias, kernel)
    if final is None:
        W2, b2, mode = np.zeros((kernel.shape[1], 1), np.float32), np.zeros(1, np.float32), 0
    else:
        W2 = np.ascontiguousarray(final[0], dtype=np.float32)
        b2, mode = _bias(final[1], W2), FINAL_ACTIVATIONS[final[2]]
    return sample(feats, kernel, bias, int(T), int(m), int(bits), np.float32(1.0 / (1.0 - rate)), bool(relu),
                  int(out_m), int(out_bits), np.float32(1.0 / (1.0 - out_rate)), int(seed), int(first),
                  W2, b2, int(mode), _threads())


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


def _bias(bias: np.ndarray | None, kernel: np.ndarray) -> np.ndarray:
    return np.zeros(kernel.shape[1], np.float32) if bias is None else np.ascontiguousarray(bias, np.float32)


def drop_masks(feats: np.ndarray, T: int, rate: float, seed: int, first: int = 0) -> np.ndarray:
    """The [N, T, F] drop decisions `sample_first_dense` makes for the same arguments (tests check both)."""
    m, bits = drop_rule(rate)
    _, masks = kernels()
    return masks(np.ascontiguousarray(feats, dtype=np.float32), int(T), int(m), int(bits), int(seed), int(first))
