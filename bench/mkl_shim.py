"""
Whether this process's MKL takes its Intel code path because src/bench/mkl-shim.ts's library is preloaded
(`rlhf bench --torch-mkl-intel-path`): that library defines MKL's vendor query, mkl_serv_intel_cpu_true, to
return 1. torch's own build does not make the symbol visible to a global lookup, so it resolves (and returns 1)
only when a preloaded library defines it.

e.g. LD_PRELOAD=.../librlhf_mkl_intel_path.so python -c "from mkl_shim import mkl_shim_loaded; print(mkl_shim_loaded())" -> True

Does: look the symbol up. Does NOT: load anything or change MKL's choice itself (the preload does).
"""
import ctypes


def mkl_shim_loaded():
    try:
        return bool(ctypes.CDLL(None).mkl_serv_intel_cpu_true())
    except AttributeError:
        return False
