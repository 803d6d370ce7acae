"""Converters: Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool,
GlobalMaxPool, Resize and the deprecated Upsample."""
from __future__ import annotations

import numpy as np

from ...ir.errors import UnsupportedError
from .registry import converter

# ONNX auto_pad -> IR pad_mode (VALID is explicit zero pads)
_PAD_MODES = {"NOTSET": "explicit", "VALID": "explicit", "SAME_UPPER": "same_upper", "SAME_LOWER": "same_lower"}


def _spatial_rank(n, x) -> int:
    if x.rank < 3:
        raise n.error(f"input {x.name} has shape {list(x.shape)}; expected [N, C, spatial...] (at least 3 dims)")
    return x.rank - 2


def _ints(n, name: str, count: int, default: int) -> list[int]:
    v = n.attr(name)
    if v is None or len(v) == 0:
        return [default] * count
    v = [int(a) for a in v]
    if len(v) != count:
        raise n.error(f"{name} {v} should have {count} values")
    return v


def _window_attrs(n, nsp: int) -> dict:
    """strides, dilations, pads and pad_mode of a sliding-window node."""
    auto_pad = n.attr("auto_pad", "NOTSET") or "NOTSET"
    if auto_pad not in _PAD_MODES:
        raise n.error(f"auto_pad {auto_pad!r} is not one of {', '.join(_PAD_MODES)}")
    pads = _ints(n, "pads", 2 * nsp, 0) if auto_pad == "NOTSET" else [0] * (2 * nsp)
    if any(p < 0 for p in pads):
        raise n.error(f"pads {pads} must not be negative")
    strides, dilations = _ints(n, "strides", nsp, 1), _ints(n, "dilations", nsp, 1)
    if any(s < 1 for s in strides + dilations):
        raise n.error(f"strides {strides} and dilations {dilations} must be >= 1")
    return dict(strides=strides, dilations=dilations, pads=pads, pad_mode=_PAD_MODES[auto_pad])


def _check_kernel_shape(n, w, nsp: int) -> None:
    ks = n.attr("kernel_shape")
    if ks and [int(k) for k in ks] != list(w.shape[2:]) and all(isinstance(d, int) for d in w.shape[2:]):
        raise n.error(f"kernel_shape {list(ks)} does not match the weight's spatial dims {list(w.shape[2:])}")


@converter("Conv")
def conv(cx, n):
    x, w = n.need(0), n.need(1)
    nsp = _spatial_rank(n, x)
    _check_kernel_shape(n, w, nsp)
    return cx.op("conv", [x, w, n.input(2)], group=int(n.attr("group", 1)), **_window_attrs(n, nsp))


@converter("ConvTranspose")
def conv_transpose(cx, n):
    x, w = n.need(0), n.need(1)
    nsp = _spatial_rank(n, x)
    _check_kernel_shape(n, w, nsp)
    out_shape = n.attr("output_shape")
    if out_shape:
        out_shape = [int(d) for d in out_shape]
        if len(out_shape) == nsp + 2:   # some exporters write the full [N, C, ...] shape
            out_shape = out_shape[2:]
        if len(out_shape) != nsp:
            raise n.error(f"output_shape {out_shape} should have {nsp} values")
    return cx.op("conv_transpose", [x, w, n.input(2)], group=int(n.attr("group", 1)),
                 output_padding=_ints(n, "output_padding", nsp, 0), output_shape=out_shape or None,
                 **_window_attrs(n, nsp))


def _kernel(n, nsp: int) -> list[int]:
    ks = n.attr("kernel_shape")
    if not ks:
        raise n.error("kernel_shape is required")
    return _ints(n, "kernel_shape", nsp, 1)


@converter("MaxPool")
def max_pool(cx, n):
    x = n.need(0)
    nsp = _spatial_rank(n, x)
    indices = n.wants_output(1)
    res = cx.op("max_pool", [x], kernel=_kernel(n, nsp), ceil_mode=bool(n.attr("ceil_mode", 0)),
                storage_order=int(n.attr("storage_order", 0)), indices=indices, **_window_attrs(n, nsp))
    return list(res) if indices else res


@converter("AveragePool")
def average_pool(cx, n):
    x = n.need(0)
    nsp = _spatial_rank(n, x)
    return cx.op("avg_pool", [x], kernel=_kernel(n, nsp), ceil_mode=bool(n.attr("ceil_mode", 0)),
                 count_include_pad=bool(n.attr("count_include_pad", 0)), **_window_attrs(n, nsp))


def _global(ir_op):
    def convert(cx, n):
        x = n.need(0)
        if x.rank < 2:
            raise n.error(f"input {x.name} has shape {list(x.shape)}; expected [N, C, spatial...]")
        return cx.op(ir_op, [x], axes=tuple(range(2, x.rank)), keepdims=True)
    return convert


converter("GlobalAveragePool")(_global("reduce_mean"))
converter("GlobalMaxPool")(_global("reduce_max"))


# ----------------------------------------------------------------- resize
_COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_half_pixel_for_nn")


def _present(v):
    """None for an absent or empty (shape [0]) optional input."""
    return None if v is None or v.shape == (0,) else v


def _resize(cx, n, x, scales, sizes, mode, coord="asymmetric", nearest="simple", axes=None,
            policy="stretch", **cubic):
    if mode == "bilinear":   # Upsample-7's old name
        mode = "linear"
    if mode not in ("nearest", "linear", "cubic"):
        raise n.error(f"unknown mode {mode!r}")
    if coord == "tf_crop_and_resize":
        raise n.error("coordinate_transformation_mode 'tf_crop_and_resize' is not supported", UnsupportedError)
    if coord not in _COORD_MODES:
        raise n.error(f"unknown coordinate_transformation_mode {coord!r}")
    scales, sizes = _present(scales), _present(sizes)
    if (scales is None) == (sizes is None):
        raise n.error("exactly one of the scales and sizes inputs must be given")
    if scales is not None:
        scales = cx.cast(scales, np.float32)
    else:
        sizes = cx.cast(sizes, np.int64)
    if axes is not None:
        bad = [a for a in axes if not -x.rank <= a < x.rank]
        if bad:
            raise n.error(f"axes {list(axes)} are out of range for rank {x.rank}")
        axes = tuple(int(a) % x.rank for a in axes)
    if mode != "cubic":
        cubic = {}
    return cx.op("resize", [x, scales, sizes], mode=mode, coord=coord, nearest=nearest if mode == "nearest"
                 else "round_prefer_floor", axes=axes, policy=policy, **cubic)


@converter("Resize", since=10)
def resize(cx, n):
    x = n.need(0)
    if n.opset < 11:   # Resize-10: (X, scales); asymmetric coordinates, simple rounding
        return _resize(cx, n, x, n.need(1), None, n.attr("mode", "nearest"))
    coord = n.attr("coordinate_transformation_mode", "half_pixel")
    if (n.attr("antialias", 0) and n.attr("mode") != "nearest") or coord == "tf_crop_and_resize":
        return _resize_by_matrices(cx, n, x)
    policy = n.attr("keep_aspect_ratio_policy", "stretch")
    if policy not in ("stretch", "not_larger", "not_smaller"):
        raise n.error(f"unknown keep_aspect_ratio_policy {policy!r}")
    axes = n.attr("axes")
    return _resize(cx, n, x, n.input(2), n.input(3), n.attr("mode", "nearest"),
                   n.attr("coordinate_transformation_mode", "half_pixel"),
                   n.attr("nearest_mode", "round_prefer_floor"), axes=list(axes) if axes else None,
                   policy=policy, cubic_a=float(n.attr("cubic_coeff_a", -0.75)),
                   exclude_outside=int(n.attr("exclude_outside", 0)))


def _resize_by_matrices(cx, n, x):
    """Antialiased and tf_crop_and_resize resizes: each resized axis is a
    matmul with a constant [in, out] interpolation matrix (resize_matrix),
    and tf_crop_and_resize's positions outside the input take the
    extrapolation value. Scales or sizes (and roi) must be constants."""
    from ...ir.ops.nn import resize_matrix, resize_plan
    mode = n.attr("mode", "nearest")
    coord = n.attr("coordinate_transformation_mode", "half_pixel")
    if mode not in ("linear", "cubic"):
        raise n.error(f"{coord} with mode {mode!r} is not supported (linear and cubic are)", UnsupportedError)
    axes = n.attr("axes")
    axes = tuple(range(x.rank)) if not axes else tuple(int(a) % x.rank for a in axes)
    scales = _present(n.input(2))
    scales = None if scales is None else [float(v) for v in n.const(2, "scales").reshape(-1)]
    sizes = None if scales is not None else [int(v) for v in n.const(3, "sizes").reshape(-1)]
    if any(not isinstance(x.shape[a], int) for a in axes):
        raise n.error(f"the resized axes of {list(x.shape)} must have known sizes", UnsupportedError)
    out, _ = resize_plan(x.shape, scales, sizes, axes, n.attr("keep_aspect_ratio_policy", "stretch"))
    roi = None
    if coord == "tf_crop_and_resize":
        r = n.const(1, "roi").reshape(-1).astype(np.float64)
        k = len(axes) if r.size == 2 * len(axes) else x.rank
        roi = {a: (r[i], r[k + i]) for i, a in enumerate(axes if k == len(axes) else range(x.rank))}
    y = x
    for j, a in enumerate(axes):
        size, o = x.shape[a], out[a]
        scale = scales[j] if scales is not None else o / size
        w, extrap = resize_matrix(size, o, scale, mode, coord, roi[a] if roi else (0.0, 1.0),
                                  bool(n.attr("antialias", 0)), float(n.attr("cubic_coeff_a", -0.75)),
                                  bool(n.attr("exclude_outside", 0)))
        if np.array_equal(w, np.eye(size)) and not extrap.any():
            continue
        perm = [d for d in range(x.rank) if d != a] + [a]
        t = cx.op("transpose", [y], perm=tuple(perm)) if a != x.rank - 1 else y
        t = cx.op("matmul", [t, cx.const(w.T.astype(x.dtype))])
        if extrap.any():
            value = cx.const(np.array(n.attr("extrapolation_value", 0.0), x.dtype))
            t = cx.op("where", [cx.const(extrap), value, t])
        inv = tuple(perm.index(d) for d in range(x.rank))
        y = cx.op("transpose", [t], perm=inv) if a != x.rank - 1 else t
    return y if y is not x else cx.op("copy", [x])


@converter("Upsample", since=7)
def upsample_v7(cx, n):
    scales = n.attr("scales")
    if not scales:
        raise n.error("the scales attribute is required")
    return _resize(cx, n, n.need(0), cx.const(np.array(scales, np.float32)), None, n.attr("mode", "nearest"))


@converter("Upsample", since=9)
def upsample_v9(cx, n):
    return _resize(cx, n, n.need(0), n.need(1), None, n.attr("mode", "nearest"))


@converter("LpPool", since=2)
def lp_pool(cx, n):
    x = n.need(0)
    nsp = _spatial_rank(n, x)
    return cx.op("lp_pool", [x], kernel=_kernel(n, nsp), p=int(n.attr("p", 2)),
                 ceil_mode=bool(n.attr("ceil_mode", 0)), **_window_attrs(n, nsp))


@converter("MaxUnpool", since=9)
def max_unpool(cx, n):
    x, ind = n.need(0), n.need(1)
    nsp = _spatial_rank(n, x)
    shape = n.ints(2, what="output_shape")     # the output shape depends on it: a constant
    attrs = _window_attrs(n, nsp)
    return cx.op("max_unpool", [x, ind], kernel=_kernel(n, nsp), strides=attrs["strides"], pads=attrs["pads"],
                 output_shape=tuple(shape) if shape else None)


@converter("LRN")
def lrn(cx, n):
    return cx.op("lrn", [n.need(0)], size=int(n.attr("size")), alpha=float(n.attr("alpha", 1e-4)),
                 beta=float(n.attr("beta", 0.75)), bias=float(n.attr("bias", 1.0)))


@converter("GlobalLpPool", since=2)
def global_lp_pool(cx, n):
    """(sum over the spatial dims of |x|^p)^(1/p), keeping them as size 1."""
    x, p = n.need(0), int(n.attr("p", 2))
    if x.rank < 3:
        raise n.error(f"input {x.name} has shape {list(x.shape)}; expected [N, C, spatial...]")
    axes = tuple(range(2, x.rank))
    if p in (1, 2):
        return cx.op("reduce_l1" if p == 1 else "reduce_l2", [x], axes=axes, keepdims=True)
    e = cx.const(np.array(p, x.dtype))
    s = cx.op("reduce_sum", [cx.op("pow", [cx.op("abs", [x]), e])], axes=axes, keepdims=True)
    return cx.op("pow", [s, cx.const(np.array(1.0 / p, x.dtype))])
