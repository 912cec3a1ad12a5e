"""Argument and sample validation (on by default, as in PyTorch) with PyTorch's exception types and messages,
Distribution.set_default_validate_args, and the constraints' checks, reprs and static attributes."""
import warnings

import numpy as np
import pytest

import ember

D = ember.distributions


def _error(fn):
    try:
        fn()
    except Exception as e:              # noqa: BLE001 - the type is what is compared
        return type(e), str(e)
    return None


def _same_error(torch, build, tensor_args):
    """build(M, t) raises the same exception type and message in both libraries (torch.Size -> ember.Size)."""
    expected = _error(lambda: build(torch.distributions, lambda *a, **k: torch.tensor(*a, **k)))
    actual = _error(lambda: build(ember.distributions, lambda *a, **k: ember.tensor(*a, **k)))
    assert expected is not None, "PyTorch accepted the arguments"
    assert actual is not None, f"ember accepted what PyTorch refuses: {expected}"
    assert actual[0] is expected[0]
    assert actual[1] == expected[1].replace("torch.Size", "ember.Size").replace("torch.", "ember.")


ARGUMENT_ERRORS = {
    "normal_negative_scale": lambda M, t: M.Normal(t([0.0, 1.0]), t([1.0, -1.0])),
    "normal_nan_loc": lambda M, t: M.Normal(t([float("nan")]), t([1.0])),
    "scalar_negative_scale": lambda M, t: M.Normal(0.0, -2.0),
    "uniform_low_above_high": lambda M, t: M.Uniform(t([2.0]), t([1.0])),
    "bernoulli_probs_and_logits": lambda M, t: M.Bernoulli(probs=t(0.3), logits=t(0.1)),
    "bernoulli_neither": lambda M, t: M.Bernoulli(),
    "bernoulli_probs_above_one": lambda M, t: M.Bernoulli(t([0.3, 1.5])),
    "categorical_zero_dim": lambda M, t: M.Categorical(t(0.5)),
    "categorical_negative": lambda M, t: M.Categorical(t([0.5, -0.5, 1.0])),
    "categorical_logits_zero_dim": lambda M, t: M.Categorical(logits=t(0.5)),
    "geometric_zero_probs": lambda M, t: M.Geometric(t([0.0, 0.5])),
    "gamma_zero_rate": lambda M, t: M.Gamma(t([1.0]), t([0.0])),
    "dirichlet_zero_dim": lambda M, t: M.Dirichlet(t(1.0)),
    "dirichlet_negative": lambda M, t: M.Dirichlet(t([1.0, -1.0])),
    "beta_negative": lambda M, t: M.Beta(t([1.0]), t([-1.0])),
    "binomial_fractional_count": lambda M, t: M.Binomial(t([2.5]), t([0.5])),
    "poisson_negative": lambda M, t: M.Poisson(t([-1.0])),
    "multinomial_float_count": lambda M, t: M.Multinomial(2.5, t([0.5, 0.5])),
    "mvn_two_parameters": lambda M, t: M.MultivariateNormal(t([0.0]), covariance_matrix=t([[1.0]]),
                                                            scale_tril=t([[1.0]])),
    "mvn_scalar_loc": lambda M, t: M.MultivariateNormal(t(0.0), covariance_matrix=t([[1.0]])),
    "mvn_vector_cov": lambda M, t: M.MultivariateNormal(t([0.0]), covariance_matrix=t([1.0])),
    "mvn_not_positive_definite": lambda M, t: M.MultivariateNormal(t([0.0, 0.0]),
                                                                   covariance_matrix=t([[1.0, 2.0], [2.0, 1.0]])),
    "mvn_tril_not_lower": lambda M, t: M.MultivariateNormal(t([0.0, 0.0]), scale_tril=t([[1.0, 2.0], [0.0, 1.0]])),
    "lowrank_bad_factor": lambda M, t: M.LowRankMultivariateNormal(t([0.0, 0.0]), t([[1.0]]), t([1.0, 1.0])),
    "lowrank_bad_diag": lambda M, t: M.LowRankMultivariateNormal(t([0.0, 0.0]), t([[1.0], [1.0]]), t([1.0])),
    "lowrank_scalar_loc": lambda M, t: M.LowRankMultivariateNormal(t(0.0), t([[1.0]]), t([1.0])),
    "independent_too_many_dims": lambda M, t: M.Independent(M.Normal(t([0.0]), t([1.0])), 2),
    "mixture_not_categorical": lambda M, t: M.MixtureSameFamily(M.Normal(t([0.0]), t([1.0])),
                                                                M.Normal(t([0.0]), t([1.0]))),
    "mixture_component_count": lambda M, t: M.MixtureSameFamily(M.Categorical(t([0.5, 0.5])),
                                                                M.Normal(t([0.0, 1.0, 2.0]), t([1.0, 1.0, 1.0]))),
    "mixture_not_distribution": lambda M, t: M.MixtureSameFamily(M.Categorical(t([0.5, 0.5])), t([1.0])),
    "transformed_bad_transforms": lambda M, t: M.TransformedDistribution(M.Normal(t(0.0), t(1.0)), "exp"),
    "transformed_bad_list": lambda M, t: M.TransformedDistribution(M.Normal(t(0.0), t(1.0)), ["exp"]),
    "lkj_dim_one": lambda M, t: M.LKJCholesky(1, t(1.0)),
    "wishart_small_df": lambda M, t: M.Wishart(t(0.5), covariance_matrix=t([[1.0, 0.0], [0.0, 1.0]])),
    "wishart_two_parameters": lambda M, t: M.Wishart(t(3.0), covariance_matrix=t([[1.0]]), scale_tril=t([[1.0]])),
    "von_mises_negative": lambda M, t: M.VonMises(t([0.0]), t([-1.0])),
    "continuous_bernoulli_checked": lambda M, t: M.ContinuousBernoulli(t([1.5]), validate_args=True),
    "relaxed_bad_probs": lambda M, t: M.RelaxedOneHotCategorical(t(0.5), probs=t([0.5, -0.5])),
    "student_negative_df": lambda M, t: M.StudentT(t([-1.0])),
}


@pytest.mark.parametrize("case", sorted(ARGUMENT_ERRORS))
def test_argument_errors_match_torch(torch, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same_error(torch, ARGUMENT_ERRORS[case], None)


SAMPLE_ERRORS = {
    "normal_not_a_tensor": lambda M, t: M.Normal(t([0.0]), t([1.0])).log_prob(0.5),
    "normal_event_shape": lambda M, t: M.MultivariateNormal(t([0.0, 0.0]), scale_tril=t([[1.0, 0.0], [0.0, 1.0]]))
    .log_prob(t([0.0, 0.0, 0.0])),
    "normal_batch_shape": lambda M, t: M.Normal(t([0.0, 1.0]), t([1.0, 1.0])).log_prob(t([0.0, 0.0, 0.0])),
    "exponential_negative": lambda M, t: M.Exponential(t([1.0])).log_prob(t([-1.0])),
    "bernoulli_two": lambda M, t: M.Bernoulli(t([0.3])).log_prob(t([2.0])),
    "categorical_out_of_range": lambda M, t: M.Categorical(t([0.3, 0.7])).log_prob(t(2)),
    "dirichlet_not_simplex": lambda M, t: M.Dirichlet(t([1.0, 1.0])).log_prob(t([0.3, 0.3])),
    "uniform_outside": lambda M, t: M.Uniform(t([0.0]), t([1.0])).log_prob(t([2.0])),
    "uniform_cdf_outside": lambda M, t: M.Uniform(t([0.0]), t([1.0])).cdf(t([2.0])),
    "poisson_fraction": lambda M, t: M.Poisson(t([1.0])).log_prob(t([0.5])),
    "beta_outside": lambda M, t: M.Beta(t([1.0]), t([1.0])).log_prob(t([1.5])),
    "lognormal_negative": lambda M, t: M.LogNormal(t([0.0]), t([1.0])).log_prob(t([-1.0])),
    "one_hot_not_one_hot": lambda M, t: M.OneHotCategorical(t([0.5, 0.5])).log_prob(t([1.0, 1.0])),
    "multinomial_too_many": lambda M, t: M.Multinomial(2, t([0.5, 0.5])).log_prob(t([2.0, 1.0])),
    "mixture_outside": lambda M, t: M.MixtureSameFamily(M.Categorical(t([0.5, 0.5])),
                                                        M.Gamma(t([1.0, 2.0]), t([1.0, 1.0]))).log_prob(t(-1.0)),
    "transformed_outside": lambda M, t: M.TransformedDistribution(M.Normal(t(0.0), t(1.0)),
                                                                  [M.transforms.ExpTransform()]).log_prob(t(-1.0)),
}


@pytest.mark.parametrize("case", sorted(SAMPLE_ERRORS))
def test_sample_validation_errors_match_torch(torch, case):
    _same_error(torch, SAMPLE_ERRORS[case], None)


def test_validate_args_false_skips_checks(torch):
    for M, t in ((torch.distributions, torch.tensor), (D, ember.tensor)):
        d = M.Normal(t([0.0]), t([-1.0]), validate_args=False)
        assert not d._validate_args
        d.log_prob(t([1.0]))                       # no error
        assert M.Exponential(t([1.0]), validate_args=False).log_prob(t([-1.0])).shape == (1,)


def test_set_default_validate_args():
    assert D.Distribution._validate_args is True
    try:
        D.Distribution.set_default_validate_args(False)
        d = D.Normal(ember.tensor([0.0]), ember.tensor([-1.0]))
        assert not d._validate_args
        d = D.Normal(ember.tensor([0.0]), ember.tensor([1.0]), validate_args=True)
        with pytest.raises(ValueError, match="to be within the support"):
            D.Exponential(ember.tensor([1.0]), validate_args=True).log_prob(ember.tensor([-1.0]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.Normal(ember.tensor([0.0]), ember.tensor([-1.0]))


def test_lazy_parameters_are_not_validated(torch):
    # logits given: the lazily computed probs are not computed (and not checked) at construction
    d = D.Bernoulli(logits=ember.tensor([100.0, -100.0]))
    assert "probs" not in d.__dict__
    assert "logits" in d.__dict__


def test_subclass_warnings_and_expand_errors(torch):
    for M in (torch.distributions, D):
        class NoConstraints(M.Distribution):
            pass

        with pytest.warns(UserWarning, match="does not define `arg_constraints`"):
            NoConstraints()

        class CustomInit(M.Normal):
            def __init__(self, loc):
                super().__init__(loc, 1.0)

        d = CustomInit(0.0)
        with pytest.raises(NotImplementedError, match="must also define a custom .expand"):
            d.expand((2,))
        with pytest.raises(NotImplementedError):
            M.Distribution(validate_args=False).sample()
        with pytest.raises(NotImplementedError, match="does not implement mode"):
            getattr(M.Distribution(validate_args=False), "mode")


# --- constraints ---------------------------------------------------------------------------------------------

def _constraints(M, t):
    c = M.constraints
    return {
        "real": c.real, "positive": c.positive, "nonnegative": c.nonnegative, "unit_interval": c.unit_interval,
        "boolean": c.boolean, "nonnegative_integer": c.nonnegative_integer, "positive_integer": c.positive_integer,
        "interval": c.interval(-1.0, 2.0), "half_open_interval": c.half_open_interval(0.0, 1.0),
        "greater_than": c.greater_than(0.5), "greater_than_eq": c.greater_than_eq(0.5), "less_than": c.less_than(1.5),
        "integer_interval": c.integer_interval(0, 3), "real_vector": c.real_vector, "simplex": c.simplex,
        "one_hot": c.one_hot, "multinomial": c.multinomial(4), "lower_triangular": c.lower_triangular,
        "lower_cholesky": c.lower_cholesky, "corr_cholesky": c.corr_cholesky, "square": c.square,
        "symmetric": c.symmetric, "positive_definite": c.positive_definite,
        "positive_semidefinite": c.positive_semidefinite, "independent": c.independent(c.positive, 1),
        "cat": c.cat([c.positive, c.real], dim=-1, lengths=[1, 2]), "stack": c.stack([c.positive, c.real], dim=-1),
        "integer_less_than": c._IntegerLessThan(2), "tensor_interval": c.interval(t([0.0, 1.0, -1.0]), t([2.0, 3.0, 0.0])),
    }


VALUES = [
    [1.0, 0.5, 0.0], [-1.0, 2.0, 3.0], [float("nan"), 1.0, 0.25], [[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]],
    [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]],
    [[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]], [[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.0, -1.0]],
    [3.0, 1.0, 0.0], [[0.0, 0.0], [1.0, 0.0]],
]


@pytest.mark.parametrize("name", sorted(_constraints(ember.distributions, ember.tensor)))
def test_constraints_match_torch(torch, name):
    tc = _constraints(torch.distributions, torch.tensor)[name]
    ec = _constraints(D, ember.tensor)[name]
    assert repr(ec) == repr(tc)
    assert ec.is_discrete == tc.is_discrete and ec.event_dim == tc.event_dim
    assert type(ec).__name__ == type(tc).__name__
    for value in VALUES:
        try:
            expected = tc.check(torch.tensor(value))
        except Exception as e:         # noqa: BLE001
            if "must match the size" in str(e):
                # a value that does not broadcast with tensor bounds: ember's comparison operators raise
                # NumPy's ValueError there instead of PyTorch's RuntimeError (outside ember.distributions)
                continue
            with pytest.raises(type(e)):
                ec.check(ember.tensor(value))
            continue
        actual = ec.check(ember.tensor(value))
        assert actual.dtype == ember.bool
        np.testing.assert_array_equal(actual.numpy(), expected.numpy())


def test_constraint_checks_without_torch():
    c = D.constraints
    np.testing.assert_array_equal(c.positive.check(ember.tensor([1.0, 0.0, -1.0])).numpy(), [True, False, False])
    np.testing.assert_array_equal(c.simplex.check(ember.tensor([[0.5, 0.5], [0.5, 0.6]])).numpy(), [True, False])
    np.testing.assert_array_equal(c.integer_interval(0, 2).check(ember.tensor([0.0, 2.0, 2.5, 3.0])).numpy(),
                                  [True, True, False, False])
    np.testing.assert_array_equal(c.lower_cholesky.check(ember.tensor([[[1.0, 0.0], [2.0, 3.0]],
                                                                       [[1.0, 1.0], [0.0, 1.0]]])).numpy(), [True, False])
    assert c.real_vector.event_dim == 1 and c.positive_definite.event_dim == 2
    assert c.is_dependent(c.dependent) and not c.is_dependent(c.real)
    with pytest.raises(ValueError, match="Cannot determine validity"):
        c.dependent.check(ember.tensor(1.0))
    with pytest.raises(NotImplementedError, match="cannot be determined statically"):
        getattr(c.dependent, "event_dim")
    assert c.dependent(is_discrete=True, event_dim=1).event_dim == 1
    assert repr(c.greater_than(0.0)) == "GreaterThan(lower_bound=0.0)"
    assert repr(c.independent(c.real, 1)) == "IndependentConstraint(Real(), 1)"
    with pytest.raises(ValueError, match="Expected value.dim"):
        c.independent(c.real, 2).check(ember.tensor([1.0]))
    # dependent properties read as constraints on the class, as properties on instances
    assert isinstance(D.Uniform.support, c._DependentProperty) and D.Uniform.support.event_dim == 0
    assert repr(D.Uniform(0.0, 2.0).support) == "Interval(lower_bound=0.0, upper_bound=2.0)"
