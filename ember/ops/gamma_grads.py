"""The reparameterised gradients of gamma-family samples on arrays, PyTorch's _standard_gamma_grad and
_dirichlet_grad: implicit differentiation -(dCDF/dalpha) / pdf, by a Taylor series for small x, a Rice saddle
point expansion for large alpha and bivariate rational fits elsewhere (the formulas and fitted coefficients of
ATen's Distributions.h, Jankowiak and Obermeyer 2018). Everything is evaluated in float64 and rounded to the
input's dtype (PyTorch evaluates a few float32 steps in float32: float32 results can differ in the last bit).
Each function takes the array module `xp` of its inputs' device first (numpy, or cupy for cuda tensors).
"""
import numpy as np

_PSI_10 = 2.25175258906672110764
_DIGAMMA_A = (8.33333333333333333333e-2, -2.10927960927960927961e-2, 7.57575757575757575758e-3,
              -4.16666666666666666667e-3, 3.96825396825396825397e-3, -8.33333333333333333333e-3,
              8.33333333333333333333e-2)
_GAMMA_UV = ((0.16009398, -0.094634809, 0.025146376, -0.0030648343, 1, 0.32668115, 0.10406089, 0.0014179084),
             (0.53487893, 0.1298071, 0.065735949, -0.0015649758, 0.16639465, 0.020070113, -0.0035938915,
              -0.00058392623),
             (0.040121004, -0.0065914022, -0.0026286047, -0.0013441777, 0.017050642, -0.0021309326,
              0.00085092367, -1.5247877e-07))
_BETA_C = (
    (((1.003668233, -0.01061107488, -0.0657888334, 0.01201642863),
      (0.6336835991, -0.3557432599, 0.05486251648, -0.001465281033),
      (-0.03276231906, 0.004474107445, 0.002429354597, -0.0001557569013)),
     ((0.221950385, -0.3187676331, 0.01799915743, 0.01074823814),
      (-0.2951249643, 0.06219954479, 0.01535556598, 0.001550077057),
      (0.02155310298, 0.004170831599, 0.001292462449, 6.976601077e-05)),
     ((-0.05980841433, 0.008441916499, 0.01085618172, 0.002319392565),
      (0.02911413504, 0.01400243777, -0.002721828457, 0.000751041181),
      (0.005900514878, -0.001936558688, -9.495446725e-06, 5.385558597e-05))),
    (((1, -0.02924021934, -0.04438342661, 0.007285809825),
      (0.6357567472, -0.3473456711, 0.05454656494, -0.002407477521),
      (-0.03301322327, 0.004845219414, 0.00231480583, -0.0002307248149)),
     ((0.5925320577, -0.1757678135, 0.01505928619, 0.000564515273),
      (0.1014815858, -0.06589186703, 0.01272886114, -0.0007316646956),
      (-0.007258481865, 0.001096195486, 0.0003934994223, -4.12701925e-05)),
     ((0.06469649321, -0.0236701437, 0.002902096474, -5.896963079e-05),
      (0.001925008108, -0.002869809258, 0.0008000589141, -6.063713228e-05),
      (-0.0003477407336, 6.959756487e-05, 1.097287507e-05, -1.650964693e-06))))


def _log(xp, x):
    """log in x's dtype; float32 through float64 and rounded once (how the C library's logf comes out)."""
    return xp.log(x.astype(np.float64)).astype(x.dtype)


def _pow(xp, x, y):
    return xp.power(x.astype(np.float64), y.astype(np.float64)).astype(x.dtype)


def _digamma(xp, x, dtype=np.float64):
    """Cephes' digamma (reflection below 0, recurrence up to 10, asymptotic series), element-wise; x steps in
    `dtype` (PyTorch's scalar type) and sums in float64, as ATen's digamma_one<scalar_t, double>."""
    one, half = dtype(1), dtype(0.5)
    x = x.astype(dtype)
    result = xp.zeros(x.shape)
    extra = xp.zeros(x.shape)
    negative = x < 0
    pole = (x == 0) | (negative & (x == xp.floor(x)))
    extra[negative] = -xp.pi / xp.tan(xp.pi * x[negative].astype(np.float64))
    x = xp.where(negative, one - x, x)
    for _ in range(10):
        small = x < 10
        if not small.any():
            break
        result = xp.where(small, result - (one / xp.where(small, x, one)).astype(np.float64), result)
        x = xp.where(small, x + one, x)
    z = 1.0 / (x * x).astype(np.float64)
    poly = xp.zeros(x.shape)
    for coefficient in _DIGAMMA_A:
        poly = poly * z + coefficient
    series = xp.where(x < 1.0e17, z * poly, 0.0)
    value = xp.where(x == 10, result + _PSI_10 + extra,
                     result + _log(xp, x).astype(np.float64) - (half / x).astype(np.float64) - series + extra)
    return xp.where(pole, xp.inf, value).astype(dtype)


def _standard_gamma_grad64(xp, alpha, x):
    # Taylor series in x for small x
    numer, denom = xp.ones_like(x), alpha.copy()
    series1, series2 = numer / denom, numer / (denom * denom)
    for i in range(1, 6):
        numer = numer * (-x / i)
        denom = denom + 1
        series1 = series1 + numer / denom
        series2 = series2 + numer / (denom * denom)
    pow_x_alpha = xp.power(x, alpha)
    gamma_pdf = xp.power(x, alpha - 1) * xp.exp(-x)
    gamma_cdf = pow_x_alpha * series1
    cdf_alpha = (xp.log(x) - _digamma(xp, alpha)) * gamma_cdf - pow_x_alpha * series2
    taylor = -cdf_alpha / gamma_pdf
    taylor = xp.where(xp.isnan(taylor), 0.0, taylor)
    # Rice saddle point expansion for large alpha: near the mode, and away from it
    numer_1 = 1 + 24 * alpha * (1 + 12 * alpha)
    numer_2 = 1440 * (alpha * alpha) + 6 * x * (53 - 120 * x) - 65 * x * x / alpha + alpha * (107 + 3600 * x)
    near_mode = numer_1 * numer_2 / (1244160 * (alpha * alpha) * (alpha * alpha))
    denom = xp.sqrt(8 * alpha)
    term2 = denom / (alpha - x)
    term3 = xp.power(x - alpha - alpha * xp.log(x / alpha), -1.5)
    term23 = xp.where(x < alpha, term2 - term3, term2 + term3)
    term1 = xp.log(x / alpha) * term23 - xp.sqrt(2 / alpha) * (alpha + x) / ((alpha - x) * (alpha - x))
    stirling = 1 + 1 / (12 * alpha) * (1 + 1 / (24 * alpha))
    saddle = xp.where((0.9 * alpha <= x) & (x <= 1.1 * alpha), near_mode, -stirling * (x * term1) / denom)
    # a bivariate rational fit in u = log(x / alpha), v = log(alpha) elsewhere
    u, v = xp.log(x / alpha), xp.log(alpha)
    coef = [_GAMMA_UV[0][i] + u * (_GAMMA_UV[1][i] + u * _GAMMA_UV[2][i]) for i in range(8)]
    p = coef[0] + v * (coef[1] + v * (coef[2] + v * coef[3]))
    q = coef[4] + v * (coef[5] + v * (coef[6] + v * coef[7]))
    rational = xp.exp(p / q)
    return xp.where(x < 0.8, taylor, xp.where(alpha > 8.0, saddle, rational))


def standard_gamma_grad_array(xp, alpha, x):
    """d x / d alpha for Gamma(alpha, 1) samples x, holding the CDF fixed."""
    alpha64, x64 = xp.broadcast_arrays(alpha.astype(np.float64), x.astype(np.float64))
    with np.errstate(all="ignore"):                     # NumPy's warnings only: a GPU raises none
        return _standard_gamma_grad64(xp, alpha64.copy(), x64.copy()).astype(np.result_type(alpha.dtype, x.dtype))


def _beta_grad_alpha_small(xp, x, alpha, beta, dtype):
    """d x / d alpha of Beta(alpha, beta) samples near 0 (Taylor series, in PyTorch's scalar type)."""
    x, alpha, beta = (v.astype(dtype) for v in (x, alpha, beta))
    one = dtype(1)
    factor = _digamma(xp, alpha, dtype) - _digamma(xp, alpha + beta, dtype) - _log(xp, x)
    numer = xp.ones_like(x)
    series = numer / alpha * (factor + one / alpha)
    for i in range(1, 11):
        i = dtype(i)
        numer = numer * ((i - beta) * x / i)
        denom = alpha + i
        series = series + numer / denom * (factor + one / denom)
    result = x * _pow(xp, one - x, -beta) * series
    return xp.where(xp.isnan(result), dtype(0), result)


def _beta_grad_beta_small(xp, x, alpha, beta, dtype):
    """d x / d beta of Beta(alpha, beta) samples near 0 (Taylor series, in PyTorch's scalar type)."""
    x, alpha, beta = (v.astype(dtype) for v in (x, alpha, beta))
    one = dtype(1)
    factor = _digamma(xp, alpha + beta, dtype) - _digamma(xp, beta, dtype)
    numer, betas, dbetas, series = xp.ones_like(x), xp.ones_like(x), xp.zeros_like(x), factor / alpha
    for i in range(1, 9):
        i = dtype(i)
        numer = numer * (-x / i)
        dbetas = dbetas * (beta - i) + betas
        betas = betas * (beta - i)
        series = series + numer / (alpha + i) * (dbetas + factor * betas)
    result = -_pow(xp, one - x, one - beta) * series
    return xp.where(xp.isnan(result), dtype(0), result)


def _beta_grad_alpha_mid(xp, x, alpha, beta):
    """d x / d alpha of Beta(alpha, beta) samples when both are large (Rice saddle point)."""
    total = alpha + beta
    mean = alpha / total
    std = xp.sqrt(alpha * beta / (total + 1)) / total
    poly = 47 * x * (beta * beta) * (beta * beta) + alpha * (
        (43 + 20 * (16 + 27 * beta) * x) * (beta * beta) * beta + alpha * (
            3 * (59 + 180 * beta - 90 * x) * (beta * beta) + alpha * (
                (453 + 1620 * beta * (1 - x) - 455 * x) * beta + alpha * (8 * (1 - x) * (135 * beta - 11)))))
    prefactor_num = (1 + 12 * alpha) * (1 + 12 * beta) / (total * total)
    prefactor_den = 12960 * alpha * alpha * alpha * beta * beta * (1 + 12 * total)
    near_mean = prefactor_num / (1 - x) * poly / prefactor_den
    prefactor = -x / xp.sqrt(2 * alpha * beta / total)
    stirling = ((1 + 1 / (12 * alpha) + 1 / (288 * alpha * alpha)) * (1 + 1 / (12 * beta) + 1 / (288 * beta * beta))
                / (1 + 1 / (12 * total) + 1 / (288 * total * total)))
    term1_num = 2 * (alpha * alpha) * (x - 1) + alpha * beta * (x - 1) - x * (beta * beta)
    axbx = alpha * (x - 1) + beta * x
    term1 = term1_num / (xp.sqrt(2 * alpha / beta) * xp.power(total, 1.5) * axbx * axbx)
    term2 = 0.5 * xp.log(alpha / (total * x))
    term3 = xp.sqrt(8 * alpha * beta / total) / (beta * x + alpha * (x - 1))
    term4 = xp.power(beta * xp.log(beta / (total * (1 - x))) + alpha * xp.log(alpha / (total * x)), -1.5)
    away = stirling * prefactor * (term1 + term2 * (term3 + xp.where(x < mean, term4, -term4)))
    return xp.where((mean - 0.1 * std <= x) & (x <= mean + 0.1 * std), near_mean, away)


def _dirichlet_grad(xp, x, alpha, total, dtype):
    """ATen's dirichlet_grad_one: the small-x series in the scalar type, the rest in float64."""
    x_, alpha_, total_ = (v.astype(np.float64) for v in (x, alpha, total))
    beta_ = total_ - alpha_
    beta = total - alpha                                # scalar-type arithmetic, as the branch tests use
    boundary = total * x * (dtype(1) - x)
    u = xp.log(x_)
    a = xp.log(alpha_) - u
    b = xp.log(total_) - a
    p, q = xp.zeros_like(x_), xp.zeros_like(x_)
    for i, pow_u in enumerate((1, u, u * u)):
        for j, pow_a in enumerate((1, a, a * a)):
            ua = pow_u * pow_a
            c_p, c_q = _BETA_C[0][i][j], _BETA_C[1][i][j]
            p = p + ua * (c_p[0] + b * (c_p[1] + b * (c_p[2] + b * c_p[3])))
            q = q + ua * (c_q[0] + b * (c_q[1] + b * (c_q[2] + b * c_q[3])))
    digammas = _digamma(xp, total_.astype(dtype), dtype).astype(np.float64) - \
        _digamma(xp, alpha_.astype(dtype), dtype).astype(np.float64)
    rational = p / q * (x_ * digammas / beta_)
    result = xp.where((alpha > 6) & (beta > 6), _beta_grad_alpha_mid(xp, x_, alpha_, beta_), rational).astype(dtype)
    result = xp.where((x >= 0.5) & (boundary < 0.75), -_beta_grad_beta_small(xp, dtype(1) - x, beta, alpha, dtype),
                      result)
    return xp.where((x <= 0.5) & (boundary < 2.5), _beta_grad_alpha_small(xp, x, alpha, beta, dtype), result)


def dirichlet_grad_array(xp, x, alpha, total):
    """-(dCDF/dalpha) / pdf / (1 - x) for Beta(alpha, total - alpha) samples x (Dirichlet's reparameterisation)."""
    dtype = np.result_type(x.dtype, alpha.dtype, total.dtype).type
    arrays = xp.broadcast_arrays(*[v.astype(dtype, copy=False) for v in (x, alpha, total)])
    with np.errstate(all="ignore"):                     # NumPy's warnings only: a GPU raises none
        return _dirichlet_grad(xp, *[a.copy() for a in arrays], dtype).astype(dtype)
