"""One-instruction bit operations for the numba kernels, as llvmlite intrinsics: numba has no
count-trailing-zeros, population count, float bit casts, or byte-vector compares of its own.

- ``float_bits`` / ``bits_float``: the IEEE-754 bits of a float64 as int64, and back;
- ``lowest_bit``: index of the lowest set bit of a non-zero uint64; ``popcount``: set bits;
- ``lanes_le`` / ``lanes_ne`` / ``lanes_min``: LANES = 64 bytes of a uint8 array compared with a
  value (a uint64 mask, bit b for byte start + b) or reduced to their minimum, one vector
  instruction each.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 64                       # bytes per lane compare (the bits of a uint64 mask)


def _unary(arg_type, result_type, emit):
    """A numba intrinsic of one argument of ``arg_type``: the single LLVM instruction ``emit``."""
    @intrinsic
    def op(typingctx, x):
        if x != arg_type:
            return None

        def codegen(context, builder, sig, args):
            return emit(builder, args[0])
        return result_type(arg_type), codegen
    return op


float_bits = _unary(types.float64, types.int64, lambda b, x: b.bitcast(x, ir.IntType(64)))    # IEEE-754 bits
bits_float = _unary(types.int64, types.float64, lambda b, x: b.bitcast(x, ir.DoubleType()))   # ... and back
# index of the lowest set bit of a non-zero uint64 (count of trailing zeros); number of set bits
lowest_bit = _unary(types.uint64, types.uint64, lambda b, x: b.cttz(x, ir.Constant(ir.IntType(1), 0)))
popcount = _unary(types.uint64, types.uint64, lambda b, x: b.ctpop(x))


_LANES = ir.VectorType(ir.IntType(8), LANES)


def _load_lanes(context, builder, sig, args):
    """The LANES bytes a[start:start + LANES] of a 1-D uint8 array, as one vector."""
    a = context.make_array(sig.args[0])(context, builder, args[0])
    ptr = builder.gep(a.data, [context.cast(builder, args[1], sig.args[1], types.intp)])
    return builder.load(builder.bitcast(ptr, _LANES.as_pointer()), align=1)


def _is_bytes(a):
    return isinstance(a, types.Array) and a.dtype == types.uint8 and a.ndim == 1


def _lane_mask(predicate):
    @intrinsic
    def lane_mask(typingctx, a, start, value):
        if not _is_bytes(a):
            return None

        def codegen(context, builder, sig, args):
            v = context.cast(builder, args[2], sig.args[2], types.uint8)
            splat = builder.insert_element(ir.Constant(_LANES, ir.Undefined), v, ir.Constant(ir.IntType(32), 0))
            splat = builder.shuffle_vector(splat, ir.Constant(_LANES, ir.Undefined),
                                           ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))
            return builder.bitcast(builder.icmp_unsigned(predicate, _load_lanes(context, builder, sig, args), splat),
                                   ir.IntType(64))
        return types.uint64(a, start, value), codegen
    return lane_mask


# bit b set where a[start + b] <= value / != value, for the LANES bytes from start (one vector
# compare; the caller keeps start + LANES within the array)
lanes_le = _lane_mask("<=")
lanes_ne = _lane_mask("!=")


@intrinsic
def lanes_min(typingctx, a, start):
    """The smallest of the LANES bytes a[start:start + LANES] (uint8)."""
    if not _is_bytes(a):
        return None

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(8), [_LANES]),
                                            "llvm.vector.reduce.umin.v64i8")
        return builder.call(fn, [_load_lanes(context, builder, sig, args)])
    return types.uint8(a, start), codegen
