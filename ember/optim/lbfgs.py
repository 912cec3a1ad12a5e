"""L-BFGS with an optional strong-Wolfe line search (after minFunc, as PyTorch's).

Note [L-BFGS scalars]: PyTorch's L-BFGS mixes Python numbers and 0-d tensors: dot products (ys, H_diag,
ro, al, gtd), the first step length `min(1, 1/|g|_1) * lr` and whatever the line search interpolates from
them are 0-d tensors in the parameters' dtype, while a plain `lr` stays a Python number (so `t` is 1 for
lr=1 after the first iteration). ember keeps those values as NumPy scalars of the same dtype, which round
like PyTorch's 0-d tensors (float32 arithmetic for float32 parameters, where the line search's decisions
and so the iteration counts depend on it), and stores them in the state as 0-d tensors, numbers as numbers.
"""
import math

import numpy as np

from .. import _dtype as _dt
from .._tensor import Tensor, _make
from ..autograd.function import null_ctx
from ..ops._common import fused_multiply_add
from .optimizer import Optimizer, call_closure, check_lr, lr_value

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to bounds."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - _rdiv(3 * (f1 - f2), x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = d2_square.sqrt() if isinstance(d2_square, Tensor) else math.sqrt(d2_square)   # a 0-d tensor's sqrt in PyTorch
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search along d from x: (loss, flat grad, step t, evaluations). Nocedal & Wright, algorithms 3.5/3.6."""
    d_norm = abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:                         # bracketing phase
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:                           # reached max steps: the bracket is [0, t]
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:            # zoom phase
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1],
                               bracket_gtd[1])
        # Safeguard from minFunc: keep t away from the bracket ends unless progress stalled.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _array(value):
    """A state value for the step: a tensor's array, a 0-d one as a NumPy scalar (Note [L-BFGS scalars])."""
    if not isinstance(value, Tensor):
        return value
    array = value._array
    return array[()] if array.ndim == 0 else array


class LBFGS(Optimizer):
    """L-BFGS over all parameters as one flat vector; step(closure) needs a closure returning the loss.

    One param group only (as in PyTorch). Scalars (ys, H_diag, step t) keep the parameters' dtype, the way
    PyTorch's 0-d tensors do; the state holds tensors in PyTorch's layout."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel_cache = None

    def _numel(self):
        if self._numel_cache is None:
            self._numel_cache = sum(2 * p.numel() if p.is_complex() else p.numel() for p in self._params)
        return self._numel_cache

    def _flat(self, tensor):
        array = tensor._array
        if array.dtype.kind == "c":
            array = array.view(array.real.dtype)
        return array.reshape(-1)

    def _gather_flat_grad(self):
        xp = self._xp
        views = [xp.zeros(2 * p.numel() if p.is_complex() else p.numel(), dtype=self._flat(p).dtype)
                 if p._grad is None else self._flat(p._grad) for p in self._params]
        return xp.concatenate(views)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            view = self._flat(p)
            numel = view.size
            _add_scaled_(view, update[offset:offset + numel], step_size, self._xp)
            p._bump_version()
            offset += numel

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(call_closure(closure))
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):      # back to x: the caller moves along d itself
            p._array[...] = saved
            p._bump_version()
        return loss, flat_grad

    def step(self, closure):
        """Up to max_iter L-BFGS iterations; returns the loss the closure gave at the start."""
        group = self.param_groups[0]
        lr = lr_value(group)
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        self._xp = xp = null_ctx(self._params[0]._device).xp

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = call_closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = _array(state.get("d")), _array(state.get("t"))
        old_dirs = [_array(v) for v in state.get("old_dirs", [])]
        old_stps = [_array(v) for v in state.get("old_stps", [])]
        ro = [_array(v) for v in state.get("ro", [])]
        H_diag = _array(state.get("H_diag"))
        prev_flat_grad = _array(state.get("prev_flat_grad"))   # updated in place, as PyTorch's copy_
        prev_loss = state.get("prev_loss")
        al = None

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:                  # first iteration: steepest descent
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:                                      # update memory, then the two-loop recursion
                y = flat_grad - prev_flat_grad
                s = d * _as_dtype(t, d)
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot(y, y)
                num_old = len(old_dirs)
                if al is None:                         # kept in the state across steps, as in PyTorch
                    al = [_array(v) for v in state.setdefault("al", [None] * history_size)]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    _add_scaled_(q, old_dirs[i], -al[i], xp)
                d = r = q * _as_dtype(H_diag, q)
                for i in range(num_old):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    _add_scaled_(r, old_stps[i], al[i] - be_i, xp)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss
            # step length: scaled on the very first iteration, lr afterwards
            t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(flat_grad, d)
            if gtd > -tolerance_change:               # directional derivative below tolerance
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = [p._array.copy() for p in self._params]

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:                # re-evaluate unless this is the last iteration
                    loss = float(call_closure(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if abs(d * _as_dtype(t, d)).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        device = self._params[0]._device

        def wrap(value):                               # arrays and NumPy scalars as tensors, numbers as numbers
            return _make(xp.asarray(value), device) if hasattr(value, "dtype") else value
        if al is not None:
            state["al"][:] = [wrap(v) for v in al]
        state["d"] = wrap(d)
        state["t"] = wrap(t)
        state["old_dirs"] = [wrap(v) for v in old_dirs]
        state["old_stps"] = [wrap(v) for v in old_stps]
        state["ro"] = [wrap(v) for v in ro]
        state["H_diag"] = wrap(H_diag)
        if not isinstance(state.get("prev_flat_grad"), Tensor):
            state["prev_flat_grad"] = wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        return orig_loss


def _dot(a, b):
    """a . b, refused for mixed dtypes as PyTorch's dot refuses them (an L-BFGS with float32 and float64
    parameters meets that after load_state_dict casts its state to the first parameter's dtype)."""
    if a.dtype != b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_dt.scalar_type_name(_dt.from_numpy(a.dtype))} and "
                           f"{_dt.scalar_type_name(_dt.from_numpy(b.dtype))}")
    if a.dtype == np.float64 and a.size <= 4:
        # PyTorch's dot is MKL's ddot: for up to 4 elements the products sit in one 4-lane register that is
        # summed pairwise, (p0 + p2) + (p1 + p3), where NumPy's BLAS sums in order. Such a last bit decides
        # whether a step lands on a kink (|x| at 0) in L-BFGS; longer vectors keep BLAS's order (not emulated)
        p = a * b
        p = [p[i] for i in range(p.size)] + [0.0] * (4 - p.size)     # (element reads: any device's arrays)
        return (p[0] + p[2]) + (p[1] + p[3])
    return a.dot(b)


def _add_scaled_(array, other, alpha, xp=np):
    """array += alpha * other as PyTorch's add_(other, alpha=alpha): computed in the promoted dtype with alpha
    in it, and the CPU kernel rounds `array + alpha * other` once (a fused multiply-add): for float32 the float64
    arithmetic here reproduces it, for float64 an emulated fma. The line search's decisions in float32 hang on
    such last bits, and a step that lands exactly on a kink (abs at 0) gives another gradient a bit off it."""
    dtype = np.result_type(array.dtype, other.dtype)      # PyTorch computes in the promoted dtype (mixed
    alpha = dtype.type(alpha)                              # float32/float64 parameters: float64)
    if dtype.itemsize == 4 and dtype.kind == "f":
        array[...] = array.astype("float64") + other.astype("float64") * float(alpha)
    elif dtype == np.float64:
        array[...] = fused_multiply_add(xp, other, float(alpha), array)      # (xp: the arrays' module)
    else:
        array += other * alpha


def _rdiv(number, value):
    """number / value, where PyTorch computes a Python number over a 0-d tensor as reciprocal(tensor) * number
    (two roundings in the tensor's dtype)."""
    if isinstance(value, np.generic) and not isinstance(number, np.generic):
        return (1 / value) * number
    return number / value


def _as_dtype(scalar, array):
    """A 0-d value combined with a dimensioned tensor takes the tensor's dtype in PyTorch; NumPy would promote a
    float32 array with a float64 NumPy scalar, so such a scalar is cast first (Python numbers need nothing)."""
    if isinstance(scalar, np.generic) and scalar.dtype != array.dtype:
        return array.dtype.type(scalar)
    return scalar
