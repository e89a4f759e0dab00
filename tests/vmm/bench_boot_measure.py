#!/usr/bin/env python3
# bench_boot_measure.py NAME -- VMM ARGS...: runs one VMM, prints the time
# from exec to the guest init's marker on the serial console, the VMM's
# RSS beyond guest RAM at that moment, and the exit status.
#
# Guest RAM is memfd-backed for both VMMs (QEMU gets a memory-backend-memfd),
# so it shows up as RssShmem and "overhead" = RssAnon + RssFile is the VMM's
# own memory: code, heap, thread stacks, device state.  The VMM is the
# direct child (no wrapper), so /proc/PID is the VMM itself.
# FERRY_BENCH_LOG=PATH saves the guest console there.
import os
import subprocess
import sys
import time

MARKER = b"FERRY-GUEST-INIT-MARKER"


def rss_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssFile", "RssShmem", "VmRSS"):
                fields[k] = int(v.split()[0])
    return fields


TIMEOUT = 600


def main():
    name = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    log = open(os.environ["FERRY_BENCH_LOG"], "wb") if "FERRY_BENCH_LOG" in os.environ \
        else None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    # A hung guest must not hang the benchmark.
    import threading
    killer = threading.Timer(TIMEOUT, p.kill)
    killer.start()
    t_marker = None
    rss = None
    for line in p.stdout:
        if log:
            log.write(line)
        if t_marker is None and MARKER in line:
            t_marker = time.monotonic() - t0
            try:
                rss = rss_kib(p.pid)
            except OSError:
                rss = None
    rc = p.wait()
    killer.cancel()
    t_exit = time.monotonic() - t0
    if t_marker is None or rss is None:
        print(f"BENCH {name} marker=none exit={rc} wall={t_exit:.2f}")
        return 1
    overhead = rss["RssAnon"] + rss["RssFile"]
    print(f"BENCH {name} marker={t_marker:.2f} overhead_kib={overhead} "
          f"anon_kib={rss['RssAnon']} file_kib={rss['RssFile']} "
          f"shmem_kib={rss['RssShmem']} exit={rc} wall={t_exit:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
