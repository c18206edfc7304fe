"""How a float weight gradient becomes an integer weight write: rounding and saturation, in numba.

The change of a synapse is x = -lr * dL/dW (weight LSBs); the int chip writes it rounded:

    nearest     floor(x + 1/2)
    floor       floor(x)
    stochastic  floor(x) or floor(x) + 1, the latter with probability frac(x): unbiased, E = x

then W = clip(W + change, w_min, w_max) — saturating at the layer's width, never wrapping.

Stochastic rounding draws per synapse from counter-based splitmix64 streams under a per-step,
per-layer key from the engine's seeded numpy Generator, so the result is reproducible and does
not depend on the order in which synapses are visited or on the thread count. With a = |x|
(clamped to 2^20 LSB) and the synapse's index (``synapse_index``) in block index // 64 at bit
index % 64:

    k          = level(a) = max(0, -e) for a = m * 2^e, m in [1/2, 1)   (k <= 63; 2^-k >= min(a, 1))
    candidate  = bit index % 64 is set in all k level words W_0 .. W_{k-1} of the block, W_r the
                 splitmix64 output at counter 64 * block + r                        (P = 2^-k)
    |change|   = floor(a) + [candidate and u < frac(a) * 2^k],   u the synapse's 53-bit uniform
    change     = sign(x) * |change|

so P(|change| = floor(a) + 1) = 2^-k * frac(a) * 2^k = frac(a), exactly for a >= 2^-64
(frac(a) * 2^k is then a multiple of 2^-53, so the 53-bit comparison is exact; below, the
expected change exceeds a by at most 2^-116 LSB). ``stochastic_round`` is this definition
for one synapse; ``round_row`` evaluates a whole row event-driven: when every change of a
block is known to be below 2^-K (a bound formed from the errors, without forming the gradient),
K level words leave about 64 * 2^-K survivors, and only those synapses are visited — typical
MPD-ED steps change well under 1 % of the synapses that have a gradient.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

NEAREST, FLOOR, STOCHASTIC = 0, 1, 2
ROUNDING_ID = {"nearest": NEAREST, "floor": FLOOR, "stochastic": STOCHASTIC}

BLOCK = 64                       # synapses per block of level words (the bits of a uint64)
MAX_LEVEL = 63                   # level words per block
X_LIMIT = 2.0 ** 20              # |change| clamp before rounding (any weight saturates long before)
_GOLDEN = 0x9E3779B97F4A7C15     # splitmix64 increment
_FINE_SALT = 0x5851F42D4C957F2D  # the uniforms u use key ^ salt


# ---------------------------------------------------------------------------- bit helpers
@intrinsic
def _float_bits(typingctx, x):
    """The IEEE-754 bits of a float64, as int64."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, b):
    """The float64 with IEEE-754 bits b (int64)."""
    if b != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def lowest_bit(typingctx, x):
    """Index of the lowest set bit of a non-zero uint64 (count of trailing zeros)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))
    return types.uint64(types.uint64), codegen


@intrinsic
def popcount(typingctx, x):
    """Number of set bits of a uint64."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


# ---------------------------------------------------------------------------- random streams
@njit(cache=True, inline="always")
def splitmix_at(key, counter):
    """Output counter + 1 of the splitmix64 stream started at ``key`` (Steele et al. 2014), uint64.
    Counter-based: depends on (key, counter) only, so draws need no sequential state and do not
    depend on the order in which synapses are visited (or on the thread that visits them)."""
    z = np.uint64(key) + np.uint64(counter + 1) * np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform_at(key, index):
    """U[0, 1) with 53 random bits (exact in float64) for counter ``index`` under ``key``."""
    return float(np.int64(splitmix_at(key, index) >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def row_blocks(n_post):
    """Blocks of BLOCK synapses per row of n_post (the last one partly used)."""
    return (n_post + BLOCK - 1) // BLOCK


@njit(cache=True, inline="always")
def synapse_index(j, i, n_post):
    """Counter index of synapse (pre j, post i): rows padded to whole blocks, so a block never
    spans two rows."""
    return j * (row_blocks(n_post) * BLOCK) + i


@njit(cache=True, inline="always")
def level(a):
    """max(0, -e) for a = m * 2^e, m in [1/2, 1), at most MAX_LEVEL (a >= 0), read from the
    exponent bits: 0 for a >= 1/2, else 2^-k > a >= 2^-(k+1) (down to a = 2^-64)."""
    k = 1022 - ((_float_bits(a) >> 52) & 0x7FF)
    return min(max(k, 0), MAX_LEVEL)


@njit(cache=True, inline="always")
def pow2(k):
    """2.0 ** k for 0 <= k <= 1023, exact, from the exponent bits."""
    return _bits_float(np.int64(1023 + k) << 52)


@njit(cache=True, inline="always")
def _magnitude(a, k, candidate, key, index):
    """floor(a) + [candidate and u < frac(a) * 2^k]."""
    whole = np.floor(a)
    if candidate and uniform_at(key ^ _FINE_SALT, index) < (a - whole) * pow2(k):
        whole += 1.0
    return whole


@njit(cache=True)
def stochastic_round(x, key, index):
    """Stochastic rounding of x (LSBs, clamped to +-2^20) for synapse ``index`` under the step key:
    the scalar definition of the module docstring (``round_row`` computes the same numbers a
    block at a time)."""
    a = min(abs(x), X_LIMIT)
    if a == 0.0:
        return 0.0
    k = level(a)
    block = index - (index & (BLOCK - 1))
    bit = np.uint64(index & (BLOCK - 1))
    candidate = True
    for r in range(k):
        if not (splitmix_at(key, block + r) >> bit) & np.uint64(1):
            candidate = False
            break
    m = _magnitude(a, k, candidate, key, index)
    return (m if x > 0.0 else -m) + 0.0      # + 0.0: no -0.0


@njit(cache=True, inline="always")
def round_lsb(x, mode):
    """Round a float change (LSBs) to an integer-valued float, ``nearest`` or ``floor``
    (stochastic: ``stochastic_round``). Zero stays zero, so untouched synapses never move.
    (np.floor: math.floor would return an int in numba, a float-int round trip per synapse.)"""
    if mode == NEAREST:
        return np.floor(x + 0.5)
    return np.floor(x)


@njit(cache=True, inline="always")
def weight_change(g, lr, mode, is_int, key, index):
    """The change of synapse ``index`` (``synapse_index``) for gradient g: -lr * g, rounded to
    whole LSBs on the int chip (stochastic: under ``key``), exact on the float twin."""
    x = -lr * g
    if not is_int:
        return x
    if mode == STOCHASTIC:
        return stochastic_round(x, key, index)
    return round_lsb(x, mode)


@njit(cache=True, inline="always")
def apply_change(wT, j, i, d, lo, hi):
    """W[j, i] = clip(W[j, i] + d, lo, hi) — saturating, never wrapping; returns the change of the
    row's non-zero count (the effective fan-out the forward pass counts as SOPs)."""
    old = wT[j, i]
    new = min(max(old + d, lo), hi)
    wT[j, i] = new
    return int(new != 0) - int(old != 0)


SURVIVOR_WORDS = 8               # level words drawn at once for a block's survivors


@njit(cache=True, inline="always")
def row_scratch(n_blocks):
    """Scratch of one thread for round_row: (masks, bounds, tops) per block of a row, and the
    survivors' prefix words (SURVIVOR_WORDS + 1)."""
    return (np.zeros(n_blocks, dtype=np.uint64), np.zeros(n_blocks), np.zeros(n_blocks, dtype=np.int64),
            np.empty(SURVIVOR_WORDS + 1, dtype=np.uint64))


@njit(cache=True, inline="always")
def _round_survivors(wT, j, w, mask, top, R, steps, n_steps, lr, lo, hi, key, words):
    """Block w of row j after its first ``top`` level words: form the survivors' changes and test
    each against the words up to its own level (SURVIVOR_WORDS drawn at once as prefix ANDs, the
    rare survivor needing more draws them one by one); write the candidates' rounded changes.
    Returns (weight writes, change of the row's non-zero count)."""
    i0 = w * BLOCK
    base = synapse_index(j, i0, wT.shape[1])
    for r in range(SURVIVOR_WORDS):
        words[r + 1] = splitmix_at(key, base + top + r)   # beyond MAX_LEVEL: drawn, never read
    words[0] = ~np.uint64(0)
    for r in range(SURVIVOR_WORDS):
        words[r + 1] &= words[r]                  # words[r]: bits set in level words top .. top + r - 1
    writes = 0
    dn = 0
    while mask:
        b = lowest_bit(mask)
        mask &= mask - np.uint64(1)
        i = i0 + np.int64(b)
        g = 0.0
        for s in range(n_steps):
            g += R[steps[s], i]
        a = min(abs(lr * g), X_LIMIT)
        k = level(a)                              # >= top: the bound is >= a
        if not ((words[min(k - top, SURVIVOR_WORDS)] >> b) & np.uint64(1)) or a == 0.0:
            continue
        r = top + SURVIVOR_WORDS
        while r < k and (splitmix_at(key, base + r) >> b) & np.uint64(1):
            r += 1
        if r < k:
            continue
        m = _magnitude(a, k, True, key, base + np.int64(b))
        if m != 0.0:
            writes += 1
            dn += apply_change(wT, j, i, -m if g > 0.0 else m, lo, hi)
    return writes, dn


@njit(cache=True, inline="always")
def round_row(wT, j, masks, bounds, tops, R, steps, n_steps, lr, lo, hi, key, words):
    """Stochastic update of row j, event-driven, block by block (post neurons 64 w .. 64 w + 63).

    The gradient of post neuron i is sum over s < n_steps of R[steps[s], i]; ``masks[w]`` has bit b
    set when neuron 64 w + b may have a non-zero gradient, and ``bounds[w]`` >= |gradient| of every
    neuron of block w, so its changes are below 2^-tops[w], tops[w] = level(lr * bounds[w]). First
    all blocks draw their first tops[w] level words together (the loop over blocks vectorises);
    the few survivors then have their changes formed and are tested against the words up to their
    own level. The candidates' changes are written. ``masks`` is consumed, ``tops`` scratch.
    Returns (weight writes, change of the row's non-zero count)."""
    n_blocks = masks.shape[0]
    base = synapse_index(j, 0, wT.shape[1])
    depth = 0
    for w in range(n_blocks):
        tops[w] = level(lr * bounds[w]) if masks[w] else 0
        depth = max(depth, tops[w])
    for r in range(depth):
        for w in range(n_blocks):
            word = splitmix_at(key, base + w * BLOCK + r)
            masks[w] &= word if r < tops[w] else ~np.uint64(0)
    writes = 0
    dn = 0
    for w in range(n_blocks):
        if masks[w]:
            wb, dnz = _round_survivors(wT, j, w, masks[w], tops[w], R, steps, n_steps, lr, lo, hi, key, words)
            writes += wb
            dn += dnz
    return writes, dn
