"""Part of ember.nn.functional: resampling: interpolate (and its upsample aliases) resizes the spatial dims,
affine_grid and grid_sample sample an input at computed positions.

interpolate and affine_grid record one node each, with PyTorch's name (UpsampleBilinear2DBackward0 ...,
AffineGridGeneratorBackward0), that saves no tensors, only index and weight arrays: backward can run through it
twice, as in PyTorch. Their backward is written with differentiable ops (index_add, matmul), so they have
gradients of all orders. grid_sample is composed from differentiable ops (weighted gathers), to the input and to
the sampling grid.
"""
import math
import numpy as np

from ... import _dtype as _dt
from ..._tensor import _make
from ...ops.adaptive_pooling import adaptive_avg_pool
from ...ops.comparison import where
from ...ops.upsampling import AffineGridGenerator, _upsample_op
from ...amp._dispatch import AUTOCAST, autocast_run

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "affine_grid", "grid_sample"]


# --- interpolate, upsample --------------------------------------------------------------------------------------

_INTERP_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _interp_sizes(input, size, scale_factor, nd, recompute_scale_factor):
    spatial = tuple(input.shape[-nd:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = tuple(int(s) for s in size) if isinstance(size, (list, tuple)) else (int(size),) * nd
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(spatial)} and output size of {list(sizes)}. Please "
                             "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                             "...,oK) format.")
        return sizes, (None,) * nd
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = tuple(float(s) for s in scale_factor) if isinstance(scale_factor, (list, tuple)) \
        else (float(scale_factor),) * nd
    if len(scales) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(spatial)} and scale_factor of shape {list(scales)}.")
    sizes = tuple(int(math.floor(s * f)) for s, f in zip(spatial, scales))
    return sizes, ((None,) * nd if recompute_scale_factor else scales)


def _coord_scale(in_size, out_size, scale, align_corners, real):
    """PyTorch's area_pixel_compute_scale, in the input's precision like its CPU kernels."""
    if align_corners:
        return real((in_size - 1) / (out_size - 1)) if out_size > 1 else real(0)
    if scale is not None and scale > 0:
        return real(1.0 / scale)
    return real(in_size / out_size)


def _taps(xp, mode, in_size, out_size, scale, align_corners, real):
    """[(index array, weight array or None)] whose weighted sum along a dim resamples it, as arrays of xp (the
    input's device); None where the dim is kept as it is."""
    if mode in ("nearest", "nearest-exact"):
        # nearest modes compute their source index in float32 whatever the dtype, as PyTorch does
        factor = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(in_size / out_size)
        if factor == 1 and out_size == in_size:     # floor(i + 0 or 0.5) == i: every row maps to itself
            return None
        offset = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
        index = xp.floor((xp.arange(out_size, dtype=np.float32) + offset) * factor).astype(np.int64)
        return [(xp.minimum(index, in_size - 1), None)]
    dst = xp.arange(out_size, dtype=real)
    ratio = _coord_scale(in_size, out_size, scale, align_corners, real)
    if align_corners:
        src = ratio * dst
    else:
        src = ratio * (dst + real(0.5)) - real(0.5)
    if mode == "bicubic":
        base = xp.floor(src)
        t = (src - base).astype(real)
        base = base.astype(np.int64)
        a = real(-0.75)                              # PyTorch's cubic convolution coefficient

        def near(x):                                 # |x| <= 1
            return ((a + 2) * x - (a + 3)) * x * x + 1

        def far(x):                                  # 1 < |x| < 2
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
        return [(xp.clip(base + k - 1, 0, in_size - 1), w) for k, w in enumerate(weights)]
    src = xp.maximum(src, real(0))                   # linear modes clamp negative source positions
    low = xp.minimum(xp.floor(src).astype(np.int64), in_size - 1)
    high = xp.minimum(low + 1, in_size - 1)
    frac = (src - low).astype(real)
    return [(low, 1 - frac), (high, frac)]




def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims: nearest, nearest-exact, (bi/tri)linear, bicubic or area, as PyTorch maps
    output positions onto the input (align_corners, scale_factor)."""
    if input.ndim < 3:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for the "
                         f"modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
                         f"(got {mode})")
    nd = input.ndim - 2
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _INTERP_DIMS:
        if _INTERP_DIMS[mode] != nd:
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                      f"{_INTERP_DIMS[mode] + 2}D input")
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by ember")
    sizes, scales = _interp_sizes(input, size, scale_factor, nd, recompute_scale_factor)
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, sizes))})")
    if mode == "area":
        return adaptive_avg_pool("adaptive_avg_pool", input, nd, sizes)
    if AUTOCAST:                                     # PyTorch's upsample_* kernels (on CUDA's fp32 list)
        name = ("_upsample_nearest_exact" if mode == "nearest-exact" else "upsample_" + mode) + f"{nd}d"
        if name in AUTOCAST:
            return autocast_run(name, interpolate, input, size, scale_factor, mode, align_corners,
                                recompute_scale_factor, antialias)
    if input.dtype.category < _dt.FLOAT and mode not in ("nearest", "nearest-exact"):
        raise RuntimeError(f"\"upsample_{mode}\" not implemented for '{input.dtype.name.capitalize()}'")
    real = np.float64 if input.dtype is _dt.float64 else np.float32
    xp = input._backend().xp
    plan = []
    for i, (target, scale) in enumerate(zip(sizes, scales)):
        dim = 2 + i
        if nd == 2 and mode == "nearest" and target == input.shape[dim]:
            continue                                 # PyTorch's CPU nearest2d copies a dim kept at its size
        taps = _taps(xp, mode, input.shape[dim], target, scale, align_corners, real)
        if taps is not None:
            plan.append((dim, taps))
    return _upsample_op(mode, nd).apply(input, plan=tuple(plan))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --- sampling grids ---------------------------------------------------------------------------------------------

def _base_coords(xp, size, align_corners):
    if size <= 1:
        coords = xp.zeros(max(size, 0))
    else:
        coords = xp.linspace(-1.0, 1.0, size)
        if not align_corners:
            coords = coords * (size - 1) / size
    return coords


def affine_grid(theta, size, align_corners=None):
    """Sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of an affine map theta (N, 2, 3) (or (N, 3, 4))."""
    align_corners = bool(align_corners)
    size = tuple(int(s) for s in size)
    xp = theta._backend().xp
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {list(size)}. Got "
                             f"{list(theta.shape)}.")
        n, _, h, w = size
        xs = _base_coords(xp, w, align_corners)
        ys = _base_coords(xp, h, align_corners)
        base = xp.stack([xp.broadcast_to(xs[None, :], (h, w)), xp.broadcast_to(ys[:, None], (h, w)),
                         xp.ones((h, w))], -1).reshape(1, h * w, 3)
        spatial = (h, w)
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {list(size)}. Got "
                             f"{list(theta.shape)}.")
        n, _, d, h, w = size
        xs = _base_coords(xp, w, align_corners)
        ys = _base_coords(xp, h, align_corners)
        zs = _base_coords(xp, d, align_corners)
        grid = xp.meshgrid(zs, ys, xs, indexing="ij")
        base = xp.stack([grid[2], grid[1], grid[0], xp.ones((d, h, w))], -1).reshape(1, d * h * w, 4)
        spatial = (d, h, w)
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {list(size)}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {list(size)}")
    if theta.shape[0] != n:
        raise ValueError(f"Expected theta batch size {theta.shape[0]} to match size[0]={n}")
    base = _make(base.astype(theta._array.dtype, copy=False), theta.device)     # on theta's device
    if "matmul" in AUTOCAST:                        # its product runs in the region's dtype, as PyTorch's
        return autocast_run("matmul", _affine_grid, base, theta, spatial)
    return _affine_grid(base, theta, spatial)


def _affine_grid(base, theta, spatial):
    return AffineGridGenerator.apply(theta, base=base._array, spatial=spatial)


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low, twice_high):
    """Fold coordinates back into [low, high] by mirroring, as PyTorch's grid sampler does."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    coord = (coord - low).abs()
    flips = (coord / span).floor()
    extra = coord - flips * span
    return where(flips.remainder(2) == 0, extra + low, span - extra + low)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) at grid (N, Ho, Wo, 2) locations in [-1, 1] (x, y); bilinear or nearest,
    zeros / border / reflection padding. Gradients flow to both input and grid."""
    if "grid_sampler" in AUTOCAST:
        return autocast_run("grid_sampler", grid_sample, input, grid, mode, padding_mode, align_corners)
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'" if mode != "bicubic" else
                         "grid_sample: mode='bicubic' is not supported by ember")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sample(): ember supports 4-D input (N, C, H, W) with grid (N, H_out, W_out, 2); "
                           f"got input {list(input.shape)} and grid {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    align_corners = bool(align_corners)
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]
    x = _unnormalize(grid[..., 0], w, align_corners)
    y = _unnormalize(grid[..., 1], h, align_corners)
    if padding_mode == "border":
        x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
    elif padding_mode == "reflection":
        if align_corners:
            x, y = _reflect(x, 0, 2 * (w - 1)), _reflect(y, 0, 2 * (h - 1))
        else:
            x, y = _reflect(x, -1, 2 * w - 1), _reflect(y, -1, 2 * h - 1)
        x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
    flat = input.reshape(n, c, h * w)

    def corner(xi, yi):
        """Values at integer corners (N, C, Ho*Wo), zero where the corner is outside the input."""
        inside = ((xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1))
        index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().reshape(n, 1, ho * wo).expand(n, c, ho * wo)
        values = flat.gather(2, index)
        return values * inside.reshape(n, 1, ho * wo).to(input.dtype)

    if mode == "nearest":
        xi, yi = x.detach().round(), y.detach().round()      # round half to even, as PyTorch's nearbyint
        out = corner(xi, yi).reshape(n, c, ho, wo)
        if grid.requires_grad:      # PyTorch's node gives the grid a zero gradient (not none)
            from ...ops.creation import ones
            out = where(ones((1,), dtype=_dt.bool_, device=out.device), out, (x + y).reshape(n, 1, ho, wo))
        return _grid_sampler_saves(out, input, grid)
    x0, y0 = x.detach().floor(), y.detach().floor()
    x1, y1 = x0 + 1, y0 + 1
    wx1, wy1 = x - x0, y - y0
    wx0, wy0 = x1 - x, y1 - y
    out = None
    for xi, yi, weight in ((x0, y0, wx0 * wy0), (x1, y0, wx1 * wy0), (x0, y1, wx0 * wy1), (x1, y1, wx1 * wy1)):
        term = corner(xi, yi) * weight.reshape(n, 1, ho * wo)
        out = term if out is None else out + term
    return _grid_sampler_saves(out.reshape(n, c, ho, wo), input, grid)


def _grid_sampler_saves(out, input, grid):
    """PyTorch's grid sampler node saves the input and the grid whichever needs a gradient (not the output)."""
    if not out.requires_grad:
        return out
    from ...ops._common import saves_for
    return saves_for(out, (input, grid), "GridSampler2DBackward0", keep_output=False)
