"""The distribution families under test: how to build each from a library (torch or ember) and plain parameter
values, and what to expect of its samples compared with PyTorch's."""
import numpy as np

# sample: "exact" when ember's samples equal PyTorch's bit for bit under the same seed, "close" when the draws
# are the same and only a float transform (log, exp, pow) may round differently in the last bit.
# float64=False: PyTorch 2.13 cannot evaluate the family in float64 (GeneralizedPareto compares float64
# parameters with a float32 zero in isclose and raises); those checks run in float32.
# params: name -> nested list (tensors) or a number; `build(M, p)` makes the distribution from module M and the
# dict p of library tensors.
CASES = {
    "Normal": dict(params={"loc": [0.5, -1.0, 2.0], "scale": [1.0, 0.5, 2.0]}, sample="exact",
                   build=lambda M, p: M.Normal(p["loc"], p["scale"])),
    "Uniform": dict(params={"low": [0.0, -1.0, 2.0], "high": [1.0, 0.5, 3.0]}, sample="exact",
                    build=lambda M, p: M.Uniform(p["low"], p["high"])),
    "Bernoulli": dict(params={"probs": [0.2, 0.5, 0.9]}, sample="exact", build=lambda M, p: M.Bernoulli(p["probs"])),
    "BernoulliLogits": dict(params={"logits": [-1.2, 0.0, 2.5]}, sample="exact",
                            build=lambda M, p: M.Bernoulli(logits=p["logits"])),
    "Categorical": dict(params={"probs": [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]}, sample="exact",
                        build=lambda M, p: M.Categorical(p["probs"])),
    "CategoricalLogits": dict(params={"logits": [[0.2, -1.3, 0.5, 2.0]]}, sample="exact",
                              build=lambda M, p: M.Categorical(logits=p["logits"])),
    "OneHotCategorical": dict(params={"probs": [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]}, sample="exact",
                              build=lambda M, p: M.OneHotCategorical(p["probs"])),
    "OneHotCategoricalStraightThrough": dict(params={"logits": [[0.2, 0.3, -0.5]]}, sample="exact",
                                             build=lambda M, p: M.OneHotCategoricalStraightThrough(
                                                 logits=p["logits"])),
    "Exponential": dict(params={"rate": [0.5, 1.0, 2.0]}, sample="exact", build=lambda M, p: M.Exponential(p["rate"])),
    "Laplace": dict(params={"loc": [0.5, -1.0, 2.0], "scale": [1.0, 0.5, 2.0]}, sample="close",
                    build=lambda M, p: M.Laplace(p["loc"], p["scale"])),
    "Cauchy": dict(params={"loc": [0.5, -1.0, 2.0], "scale": [1.0, 0.5, 2.0]}, sample="exact",
                   build=lambda M, p: M.Cauchy(p["loc"], p["scale"])),
    "Gumbel": dict(params={"loc": [0.5, -1.0, 2.0], "scale": [1.0, 0.5, 2.0]}, sample="close",
                   build=lambda M, p: M.Gumbel(p["loc"], p["scale"])),
    "LogNormal": dict(params={"loc": [0.5, -1.0, 2.0], "scale": [1.0, 0.5, 2.0]}, sample="close",
                      build=lambda M, p: M.LogNormal(p["loc"], p["scale"])),
    "HalfNormal": dict(params={"scale": [1.0, 0.5, 2.0]}, sample="exact", build=lambda M, p: M.HalfNormal(p["scale"])),
    "HalfCauchy": dict(params={"scale": [1.0, 0.5, 2.0]}, sample="exact", build=lambda M, p: M.HalfCauchy(p["scale"])),
    "Geometric": dict(params={"probs": [0.2, 0.5, 0.9]}, sample="exact", build=lambda M, p: M.Geometric(p["probs"])),
    "Binomial": dict(params={"total_count": [10.0, 50.0, 100.0], "probs": [0.2, 0.5, 0.7]}, sample="exact",
                     build=lambda M, p: M.Binomial(p["total_count"], p["probs"])),
    "BinomialScalarCount": dict(params={"logits": [-0.3, 0.4]}, sample="exact",
                                build=lambda M, p: M.Binomial(6, logits=p["logits"])),
    "Multinomial": dict(params={"probs": [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]}, sample="exact",
                        build=lambda M, p: M.Multinomial(7, p["probs"])),
    "MultivariateNormalTril": dict(params={"loc": [0.5, -1.0], "scale_tril": [[1.0, 0.0], [0.3, 2.0]]},
                                   sample="exact",
                                   build=lambda M, p: M.MultivariateNormal(p["loc"], scale_tril=p["scale_tril"])),
    "MultivariateNormalCov": dict(params={"loc": [[0.5, -1.0], [0.0, 1.0]], "cov": [[2.0, 0.3], [0.3, 1.0]]},
                                  sample="close",
                                  build=lambda M, p: M.MultivariateNormal(p["loc"], covariance_matrix=p["cov"])),
    "MultivariateNormalPrec": dict(params={"loc": [0.5, -1.0, 0.0],
                                           "prec": [[2.0, 0.3, 0.1], [0.3, 1.0, 0.0], [0.1, 0.0, 1.5]]},
                                   sample="close",
                                   build=lambda M, p: M.MultivariateNormal(p["loc"], precision_matrix=p["prec"])),
    "LowRankMultivariateNormal": dict(params={"loc": [0.5, -1.0, 0.2], "cov_factor": [[1.0], [0.3], [-0.4]],
                                              "cov_diag": [1.0, 2.0, 0.5]}, sample="close",
                                      build=lambda M, p: M.LowRankMultivariateNormal(p["loc"], p["cov_factor"],
                                                                                     p["cov_diag"])),
    "RelaxedBernoulli": dict(params={"temperature": 0.5, "probs": [0.2, 0.5, 0.9]}, sample="close",
                             build=lambda M, p: M.RelaxedBernoulli(p["temperature"], probs=p["probs"])),
    "RelaxedOneHotCategorical": dict(params={"temperature": 0.7, "logits": [[0.2, -0.3, 0.5]]}, sample="close",
                                     build=lambda M, p: M.RelaxedOneHotCategorical(p["temperature"],
                                                                                   logits=p["logits"])),
    "ContinuousBernoulli": dict(params={"probs": [0.2, 0.5, 0.9]}, sample="close",
                                build=lambda M, p: M.ContinuousBernoulli(p["probs"])),
    "Weibull": dict(params={"scale": [1.0, 0.5, 2.0], "concentration": [1.5, 0.7, 3.0]}, sample="close",
                    build=lambda M, p: M.Weibull(p["scale"], p["concentration"])),
    "Pareto": dict(params={"scale": [1.0, 0.5, 2.0], "alpha": [1.5, 0.7, 3.0]}, sample="close",
                   build=lambda M, p: M.Pareto(p["scale"], p["alpha"])),
    "LogisticNormal": dict(params={"loc": [0.5, -1.0, 2.0], "scale": [1.0, 0.5, 2.0]}, sample="close",
                           build=lambda M, p: M.LogisticNormal(p["loc"], p["scale"])),
    "Kumaraswamy": dict(params={"concentration1": [1.0, 0.5, 2.0], "concentration0": [1.5, 0.7, 3.0]},
                        sample="close", build=lambda M, p: M.Kumaraswamy(p["concentration1"], p["concentration0"])),
    "MixtureSameFamily": dict(params={"weights": [[0.2, 0.8], [0.5, 0.5]], "loc": [[0.0, 2.0], [-1.0, 1.0]],
                                      "scale": [[1.0, 0.5], [0.3, 2.0]]}, sample="exact",
                              build=lambda M, p: M.MixtureSameFamily(M.Categorical(p["weights"]),
                                                                     M.Normal(p["loc"], p["scale"]))),
    "Independent": dict(params={"loc": [[0.5, -1.0, 2.0]], "scale": [[1.0, 0.5, 2.0]]}, sample="exact",
                        build=lambda M, p: M.Independent(M.Normal(p["loc"], p["scale"]), 1)),
    "Gamma": dict(params={"concentration": [1.0, 0.5, 2.0], "rate": [1.5, 0.7, 3.0]}, sample="exact",
                  build=lambda M, p: M.Gamma(p["concentration"], p["rate"])),
    "Chi2": dict(params={"df": [1.0, 0.5, 12.0]}, sample="exact", build=lambda M, p: M.Chi2(p["df"])),
    "Beta": dict(params={"concentration1": [1.0, 0.5, 2.0], "concentration0": [1.5, 0.7, 3.0]}, sample="exact",
                 build=lambda M, p: M.Beta(p["concentration1"], p["concentration0"])),
    "Dirichlet": dict(params={"concentration": [[1.0, 0.5, 2.0], [1.5, 0.7, 3.0]]}, sample="exact",
                      build=lambda M, p: M.Dirichlet(p["concentration"])),
    "StudentT": dict(params={"df": [1.0, 3.5, 12.0], "loc": [0.0, 1.0, -2.0], "scale": [1.0, 2.0, 0.5]},
                     sample="exact", build=lambda M, p: M.StudentT(p["df"], p["loc"], p["scale"])),
    "FisherSnedecor": dict(params={"df1": [1.0, 3.5, 12.0], "df2": [2.0, 5.5, 10.0]}, sample="exact",
                           build=lambda M, p: M.FisherSnedecor(p["df1"], p["df2"])),
    "Poisson": dict(params={"rate": [0.5, 3.5, 12.0]}, sample="exact", build=lambda M, p: M.Poisson(p["rate"])),
    "NegativeBinomial": dict(params={"total_count": [1.0, 3.5, 12.0], "probs": [0.3, 0.5, 0.7]}, sample="exact",
                             build=lambda M, p: M.NegativeBinomial(p["total_count"], p["probs"])),
    "VonMises": dict(params={"loc": [0.5, -1.0, 2.0], "concentration": [1.0, 0.5, 2.0]}, sample="exact",
                     build=lambda M, p: M.VonMises(p["loc"], p["concentration"])),
    "LKJCholesky": dict(params={"concentration": [1.0, 0.5]}, sample="close",
                        build=lambda M, p: M.LKJCholesky(3, p["concentration"])),
    "Wishart": dict(params={"df": 4.0, "cov": [[2.0, 0.5], [0.5, 1.0]]}, sample="close",
                    build=lambda M, p: M.Wishart(p["df"], covariance_matrix=p["cov"])),
    "InverseGamma": dict(params={"concentration": [1.0, 2.5, 3.0], "rate": [1.5, 0.7, 3.0]}, sample="exact",
                         build=lambda M, p: M.InverseGamma(p["concentration"], p["rate"])),
    "GeneralizedPareto": dict(params={"loc": [0.0, 1.0, 2.0], "scale": [1.5, 0.7, 3.0],
                                      "concentration": [0.1, 0.0, -0.2]}, sample="close", float64=False,
                              build=lambda M, p: M.GeneralizedPareto(p["loc"], p["scale"], p["concentration"])),
}


def make_params(lib, params, dtype_name="float32", requires_grad=False):
    """The case's parameters as tensors of `lib` (torch or ember); numbers stay numbers unless a tensor is
    needed (temperature, df)."""
    dtype = getattr(lib, dtype_name)
    out = {}
    for name, value in params.items():
        if isinstance(value, list) or name in ("temperature", "df"):
            t = lib.tensor(value, dtype=dtype)
            if requires_grad and name not in ("total_count",):
                t.requires_grad_(True)
            out[name] = t
        else:
            out[name] = value
    return out


def build_pair(torch, ember, name, dtype_name="float32", requires_grad=False):
    case = CASES[name]
    if not case.get("float64", True):
        dtype_name = "float32"
    tp = make_params(torch, case["params"], dtype_name, requires_grad)
    ep = make_params(ember, case["params"], dtype_name, requires_grad)
    return case["build"](torch.distributions, tp), case["build"](ember.distributions, ep), tp, ep


def numpy_of(x):
    if hasattr(x, "detach"):
        x = x.detach()
    return np.asarray(x.numpy())
