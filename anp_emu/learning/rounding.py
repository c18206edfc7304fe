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
for one synapse; ``round_row`` evaluates a whole row event-driven: each synapse has a lower
bound b on its level, formed from the exponents of its errors without forming the gradient
(``level_bounds``), and its block's level words up to b, compared 64 synapses at a time
(``lanes_le``), leave it a survivor with probability 2^-b; only survivors have their gradient
formed — typical MPD-ED steps change well under 1 % of the synapses that have a gradient.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..chip.bits import LANES, bits_float, float_bits, lanes_le, lanes_min, lanes_ne, lowest_bit, popcount

NEAREST, FLOOR, STOCHASTIC = 0, 1, 2
ROUNDING_ID = {"nearest": NEAREST, "floor": FLOOR, "stochastic": STOCHASTIC}

BLOCK = LANES                    # synapses per block of level words (the bits of a uint64)
MAX_LEVEL = 63                   # level words per block
X_LIMIT = 2.0 ** 20              # |change| clamp before rounding (any weight saturates long before)
_GOLDEN = 0x9E3779B97F4A7C15     # splitmix64 increment
_FINE_SALT = 0x5851F42D4C957F2D  # the uniforms u use key ^ salt


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
def level_exponent(x):
    """e with |x| < 2^e: the IEEE-754 exponent of x plus one (|x| = m 2^e, m in [1/2, 1) for
    normal x; subnormals and zero give -1022)."""
    return ((float_bits(x) >> 52) & 0x7FF) - 1022


@njit(cache=True, inline="always")
def level(a):
    """max(0, -e) for a = m * 2^e, m in [1/2, 1), at most MAX_LEVEL (a >= 0), read from the
    exponent bits: 0 for a >= 1/2, else 2^-k > a >= 2^-(k+1) (down to a = 2^-64)."""
    return min(max(-level_exponent(a), 0), MAX_LEVEL)


@njit(cache=True, inline="always")
def pow2(k):
    """2.0 ** k for 0 <= k <= 1023, exact, from the exponent bits."""
    return bits_float(np.int64(1023 + k) << 52)


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


# ---------------------------------------------------------------------------- event-driven rows
NO_GRADIENT = 255                # level bound of a synapse without a gradient (uint8)
FIXED_LEVELS = 6                 # level words a block draws branch-free above its top
_LEVEL_BOUND_MAX = 127           # level bounds are stored clamped to 0..127 (any >= 63 means 63)


@njit(cache=True, inline="always")
def is_power_of_two(x):
    """x = 2^m exactly: a positive normal float64 whose mantissa bits are all zero (lr_shift)."""
    b = float_bits(x)
    return x > 0.0 and (b & ((1 << 52) - 1)) == 0 and (b >> 52) != 0


@njit(cache=True, inline="always")
def bound_offset(n, lr):
    """What a row whose line spiked n times subtracts from the smallest of its bounds
    (``level_bounds``): ceil(log2 n), and one more for a power-of-two lr when n >= 4 is a power of
    two (then lr |fl(g)| = 2^(e + E + c) exactly is possible)."""
    c = 0
    while (1 << c) < n:
        c += 1
    if n >= 4 and (n & (n - 1)) == 0 and is_power_of_two(lr):
        c += 1
    return c


@njit(cache=True)
def level_bounds(du, lr, n_pad):
    """Per step t and post neuron i, a bound P[t, i] (uint8, rows padded to n_pad with
    NO_GRADIENT) on the level of any change formed from du[t, i]: level(lr |g|) >= min over the
    n non-zero terms of g = sum du[t_s, i] of P - ``bound_offset(n, lr)``, P = -(e + E) clamped
    to 0..127, with E the largest ``level_exponent`` of the terms and |lr| < 2^e. Proof: each
    partial sum rounds to at most its exact bound, so |fl(g)| <= n 2^E, and the product's
    rounding cannot reach the power of two above it, so lr |fl(g)| < 2^(e + E + ceil(log2 n)).
    A power-of-two lr = 2^e scales exactly, one level tighter (e one lower); then fl(g) < 2^(E+1)
    for n = 2 (the sum of two doubles below 2^E stays below 2^(E+1)) and n 2^E < 2^(E + c) for
    n not a power of two, but n = 2^c >= 4 may reach it: one more offset level.
    NO_GRADIENT where du is zero. Also the CSR offsets of the non-zero errors per step (T + 1)."""
    T, n_post = du.shape
    P = np.full((T, n_pad), NO_GRADIENT, dtype=np.uint8)
    nz_ptr = np.zeros(T + 1, dtype=np.int64)
    e_lr = level_exponent(lr) - (1 if is_power_of_two(lr) else 0)
    m = 0
    for t in range(T):
        row, out = du[t], P[t]
        for i in range(n_post):
            p = min(max(-(e_lr + level_exponent(row[i])), 0), _LEVEL_BOUND_MAX)
            nz = row[i] != 0.0
            out[i] = np.uint8(p) if nz else np.uint8(NO_GRADIENT)
            m += nz
        nz_ptr[t + 1] = m
    return P, nz_ptr


@njit(cache=True)
def exact_levels(g, lr, out):
    """out[i] = level(min(|lr g[i]|, X_LIMIT)) as uint8 (NO_GRADIENT where g[i] is zero): the
    level bounds of a formed gradient row, exact (offset 0)."""
    for i in range(g.shape[0]):
        out[i] = np.uint8(level(min(abs(lr * g[i]), X_LIMIT))) if g[i] != 0.0 else np.uint8(NO_GRADIENT)


@njit(cache=True, inline="always")
def row_scratch(n_blocks):
    """Scratch of one thread for round_row: the row's level bounds (n_blocks * BLOCK, uint8), per
    block the alive and survivor masks and the top level, and room for the row's changes (post
    neuron, change in LSBs)."""
    n = n_blocks * BLOCK
    return (np.full(n, NO_GRADIENT, dtype=np.uint8), np.zeros(n_blocks, dtype=np.uint64),
            np.zeros(n_blocks, dtype=np.uint64), np.zeros(n_blocks, dtype=np.int64), np.empty(n, dtype=np.int64),
            np.empty(n))


@njit(cache=True, inline="always")
def apply_changes(wT, j, post, change, n, lo, hi):
    """Apply the first n changes of row j (``round_row``'s output); returns the change of the
    row's non-zero count."""
    dn = 0
    for q in range(n):
        dn += apply_change(wT, j, post[q], change[q], lo, hi)
    return dn


@njit(cache=True, inline="always")
def _bound_level(bound, c):
    """The level a stored bound promises after subtracting the row's offset c: 0 .. MAX_LEVEL."""
    return min(max(np.int64(bound) - c, 0), MAX_LEVEL)


@njit(cache=True, inline="always")
def _resolve_levels(bounds, w, c, alive, sv, r, key, counter, n_words):
    """Continue block w's level words from level r: survivors are the alive synapses whose bound
    (bounds - c, at least 0) is r, the others must pass word r (at ``counter``) to stay alive;
    at MAX_LEVEL every alive synapse survives. ``n_words`` > 0: exactly that many words (a
    branch-free loop); 0: until no synapse is alive. Returns (alive, survivors, level)."""
    q = 0
    while (q < n_words) if n_words else alive != 0:
        alive &= splitmix_at(key, counter + q)
        q += 1
        if r + q >= MAX_LEVEL:
            return np.uint64(0), sv | alive, MAX_LEVEL
        done = alive & lanes_le(bounds, w * BLOCK, r + q + c)
        sv |= done
        alive &= ~done
    return alive, sv, r + q


@njit(cache=True)
def round_row(j, bounds, c, alive, surv, tops, R, steps, n_steps, lr, key, post, change):
    """Stochastic rounding of row j's changes, event-driven, block by block (post neurons 64 w ..
    64 w + 63).

    The gradient of post neuron i is g_i = sum over s < n_steps of R[steps[s], i]; ``bounds[i] - c``
    (at least 0; NO_GRADIENT: no gradient) is a lower bound b_i on its level k_i. A synapse's
    change is non-zero only if it passes its level words 0 .. k_i - 1, so first only the words up
    to b_i are drawn, for a whole block at once: up to its top (smallest b_i) for all blocks
    together, a vectorised loop; then FIXED_LEVELS more per block, branch-free, each word
    retiring the synapses whose b_i it reaches; rarely more. Only the few survivors have their
    gradient formed and their remaining words k_i - 1 .. b_i tested. The non-zero changes go to
    (post[q], change[q]) — ``apply_changes`` writes them; the weights are not read here, so one
    compiled kernel serves every weight type. ``alive``, ``surv``, ``tops``: scratch of one per
    block. Returns (synapses with a gradient, non-zero changes = weight writes)."""
    n_blocks = alive.shape[0]
    base = j * (n_blocks * BLOCK)                  # synapse_index(j, 0, n_post): rows padded to whole blocks
    reads = 0
    depth = 0
    for w in range(n_blocks):
        live = lanes_ne(bounds, w * BLOCK, NO_GRADIENT)
        alive[w] = live
        reads += popcount(live)
        tops[w] = _bound_level(lanes_min(bounds, w * BLOCK), c) if live else 0
        depth = max(depth, tops[w])
    for r in range(depth):
        for w in range(n_blocks):
            word = splitmix_at(key, base + w * BLOCK + r)
            alive[w] &= word if r < tops[w] else ~np.uint64(0)
    for w in range(n_blocks):
        r = tops[w]              # at MAX_LEVEL every synapse with a gradient survives
        sv = alive[w] & lanes_le(bounds, w * BLOCK, r + c if r < MAX_LEVEL else NO_GRADIENT - 1)
        al = alive[w] & ~sv
        if r + FIXED_LEVELS < MAX_LEVEL:
            al, sv, r = _resolve_levels(bounds, w, c, al, sv, r, key, base + w * BLOCK + r, FIXED_LEVELS)
        alive[w] = al
        surv[w] = sv
        tops[w] = r
    for w in range(n_blocks):
        if alive[w]:
            surv[w] = _resolve_levels(bounds, w, c, alive[w], surv[w], tops[w], key, base + w * BLOCK + tops[w], 0)[1]
    writes = 0
    for w in range(n_blocks):
        sv = surv[w]
        block = base + w * BLOCK
        while sv:
            b = lowest_bit(sv)
            sv &= sv - np.uint64(1)
            i = w * BLOCK + np.int64(b)
            g = 0.0
            for s in range(n_steps):
                g += R[steps[s], i]
            a = min(abs(lr * g), X_LIMIT)
            if a == 0.0:
                continue
            k = level(a)
            r = _bound_level(bounds[i], c)         # <= k: its words up to r are passed
            while r < k and (splitmix_at(key, block + r) >> b) & np.uint64(1):
                r += 1
            if r < k:
                continue
            m = _magnitude(a, k, True, key, block + np.int64(b))
            if m != 0.0:
                post[writes] = i
                change[writes] = -m if g > 0.0 else m
                writes += 1
    return reads, writes
