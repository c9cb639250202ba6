"""
How many CPUs this process may use, counted the way native/rlhf_ops.cc sizes its kernels' thread pool (and
src/bench/build-info.ts's usableCpus() counts for the report): the affinity mask (os.sched_getaffinity), capped
by the cgroup CPU quota rounded up (cgroup v2 cpu.max, else v1 cpu.cfs_quota_us / cpu.cfs_period_us). A
container held to 2 CPUs on a 64-core host gets 2, not 64.

e.g. affinity {0, 1, 2, 3} and cpu.max "150000 100000" -> min(4, ceil(1.5)) = 2.

Does: count. Does NOT: set any thread count (trl_bench.py does), or read RLHF_NATIVE_THREADS (our addon's own
override; the TRL side has none).
"""
import os

CGROUP_FILES = ("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _read(path):
    try:
        with open(path) as f:
            return f.read().split()
    except OSError:
        return None


def quota_cpus(max_path=CGROUP_FILES[0], quota_path=CGROUP_FILES[1], period_path=CGROUP_FILES[2]):
    """CPUs allowed by the cgroup quota, rounded up; 0 when there is no quota (or no cgroup files)."""
    quota, period = -1, 0
    v2 = _read(max_path)
    if v2 is not None:  # cgroup v2: "max 100000" or "200000 100000"
        if len(v2) == 2 and v2[0] != "max":
            quota, period = int(v2[0]), int(v2[1])
    else:  # cgroup v1: a quota of -1 means none
        q, p = _read(quota_path), _read(period_path)
        if q and p:
            quota, period = int(q[0]), int(p[0])
    if quota <= 0 or period <= 0:
        return 0
    return (quota + period - 1) // period


def affinity_cpus():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def usable_cpus():
    n = affinity_cpus()
    q = quota_cpus()
    return max(1, min(n, q) if q > 0 else n)
