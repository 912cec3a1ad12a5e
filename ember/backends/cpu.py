"""torch.backends.cpu: the SIMD level of this CPU, as PyTorch names it. NumPy reads the same CPU features
when it picks its own SIMD kernels at run time, and ember asks NumPy."""
import platform

__all__ = ["get_cpu_capability"]


def _cpu_features():
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:                        # NumPy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return {}
    return __cpu_features__


def get_cpu_capability():
    """The CPU's vector capability as a string: on x86 "AVX512" (AVX-512 VL, BW and DQ with FMA3), "AVX2"
    (with FMA3) or "NO AVX"; "VSX" on POWER, "Z VECTOR" on s390x; otherwise "DEFAULT"."""
    has = _cpu_features().get
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i386", "i686", "x86"):
        if has("AVX512VL") and has("AVX512BW") and has("AVX512DQ") and has("FMA3"):
            return "AVX512"
        if has("AVX2") and has("FMA3"):
            return "AVX2"
        return "NO AVX"
    if machine.startswith("ppc64") and has("VSX"):
        return "VSX"
    if machine == "s390x" and has("VX"):
        return "Z VECTOR"
    return "DEFAULT"
