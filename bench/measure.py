"""
Runs one command and measures it the same way for both sides of the end-to-end benchmark (src/bench/e2e.ts):
wall time from just before the process is started to the moment it has exited (os.wait4 returns), and the
kernel's accounting of that process from the same wait4 call: user and system CPU seconds and the peak resident
set size (ru_maxrss, KiB on Linux: the largest of the process and the children it waited for).

  python bench/measure.py RESULT.json -- COMMAND [ARGS...]

The command inherits stdin, stdout and stderr (the caller reads its output as if it had started it); RESULT.json
gets {"wall_s", "user_s", "sys_s", "cpu_s", "max_rss_mib", "exit_code", "signal"} once it has exited. SIGINT and
SIGTERM are passed on to it. This script's own start-up (Python's) happens before the clock starts.

Does: start, wait, measure. Does NOT: time phases inside the command (each side reports its own).
"""
import json
import os
import signal
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write("usage: python bench/measure.py RESULT.json -- COMMAND [ARGS...]\n")
        return 2
    result_file, cmd = sys.argv[1], sys.argv[3:]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    while True:
        try:
            _, status, usage = os.wait4(child.pid, 0)
            break
        except InterruptedError:
            continue
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    out = {
        "wall_s": round(wall, 3),
        "user_s": round(usage.ru_utime, 3),
        "sys_s": round(usage.ru_stime, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "exit_code": code if code >= 0 else None,
        "signal": -code if code < 0 else None,
    }
    with open(result_file, "w") as f:
        json.dump(out, f)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
