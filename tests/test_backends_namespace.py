"""ember.backends is PyTorch's torch.backends (cudnn, cuda.matmul, mkldnn, mps, opt_einsum ...): every name's
default and return value against PyTorch's CPU build, setting and reading flags back, the flags() context
managers, the exception types, and that the submodules import both ways and lazily. The array backends moved
to ember._backends, and the old names must not come back there."""
import subprocess
import sys

import pytest

import ember
import ember.backends.cudnn
from ember import backends as B

SUBMODULES = ("cpu", "cuda", "cudnn", "cusparselt", "kleidiai", "mha", "miopen", "mkl", "mkldnn", "mps", "nnpack",
              "openmp", "opt_einsum")

# Where ember answers differently from PyTorch's CPU build, and why: these libraries are linked into
# PyTorch's build but ember's kernels (NumPy array code) use none of them, so code that checks before
# taking a library-specific path (`x.to_mkldnn()`, mkl.verbose ...) takes the generic one.
EMBER_ONLY = {
    "mkldnn.is_available()": False, "mkl.is_available()": False, "openmp.is_available()": False,
    "nnpack.is_available()": False,
    "mkldnn.allow_tf32": False,         # PyTorch 2.13's getter returns None (its binding returns nothing)
}

# Every query and flag, as an expression on the backends module; ember must give PyTorch's value.
QUERIES = (
    "cudnn.is_available()", "cudnn.version()", "cudnn.enabled", "cudnn.benchmark", "cudnn.deterministic",
    "cudnn.allow_tf32", "cudnn.benchmark_limit", "cudnn.depthwise_kernel",
    "mps.is_available()", "mps.is_built()",
    "cuda.is_built()", "cuda.matmul.allow_tf32", "cuda.matmul.allow_fp16_reduced_precision_reduction",
    "cuda.matmul.allow_bf16_reduced_precision_reduction", "cuda.matmul.allow_fp16_reduced_precision_reduction_split_k",
    "cuda.matmul.allow_bf16_reduced_precision_reduction_split_k", "cuda.matmul.allow_fp16_accumulation",
    "cuda.flash_sdp_enabled()", "cuda.mem_efficient_sdp_enabled()", "cuda.math_sdp_enabled()",
    "cuda.cudnn_sdp_enabled()", "cuda.fp16_bf16_reduction_math_sdp_allowed()",
    "cuda.is_flash_attention_available()", "cuda.is_ck_sdpa_available()",
    "repr(cuda.preferred_linalg_library())", "repr(cuda.preferred_blas_library())",
    "mkldnn.is_acl_available()", "mkldnn.enabled", "mkldnn.deterministic",
    "mkldnn.VERBOSE_OFF", "mkldnn.VERBOSE_ON", "mkldnn.VERBOSE_ON_CREATION", "mkl.VERBOSE_OFF", "mkl.VERBOSE_ON",
    "opt_einsum.is_available()", "opt_einsum.enabled", "opt_einsum.strategy", "opt_einsum.get_opt_einsum() is None",
    "cpu.get_cpu_capability()", "mha.get_fastpath_enabled()", "miopen.immediate",
    "cusparselt.is_available()", "cusparselt.version()", "cusparselt.get_max_alg_id()", "kleidiai.is_available()",
    "flags_frozen()",
) + tuple(EMBER_ONLY)

# (module, flag, PyTorch's setter name in its error message)
BOOL_FLAGS = (("cudnn", "enabled", "set_enabled_cudnn"), ("cudnn", "benchmark", "set_benchmark_cudnn"),
              ("cudnn", "deterministic", "set_deterministic_cudnn"), ("cudnn", "allow_tf32", None),
              ("mkldnn", "enabled", "set_enabled_mkldnn"), ("mkldnn", "deterministic", "set_deterministic_mkldnn"),
              ("mkldnn", "allow_tf32", "_set_onednn_allow_tf32"), ("miopen", "immediate", "set_immediate_miopen"))


def _snapshot():
    """Everything a test here may change, in ember and (when installed) PyTorch, to put back afterwards."""
    mods = [B.cudnn, B.mkldnn, B.miopen]
    saved = [(m, dict(m._state)) for m in mods]
    cuda = B.cuda
    extra = (dict(cuda._sdp), dict(cuda._preferred), dict(cuda.cuBLASModule._reduced),
             list(cuda.cuBLASModule._fp16_accumulation), ember.get_float32_matmul_precision(),
             B.mha.get_fastpath_enabled(), B.nnpack._nnpack_enabled, B.opt_einsum.enabled, B.opt_einsum.strategy,
             B.cudnn.benchmark_limit)
    return saved, extra


def _restore(snapshot):
    saved, extra = snapshot
    for module, state in saved:
        module._state.clear()
        module._state.update(state)
    cuda = B.cuda
    cuda._sdp.update(extra[0])
    cuda._preferred.update(extra[1])
    cuda.cuBLASModule._reduced.update(extra[2])
    cuda.cuBLASModule._fp16_accumulation[:] = extra[3]
    ember.set_float32_matmul_precision(extra[4])
    B.mha.set_fastpath_enabled(extra[5])
    B.nnpack._nnpack_enabled = extra[6]
    B.opt_einsum.enabled, B.opt_einsum.strategy = extra[7], extra[8]
    B.cudnn.benchmark_limit = extra[9]
    B._frozen = False


def _torch_snapshot(torch):
    T = torch.backends
    return {"cudnn": {n: getattr(T.cudnn, n) for n in ("enabled", "benchmark", "deterministic", "allow_tf32",
                                                        "depthwise_kernel")},
            "mkldnn": {n: getattr(T.mkldnn, n) for n in ("enabled", "deterministic")},
            "miopen": {"immediate": T.miopen.immediate},
            "sdp": [T.cuda.flash_sdp_enabled(), T.cuda.mem_efficient_sdp_enabled(), T.cuda.math_sdp_enabled(),
                    T.cuda.cudnn_sdp_enabled(), T.cuda.fp16_bf16_reduction_math_sdp_allowed()],
            "matmul": (T.cuda.matmul.allow_fp16_reduced_precision_reduction,
                       T.cuda.matmul.allow_fp16_reduced_precision_reduction_split_k,
                       T.cuda.matmul.allow_bf16_reduced_precision_reduction,
                       T.cuda.matmul.allow_bf16_reduced_precision_reduction_split_k, T.cuda.matmul.allow_tf32),
            "mha": T.mha.get_fastpath_enabled(), "opt_einsum": (T.opt_einsum.enabled, T.opt_einsum.strategy)}


def _torch_restore(torch, saved):
    T = torch.backends
    for mod in ("cudnn", "mkldnn", "miopen"):
        for name, value in saved[mod].items():
            setattr(getattr(T, mod), name, value)
    for fn, value in zip((T.cuda.enable_flash_sdp, T.cuda.enable_mem_efficient_sdp, T.cuda.enable_math_sdp,
                          T.cuda.enable_cudnn_sdp, T.cuda.allow_fp16_bf16_reduction_math_sdp), saved["sdp"]):
        fn(value)
    fp16, fp16_k, bf16, bf16_k, tf32 = saved["matmul"]
    T.cuda.matmul.allow_fp16_reduced_precision_reduction = (fp16, fp16_k)
    T.cuda.matmul.allow_bf16_reduced_precision_reduction = (bf16, bf16_k)
    T.cuda.matmul.allow_tf32 = tf32
    T.mha.set_fastpath_enabled(saved["mha"])
    T.opt_einsum.enabled, T.opt_einsum.strategy = saved["opt_einsum"]


@pytest.fixture(autouse=True)
def restore_flags():
    snapshot = _snapshot()
    try:
        import torch
    except ImportError:
        torch = None
    torch_saved = _torch_snapshot(torch) if torch is not None else None
    yield
    _restore(snapshot)
    if torch is not None:
        _torch_restore(torch, torch_saved)


def _value(module, expr):
    try:
        return eval(expr, {**{n: getattr(module, n) for n in SUBMODULES}, "flags_frozen": module.flags_frozen})
    except Exception as exc:                           # noqa: BLE001 - the exception type is the answer
        return type(exc).__name__


# --- defaults and return values ---------------------------------------------------------------------------------

def test_defaults_without_torch():
    assert B.cudnn.is_available() is False and B.cudnn.version() is None
    assert (B.cudnn.enabled, B.cudnn.benchmark, B.cudnn.deterministic, B.cudnn.allow_tf32) == (True, False, False, True)
    assert B.mps.is_available() is False and B.mps.is_built() is False
    assert B.cuda.matmul.allow_tf32 is False and B.cuda.matmul.allow_fp16_reduced_precision_reduction is True
    assert B.cuda.flash_sdp_enabled() and B.cuda.math_sdp_enabled() and not B.cuda.is_flash_attention_available()
    assert B.mkldnn.enabled is True and B.mkldnn.is_available() is False
    assert B.openmp.is_available() is False and B.mkl.is_available() is False
    assert B.opt_einsum.enabled is B.opt_einsum.is_available()
    assert B.cpu.get_cpu_capability() in ("AVX512", "AVX2", "NO AVX", "VSX", "Z VECTOR", "DEFAULT")
    assert repr(B.cuda.preferred_linalg_library()) == "<_LinalgBackend.Default: 0>"
    assert B.flags_frozen() is False


@pytest.mark.parametrize("expr", QUERIES)
def test_value_matches_torch(torch, expr):
    ours = _value(B, expr)
    if expr in EMBER_ONLY:
        assert ours == EMBER_ONLY[expr]
        return
    assert ours == _value(torch.backends, expr)


def test_every_torch_submodule_is_covered_or_known(torch):
    import pkgutil
    theirs = {m.name for m in pkgutil.iter_modules(torch.backends.__path__) if not m.name.startswith("_")}
    not_in_ember = {"quantized", "python_native", "xeon", "xnnpack"}      # quantization, DSL dispatch, scripts
    assert theirs - not_in_ember == set(SUBMODULES)


def test_mps_queries_that_need_mps_raise(torch):
    for module in (B, torch.backends):
        with pytest.raises(RuntimeError, match="without MPS backend"):
            module.mps.is_macos13_or_newer()
        with pytest.raises(RuntimeError, match="without MPS backend"):
            module.mps.is_macos_or_newer(14, 0)
        with pytest.raises(AttributeError):
            module.mps.get_name()
        with pytest.raises(AttributeError):
            module.mps.get_core_count()


def test_cudnn_is_acceptable(torch):
    assert B.cudnn.is_acceptable(ember.zeros(2)) is False
    assert torch.backends.cudnn.is_acceptable(torch.zeros(2)) is False
    assert B.cudnn.CUDNN_TENSOR_DTYPES == {ember.float16, ember.float32, ember.float64}
    B.cudnn.enabled = False
    assert B.cudnn.is_acceptable(ember.zeros(2)) is False


# --- flags: set, read back, checked ----------------------------------------------------------------------------

@pytest.mark.parametrize("module,name,setter", BOOL_FLAGS)
def test_bool_flag_reads_back(module, name, setter):
    mod = getattr(B, module)
    start = getattr(mod, name)
    setattr(mod, name, not start)
    assert getattr(mod, name) is (not start)
    assert getattr(ember.backends, module) is sys.modules[f"ember.backends.{module}"]
    setattr(mod, name, start)
    assert getattr(mod, name) is start
    for bad in (1, None, "yes"):
        with pytest.raises(RuntimeError, match="expects a bool, but got"):
            setattr(mod, name, bad)
    assert getattr(mod, name) is start                 # a refused value changes nothing


@pytest.mark.parametrize("module,name,setter", BOOL_FLAGS)
def test_bool_flag_errors_match_torch(torch, module, name, setter):
    np = pytest.importorskip("numpy")
    for bad in (1, np.bool_(True)):
        with pytest.raises(RuntimeError, match="expects a bool, but got") as theirs:
            setattr(getattr(torch.backends, module), name, bad)
        with pytest.raises(RuntimeError, match="expects a bool, but got") as ours:
            setattr(getattr(B, module), name, bad)
        if setter is not None:
            assert str(ours.value) == str(theirs.value)


def test_cudnn_benchmark_as_programs_set_it(torch):
    ember.backends.cudnn.benchmark = True
    torch.backends.cudnn.benchmark = True
    assert ember.backends.cudnn.benchmark is torch.backends.cudnn.benchmark is True
    from ember.backends.cudnn import benchmark
    assert benchmark is True


def test_cudnn_deterministic_is_apart_from_use_deterministic_algorithms(torch):
    for module in (ember, torch):
        module.backends.cudnn.deterministic = True
        assert module.are_deterministic_algorithms_enabled() is False
        module.backends.cudnn.deterministic = False
        module.use_deterministic_algorithms(True)
        try:
            assert module.backends.cudnn.deterministic is False
        finally:
            module.use_deterministic_algorithms(False)


def test_depthwise_kernel_and_benchmark_limit(torch):
    for module in (B, torch.backends):
        module.cudnn.depthwise_kernel = "native"
        assert module.cudnn.depthwise_kernel == "native"
        with pytest.raises(RuntimeError, match="Unknown cuDNN depthwise kernel mode: AUTO. Expected one of: auto, "
                                               "cudnn, native"):
            module.cudnn.depthwise_kernel = "AUTO"
        with pytest.raises(RuntimeError, match="set_cudnn_depthwise_kernel expects a string, but got int"):
            module.cudnn.depthwise_kernel = 1
        module.cudnn.depthwise_kernel = "auto"
        module.cudnn.benchmark_limit = 5                # a plain attribute without cuDNN
        assert module.cudnn.benchmark_limit == 5


def test_cudnn_flags_context_manager(torch):
    for module in (B, torch.backends):
        module.cudnn.benchmark = True
        with module.cudnn.flags():                      # PyTorch's defaults: cuDNN off, benchmark off
            inside = (module.cudnn.enabled, module.cudnn.benchmark, module.cudnn.deterministic,
                      module.cudnn.allow_tf32)
        assert inside == (False, False, False, True)
        assert (module.cudnn.enabled, module.cudnn.benchmark) == (True, True)
        with module.cudnn.flags(enabled=True, deterministic=True):
            assert module.cudnn.deterministic is True
        assert module.cudnn.deterministic is False
        with pytest.raises(RuntimeError, match="expects a bool"):
            with module.cudnn.flags(enabled=1):
                pass
        assert module.cudnn.enabled is True
        module.cudnn.benchmark = False
    assert B.cudnn.set_flags() == torch.backends.cudnn.set_flags()


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN:UserWarning")
def test_mkldnn_flags(torch):
    for module in (B, torch.backends):
        with module.mkldnn.flags():
            assert (module.mkldnn.enabled, module.mkldnn.deterministic) == (False, False)
        assert module.mkldnn.enabled is True
        with module.mkldnn.flags(enabled=True, deterministic=True):
            assert module.mkldnn.deterministic is True
        assert module.mkldnn.deterministic is False


def test_miopen_and_nnpack_flags(torch):
    for module in (B, torch.backends):
        assert module.miopen.set_flags() == (False,)
        with module.miopen.flags(immediate=True):
            assert module.miopen.immediate is True
        assert module.miopen.immediate is False
        assert module.nnpack.set_flags(True) == (True,)
        with pytest.raises(RuntimeError, match="set_enabled_NNPACK expects a bool, but got int"):
            module.nnpack.set_flags(1)
        with module.nnpack.flags():
            assert module.nnpack.set_flags(False) == (False,)
        assert module.nnpack.set_flags(True) == (True,)


def test_disable_global_flags():
    assert B.flags_frozen() is False
    B.disable_global_flags()
    assert B.flags_frozen() is True
    with pytest.raises(RuntimeError, match="not allowed to set ember.backends.cudnn flags after "
                                           "disable_global_flags; please use flags\\(\\) context manager"):
        B.cudnn.benchmark = True
    with B.cudnn.flags(enabled=True, benchmark=True):
        assert B.cudnn.benchmark is True
    assert B.cudnn.benchmark is False and B.flags_frozen() is True


# --- cuda.matmul ----------------------------------------------------------------------------------------------

def test_matmul_allow_tf32_is_float32_matmul_precision(torch):
    for module in (ember, torch):
        matmul = module.backends.cuda.matmul
        matmul.allow_tf32 = True
        assert module.get_float32_matmul_precision() == "high"
        matmul.allow_tf32 = False
        assert module.get_float32_matmul_precision() == "highest"
        module.set_float32_matmul_precision("medium")
        assert matmul.allow_tf32 is True
        module.set_float32_matmul_precision("highest")
        assert matmul.allow_tf32 is False


def test_matmul_reduced_precision_settings(torch):
    for module in (B, torch.backends):
        matmul = module.cuda.matmul
        matmul.allow_fp16_reduced_precision_reduction = False
        assert (matmul.allow_fp16_reduced_precision_reduction,
                matmul.allow_fp16_reduced_precision_reduction_split_k) == (False, True)
        matmul.allow_bf16_reduced_precision_reduction = (False, False)
        assert (matmul.allow_bf16_reduced_precision_reduction,
                matmul.allow_bf16_reduced_precision_reduction_split_k) == (False, False)
        with pytest.raises(RuntimeError, match="allow_splitk=False is not supported when reduced precision"):
            matmul.allow_bf16_reduced_precision_reduction = (True, False)
        assert matmul.allow_bf16_reduced_precision_reduction_split_k is False
        matmul.allow_fp16_accumulation = True
        assert matmul.allow_fp16_accumulation is True
        matmul.allow_fp16_accumulation = False
        for bad, words in ((1, "expects a bool or a tuple/list of bools"), ((), "at least one boolean"),
                           ((True, True, True), "at most two boolean"), ((1,), "expects a bool for "
                                                                          "allow_reduced_precision")):
            with pytest.raises(TypeError, match=words):
                matmul.allow_fp16_reduced_precision_reduction = bad
        with pytest.raises(RuntimeError, match="set_allow_tf32_cublas expects a bool, but got str"):
            matmul.allow_tf32 = "yes"
        with pytest.raises(AttributeError, match="Unknown attribute foo"):
            matmul.foo = 1
        with pytest.raises(AttributeError, match="Unknown attribute foo"):
            getattr(matmul, "foo")
        assert not hasattr(matmul, "bar")


# --- scaled-dot-product attention switches ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ("flash", "mem_efficient", "math", "cudnn"))
def test_sdp_switches(torch, name):
    for module in (B, torch.backends):
        enable, enabled = getattr(module.cuda, f"enable_{name}_sdp"), getattr(module.cuda, f"{name}_sdp_enabled")
        enable(False)
        assert enabled() is False
        enable(True)
        assert enabled() is True
        with pytest.raises(RuntimeError, match="expects a bool, but got"):
            enable(1)
    B.cuda.allow_fp16_bf16_reduction_math_sdp(True)
    assert B.cuda.fp16_bf16_reduction_math_sdp_allowed() is True


def test_sdp_kernel_is_deprecated_and_restores(torch):
    for module in (B, torch.backends):
        module.cuda.enable_math_sdp(False)
        with pytest.warns(FutureWarning, match="sdp_kernel\\(\\)` is deprecated"):
            manager = module.cuda.sdp_kernel(enable_flash=False, enable_mem_efficient=False)
        with manager as context:
            assert context == {}
            assert (module.cuda.flash_sdp_enabled(), module.cuda.mem_efficient_sdp_enabled(),
                    module.cuda.math_sdp_enabled(), module.cuda.cudnn_sdp_enabled()) == (False, False, True, True)
        assert (module.cuda.flash_sdp_enabled(), module.cuda.math_sdp_enabled()) == (True, False)
        module.cuda.enable_math_sdp(True)


def _attention_outcomes(module, flash, math):
    F = module.nn.functional
    module.backends.cuda.enable_flash_sdp(flash)
    module.backends.cuda.enable_math_sdp(math)
    try:
        outcomes = []
        for shape, dropout in (((1, 2, 4, 8), 0.0), ((2, 4, 8), 0.0)):
            q = module.ones(shape, requires_grad=True)
            try:
                out = F.scaled_dot_product_attention(q, q, q, dropout_p=dropout)
            except RuntimeError as exc:
                outcomes.append(str(exc).split(".")[0])
            else:
                outcomes.append(type(out.grad_fn).__name__ == "ScaledDotProductFlashAttentionForCpuBackward0")
        return outcomes
    finally:
        module.backends.cuda.enable_flash_sdp(True)
        module.backends.cuda.enable_math_sdp(True)


@pytest.mark.filterwarnings("ignore::UserWarning")      # PyTorch explains why its flash kernel was not used
@pytest.mark.parametrize("flash,math", ((True, True), (False, True), (True, False), (False, False)))
def test_sdpa_follows_the_switches(torch, flash, math):
    ours = _attention_outcomes(ember, flash, math)
    assert ours == _attention_outcomes(torch, flash, math)
    expected = {(True, True): [True, False], (False, True): [False, False],
                (True, False): [True, "No available kernel"],
                (False, False): ["No viable backend for scaled_dot_product_attention was found"] * 2}
    assert ours == expected[(flash, math)]


# --- preferred libraries ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", ("preferred_linalg_library('default')", "preferred_linalg_library('cusolver')",
                                  "preferred_linalg_library('magma')", "preferred_linalg_library('foo')",
                                  "preferred_linalg_library(3)", "preferred_blas_library('cublas')",
                                  "preferred_blas_library('hipblas')", "preferred_blas_library('cublaslt')",
                                  "preferred_blas_library('x')", "preferred_blas_library(5)",
                                  "preferred_blas_library('default')"))
def test_preferred_libraries_match_torch(torch, call):
    def run(cuda):
        try:
            return repr(eval(call, {"preferred_linalg_library": cuda.preferred_linalg_library,
                                    "preferred_blas_library": cuda.preferred_blas_library}))
        except Exception as exc:                       # noqa: BLE001 - the exception is the answer
            return type(exc).__name__, str(exc)
    if "cusolver" in call and B.cuda.is_built():
        pytest.skip("CuPy is installed: ember's CUDA backend solves with cuSOLVER")
    assert run(B.cuda) == run(torch.backends.cuda)


def test_preferred_library_enums():
    assert B.cuda.preferred_blas_library("default") is B.cuda._BlasBackend.Cublas
    assert B.cuda.preferred_linalg_library(B.cuda._LinalgBackend.Default) is B.cuda._LinalgBackend.Default
    assert str(B.cuda._LinalgBackend.Default) == "_LinalgBackend.Default" and int(B.cuda._BlasBackend.Ck) == 3
    with pytest.raises(RuntimeError, match="Unknown input value. Choose from: default, cusolver, magma."):
        B.cuda.preferred_linalg_library("foo")


# --- opt_einsum, mha, verbose ------------------------------------------------------------------------------------

def test_opt_einsum_flags(torch):
    for module in (B, torch.backends):
        oe = module.opt_einsum
        assert oe.set_flags() == (oe.is_available(), "auto" if oe.is_available() else None)
        if not oe.is_available():
            with pytest.raises(ValueError, match="opt_einsum is not available, so setting `enabled` to True"):
                oe.set_flags(True)
            with pytest.raises(ValueError, match="opt_einsum is not available, so setting `strategy` to greedy"):
                oe.set_flags(None, "greedy")
            with pytest.raises(ValueError, match="opt_einsum is not available"):
                with oe.flags(enabled=True):
                    pass
        else:
            with pytest.raises(ValueError, match="`strategy` must be one of the following"):
                oe.set_flags(None, "fast")
        with oe.flags(enabled=False):
            assert oe.enabled is False
        assert oe.enabled is oe.is_available()
        oe.enabled = True                             # a plain attribute: assignment is not checked
        assert oe.enabled is True


def test_mha_fastpath_flag(torch):
    for module in (B, torch.backends):
        module.mha.set_fastpath_enabled(False)
        assert module.mha.get_fastpath_enabled() is False
        module.mha.set_fastpath_enabled(True)
        assert module.mha.get_fastpath_enabled() is True


def test_verbose_without_the_library():
    with B.mkl.verbose(B.mkl.VERBOSE_OFF), B.mkldnn.verbose(B.mkldnn.VERBOSE_OFF):
        pass
    with pytest.raises(AssertionError, match="Failed to set MKL into verbose mode"):
        with B.mkl.verbose(B.mkl.VERBOSE_ON):
            pass
    with pytest.raises(AssertionError, match="Failed to set MKLDNN into verbose mode"):
        with B.mkldnn.verbose(B.mkldnn.VERBOSE_ON):
            pass


def test_cpu_capability_matches_torch(torch):
    assert B.cpu.get_cpu_capability() == torch.backends.cpu.get_cpu_capability()


# --- imports ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SUBMODULES)
def test_submodules_import_both_ways(name):
    import importlib
    module = importlib.import_module(f"ember.backends.{name}")
    assert getattr(ember.backends, name) is module
    assert module.__name__ == f"ember.backends.{name}"
    assert module.__doc__
    assert name in dir(ember.backends)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        getattr(ember.backends, "nope")


def test_import_ember_loads_no_backend_submodule():
    code = ("import sys, ember; print(sorted(m for m in sys.modules if m.startswith('ember.backends.')));"
            "ember.backends.cudnn.benchmark = True; import ember.backends.cudnn as c; print(c.benchmark)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True"]


def test_array_backends_are_private():
    import ember._backends as private
    import ember._backends.meta
    assert private.backend_for(ember.device("cpu")).name == "cpu"
    assert not hasattr(ember.backends, "backend_for")
    assert ember._backends.meta.xp.__name__ == "ember._backends.meta.xp"

