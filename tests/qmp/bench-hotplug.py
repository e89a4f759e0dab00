#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench-hotplug.py: the measuring half of tests/qmp/bench-hotplug.

  bench-hotplug.py run --vmm qemu|ferry --bdf BDF --kernel K --initrd I [...]
      (inside the lab) boots one VMM whose guest runs bench-hotplug-guest,
      then hot-plugs and unplugs BDF --cycles times through QMP.  Prints one
      BENCH-CYCLE line per cycle and a final BENCH-RESULT line (JSON).
  bench-hotplug.py report LOG
      (on the host) reads the BENCH-RESULT lines of LOG and prints the table:
      medians per VMM and the ferry/QEMU ratio of each metric.

Every time is taken on the host side (the lab host: where the VMM and this
client run) with time.monotonic(), by the thread that receives the bytes:
the console is the VMM's stdout (a pipe), read by one thread; the QMP socket
by another.  Both VMMs are measured by the same code in the same way.
"""
import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time

DEV_ID = "hp0"
CAL_LINES = 10		# BENCH-CAL lines the guest prints (bench-hotplug-guest.c)

# The VMMs, in the table's order, with their column titles.
VMMS = ["qemu", "qemu-acpi", "ferry"]
TITLES = {"qemu": "QEMU pciehp", "qemu-acpi": "QEMU ACPI", "ferry": "ferry ACPI"}

# (key, label) of each metric, in the table's order.
METRICS = [
    ("add_return", "device_add: QMP return"),
    ("add_seen", "device_add: guest sees the device"),
    ("del_return", "device_del: QMP return"),
    ("del_gone", "device_del: guest loses the device"),
    ("del_event", "device_del: DEVICE_DELETED"),
]


class BenchError(Exception):
    pass


class Console:
    """The guest's serial console: lines with the host time of their arrival."""

    def __init__(self, fd, log):
        self.lines = queue.Queue()
        self.log = log
        self.thread = threading.Thread(target=self._read, args=(fd,), daemon=True)
        self.thread.start()

    def _read(self, fd):
        buf = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            now = time.monotonic()
            if not data:
                if buf:
                    self.lines.put((now, buf.decode(errors="replace")))
                self.lines.put((now, None))
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.put((now, line.rstrip(b"\r").decode(errors="replace")))

    def wait(self, prefix, timeout):
        """(time, line) of the next line starting with prefix."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("no '%s' on the guest console within %d s" % (prefix, timeout))
            try:
                t, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise BenchError("the VMM closed its console (exited?) while waiting for '%s'"
                                 % prefix)
            self.log.write("%.6f console: %s\n" % (t, line))
            if line.startswith(prefix):
                return t, line


class Qmp:
    """A minimal QMP client: replies and events, each with its arrival time."""

    def __init__(self, path, timeout, log):
        self.log = log
        self.replies = queue.Queue()
        self.events = queue.Queue()
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError as e:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise BenchError("cannot connect to the QMP socket %s: %s" % (path, e))
                time.sleep(0.05)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        _, greeting = self._reply(timeout)
        if "QMP" not in greeting:
            raise BenchError("no QMP greeting: %r" % greeting)
        _, _, r = self.command("qmp_capabilities")
        if "return" not in r:
            raise BenchError("qmp_capabilities failed: %r" % r)

    def _read(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            now = time.monotonic()
            if not data:
                self.replies.put((now, None))
                self.events.put((now, None))
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                self.log.write("%.6f qmp<: %s\n" % (now, line.decode(errors="replace").rstrip()))
                msg = json.loads(line)
                (self.events if "event" in msg else self.replies).put((now, msg))

    def _reply(self, timeout):
        try:
            t, msg = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise BenchError("no QMP reply within %d s" % timeout)
        if msg is None:
            raise BenchError("the QMP connection closed")
        return t, msg

    def command(self, name, arguments=None, timeout=120):
        """(time sent, time answered, reply)."""
        cmd = {"execute": name}
        if arguments is not None:
            cmd["arguments"] = arguments
        data = (json.dumps(cmd) + "\n").encode()
        t0 = time.monotonic()
        self.sock.sendall(data)
        # Written after the send (the reply's line, from the reader thread,
        # may come first in the log; the times tell the order).
        self.log.write("%.6f qmp>: %s" % (t0, data.decode()))
        t1, msg = self._reply(timeout)
        return t0, t1, msg

    def wait_event(self, name, device, timeout):
        """(time, event) of the next event name whose data.device is device."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("no %s event within %d s" % (name, timeout))
            try:
                t, msg = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if msg is None:
                raise BenchError("the QMP connection closed while waiting for %s" % name)
            if msg["event"] == name and msg.get("data", {}).get("device") == device:
                return t, msg


def vmm_command(a):
    append = "console=ttyS0 panic=-1 quiet"
    if a.vmm in ("qemu", "qemu-acpi"):
        # qemu: PCIe native hot-plug (ACPI hot-plug of bridges off, so the
        # guest's pciehp drives the root port's slot).  qemu-acpi: q35's
        # default since QEMU 6.1, ACPI hot-plug on the root port (the guest's
        # acpiphp), the mechanism ferry uses.
        acpi = "on" if a.vmm == "qemu-acpi" else "off"
        return [a.qemu, "-accel", "kvm", "-M", "q35", "-cpu", "host",
                "-m", str(a.mem), "-smp", "1", "-nodefaults", "-no-user-config",
                "-display", "none", "-no-reboot", "-serial", "stdio",
                "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=" + acpi,
                "-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1",
                "-kernel", a.kernel, "-initrd", a.initrd, "-append", append,
                "-qmp", "unix:%s,server=on,wait=off" % a.qmp]
    return [a.ferry, "-kernel", a.kernel, "-initrd", a.initrd, "-append", append,
            "-nographic", "-no-reboot", "-m", "%dM" % a.mem,
            "-qmp", "unix:%s,server=on,wait=off" % a.qmp]


def device_args(a):
    if a.vmm != "ferry":
        return {"driver": "vfio-pci", "host": a.bdf, "bus": "rp0", "id": DEV_ID}
    return {"driver": "passthrough", "host": a.bdf, "id": DEV_ID}


def ms(t0, t1):
    return round((t1 - t0) * 1000.0, 3)


def one_cycle(a, qmp, con, n):
    r = {}
    t0, t1, rep = qmp.command("device_add", device_args(a))
    if "return" not in rep:
        raise BenchError("device_add failed: %s" % json.dumps(rep))
    r["add_return"] = ms(t0, t1)
    t2, line = con.wait("BENCH-SEEN", a.wait)
    r["add_seen"] = ms(t0, t2)
    time.sleep(a.settle)

    t0, t1, rep = qmp.command("device_del", {"id": DEV_ID})
    if "return" not in rep:
        raise BenchError("device_del failed: %s" % json.dumps(rep))
    r["del_return"] = ms(t0, t1)
    t2, _ = qmp.wait_event("DEVICE_DELETED", DEV_ID, a.wait)
    r["del_event"] = ms(t0, t2)
    t3, _ = con.wait("BENCH-GONE", a.wait)
    r["del_gone"] = ms(t0, t3)
    print("BENCH-CYCLE vmm=%s n=%d %s" % (a.vmm, n, " ".join(
        "%s=%.1f" % (k, r[k]) for k, _ in METRICS)), flush=True)
    time.sleep(a.settle)
    return r


def run(a):
    result = {"vmm": a.vmm, "cycles": [], "error": None, "boot_s": None,
              "console_line_ms": None}
    if os.path.exists(a.qmp):
        os.unlink(a.qmp)
    log = open(a.log, "w", buffering=1) if a.log else open(os.devnull, "w")
    cmd = vmm_command(a)
    print("bench-hotplug: %s: %s" % (a.vmm, " ".join(cmd)), flush=True)
    t_start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    con = Console(proc.stdout.fileno(), log)
    qmp = None
    try:
        cal = [con.wait("BENCH-CAL", a.boot_timeout)[0] for _ in range(CAL_LINES)]
        result["console_line_ms"] = round((cal[-1] - cal[0]) * 1000.0 / (CAL_LINES - 1), 3)
        t_ready, _ = con.wait("BENCH-READY", a.boot_timeout)
        result["boot_s"] = round(t_ready - t_start, 3)
        qmp = Qmp(a.qmp, 30, log)
        for n in range(1, a.cycles + 1):
            result["cycles"].append(one_cycle(a, qmp, con, n))
    except BenchError as e:
        result["error"] = str(e)
        print("bench-hotplug: %s: %s" % (a.vmm, e), flush=True)
    except (OSError, ValueError) as e:
        result["error"] = "%s: %s" % (type(e).__name__, e)
        print("bench-hotplug: %s: %s" % (a.vmm, result["error"]), flush=True)
    # quit, then SIGTERM, then SIGKILL: the next VMM needs the device back.
    try:
        if qmp:
            qmp.command("quit", timeout=10)
        proc.wait(timeout=20)
    except (BenchError, OSError, subprocess.TimeoutExpired):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    if result["error"] and a.log:
        # The tail of the console and QMP log says what the guest was doing.
        with open(a.log) as f:
            tail = f.readlines()[-40:]
        for line in tail:
            print("bench-hotplug: %s log: %s" % (a.vmm, line.rstrip()))
    print("BENCH-RESULT " + json.dumps(result), flush=True)
    return 0 if result["error"] is None else 1


def report(a):
    results = {}
    with open(a.logfile, errors="replace") as f:
        for line in f:
            line = line.strip().replace("\r", "")
            i = line.find("BENCH-RESULT ")
            if i >= 0:
                r = json.loads(line[i + len("BENCH-RESULT "):])
                results[r["vmm"]] = r
    if not results:
        print("bench-hotplug: no BENCH-RESULT in %s" % a.logfile, file=sys.stderr)
        return 1
    vmms = [v for v in VMMS if v in results]

    def values(vmm, key, first):
        r = results.get(vmm)
        if not r or not r["cycles"]:
            return []
        return [c[key] for c in (r["cycles"][:1] if first else r["cycles"])]

    def cell(v):
        if not v:
            return "n/a"
        if len(v) == 1:
            return "%.1f" % v[0]
        return "%.1f (%.1f-%.1f)" % (statistics.median(v), min(v), max(v))

    def ratio(base, key, first):
        q, f = values(base, key, first), values("ferry", key, first)
        if not q or not f or statistics.median(q) == 0:
            return "n/a"
        return "%.2f" % (statistics.median(f) / statistics.median(q))

    # The first device_add of a VM pays one-time costs (QEMU: the VFIO
    # container and the DMA mappings of all guest RAM), so it is shown alone
    # as well.
    rows = [(label, key, False) for key, label in METRICS]
    rows += [(dict(METRICS)[k] + ", first cycle only", k, True)
             for k in ("add_return", "add_seen")]
    bases = [v for v in ("qemu", "qemu-acpi") if v in vmms]
    if "ferry" not in vmms:
        bases = []
    print("| ms: median (min-max) | " +
          " | ".join([TITLES[v] for v in vmms] + ["ferry / " + TITLES[b] for b in bases]) + " |")
    print("| --- |" + " ---: |" * (len(vmms) + len(bases)))
    for label, key, first in rows:
        print("| %s | %s |" % (label, " | ".join([cell(values(v, key, first)) for v in vmms] +
                                                  [ratio(b, key, first) for b in bases])))
    print()
    for vmm in VMMS:
        r = results.get(vmm)
        if not r:
            print("- %s: not run" % TITLES[vmm])
            continue
        line_ms = r.get("console_line_ms")
        print("- %s: %d cycles; boot to the guest's BENCH-READY %s s; one marker line on the "
              "serial console %s ms%s" % (
                  TITLES[vmm], len(r["cycles"]),
                  r["boot_s"] if r["boot_s"] is not None else "n/a",
                  "%.2f" % line_ms if line_ms is not None else "n/a",
                  "; stopped: " + r["error"] if r["error"] else ""))
    return 0


def main():
    p = argparse.ArgumentParser(description="hot-plug benchmark (see tests/qmp/bench-hotplug)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--vmm", choices=VMMS, required=True)
    r.add_argument("--bdf", required=True)
    r.add_argument("--kernel", required=True)
    r.add_argument("--initrd", required=True)
    r.add_argument("--ferry", default="ferry")
    r.add_argument("--qemu", default="qemu-system-x86_64")
    r.add_argument("--qmp", required=True, help="the QMP socket's path")
    r.add_argument("--log", help="console and QMP transcript, with host times")
    r.add_argument("--mem", type=int, default=256, help="guest RAM, MiB")
    r.add_argument("--cycles", type=int, default=5)
    r.add_argument("--settle", type=float, default=1.0,
                   help="seconds between a change seen and the next command")
    r.add_argument("--wait", type=float, default=60, help="seconds to wait for a change")
    r.add_argument("--boot-timeout", type=float, default=240)
    rp = sub.add_parser("report")
    rp.add_argument("logfile")
    a = p.parse_args()
    return run(a) if a.cmd == "run" else report(a)


if __name__ == "__main__":
    sys.exit(main())
