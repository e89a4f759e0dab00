#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""hotplug-client: the host side of lab-hotplug-test, run inside the lab.

Starts ferry (no device, QMP on a unix socket, COM1 to a file), drives it
over QMP as libvirt would, and watches the guest's console for what the
guest itself saw (its init prints every change of /sys/bus/pci/devices).
Prints one "PASS name" / "FAIL name: why" line per check.

usage: hotplug-client.py FERRY KERNEL INITRD HOST_BDF GROUP CYCLES
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

ferry, kernel, initrd, bdf, group, cycles = sys.argv[1:7]
cycles = int(cycles)
work = "/tmp/hotplug-lab"
os.makedirs(work, exist_ok=True)
sock_path = work + "/qmp.sock"
serial = work + "/serial.log"
gpath = "/dev/vfio/" + group
GUEST_BDF = "0000:00:02.0"
results = []


def check(name, ok, why=""):
    results.append((name, ok))
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)
    return ok


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.events = []

    def recv(self, timeout):
        end = time.time() + timeout
        while b"\r\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no message from ferry")
            self.s.settimeout(left)
            data = self.s.recv(65536)
            if not data:
                raise EOFError("ferry closed the QMP connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return json.loads(line)

    def send_raw(self, text):
        self.s.sendall(text.encode() + b"\n")

    def reply(self, timeout=120):
        while True:
            m = self.recv(timeout)
            if "event" in m:
                self.events.append(m)
            else:
                return m

    def cmd(self, execute, args=None, id=None, timeout=120):
        msg = {"execute": execute}
        if args is not None:
            msg["arguments"] = args
        if id is not None:
            msg["id"] = id
        self.send_raw(json.dumps(msg))
        return self.reply(timeout)

    def event(self, name, timeout):
        end = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            m = self.recv(max(0.01, end - time.time()))
            if "event" in m:
                self.events.append(m)


def serial_text():
    try:
        with open(serial, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_serial(pattern, count=1, timeout=120):
    end = time.time() + timeout
    rx = re.compile(pattern, re.M)
    while time.time() < end:
        if len(rx.findall(serial_text())) >= count:
            return True
        time.sleep(0.05)
    return False


# Under TCG with nested SVM a guest boot sometimes stops making progress
# (docs/lab.md, "Stalled guest boots"). A boot whose console has not grown for
# STALL seconds is declared stalled; its ferry run is killed and the boot
# tried once more. A second stall of the same phase fails its check.
STALL = 120
retries = []
# Test hook: phases (guest-boot, cold-boot, reset-reboot) whose first boot is
# stalled on purpose (ferry is stopped with SIGSTOP), to exercise the retry.
inject = os.environ.get("FERRY_LAB_INJECT_STALL", "").split()


def stall_on_purpose(proc, phase, attempt):
    if attempt == 0 and phase in inject:
        print("INJECT %s: stopping ferry to stall the boot" % phase, flush=True)
        os.kill(proc.pid, signal.SIGSTOP)


class Stalled(Exception):
    pass


def wait_boot(pattern, count=1, timeout=240):
    """wait_serial for a guest boot: True, False (timeout), or "stalled"."""
    end = time.time() + timeout
    rx = re.compile(pattern, re.M)
    size, moved = -1, time.time()
    while time.time() < end:
        text = serial_text()
        if len(rx.findall(text)) >= count:
            return True
        if len(text) != size:
            size, moved = len(text), time.time()
        elif time.time() - moved >= STALL:
            return "stalled"
        time.sleep(0.05)
    return False


def retry(phase, attempt):
    """After a stalled boot: True to boot again (first stall), False to fail."""
    if attempt > 0:
        return False
    retries.append(phase)
    print("RETRY %s: guest boot stalled (lab nested virtualisation); console tail: %s" %
          (phase, " / ".join(serial_text()[-300:].replace("\r", "").split("\n")[-3:])),
          flush=True)
    return True


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def vmlck(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmLck:"):
                return line.split(":")[1].strip()
    return "?"


def threads(pid):
    """Where each of ferry's threads waits, for a failure's message."""
    out = []
    for t in sorted(os.listdir("/proc/%d/task" % pid)):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                comm = f.read().strip()
            with open("/proc/%d/task/%s/wchan" % (pid, t)) as f:
                wchan = f.read().strip()
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out.append("%s %s state %s utime %s" % (comm, wchan, fields[0], fields[11]))
        except OSError:
            pass
    return "; ".join(out)


def watchdog():
    """Every 30 s, where ferry and the guest are: a hang shows in the log."""
    start = time.time()
    while True:
        time.sleep(30)
        p = current.get("proc")
        if not p or p.poll() is not None:
            continue
        tail = serial_text()[-200:].replace("\r", "").split("\n")
        print("WATCHDOG %ds: %s | guest: %s" % (time.time() - start, threads(p.pid),
                                                 " / ".join(tail[-3:])), flush=True)


current = {}


def edu_args(id):
    return {"driver": "vfio-pci", "host": bdf, "id": id, "bus": "pci.0", "addr": "0x2"}


def start_ferry(extra):
    """ferry with a fresh console file and socket; returns it and a connected client."""
    for p in (sock_path, serial):
        if os.path.exists(p):
            os.unlink(p)
    proc = subprocess.Popen([ferry, "-kernel", kernel, "-initrd", initrd,
                             "-append", "console=ttyS0 panic=-1", "-m", "192M", "-nographic",
                             "-serial", "file:" + serial,
                             "-qmp", "unix:%s,server=on,wait=off" % sock_path] + extra,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    current["proc"] = proc
    for _ in range(400):
        if os.path.exists(sock_path) or proc.poll() is not None:
            break
        time.sleep(0.05)
    return proc, Qmp(sock_path)


def finish(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    out = proc.stdout.read().decode(errors="replace")
    if out:
        print("ferry said:\n" + out, flush=True)
    return out


def sysfs_write(path, text):
    with open(path, "w") as f:
        f.write(text)


def host_driver():
    link = "/sys/bus/pci/devices/%s/driver" % bdf
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


host_request_ran = False
ferry_said = ""


def host_request(q):
    """The host takes the device back: an unbind from vfio-pci while the guest uses it.

    The kernel's unbind waits for ferry to close the device and meanwhile
    signals VFIO's request interrupt; ferry answers with the unplug of
    device_del. Then the device goes back to vfio-pci for the later phases.
    """
    global host_request_ran
    host_request_ran = True
    adds = len(re.findall(r"^FERRY-PCI-ADD: %s" % GUEST_BDF, serial_text(), re.M))
    dels = len(re.findall(r"^FERRY-PCI-DEL: %s" % GUEST_BDF, serial_text(), re.M))
    r = q.cmd("device_add", edu_args("hostreq0"))
    seen = wait_serial(r"^FERRY-PCI-ADD: %s" % GUEST_BDF, count=adds + 1, timeout=120)
    if not check("host-request-plugged", r == {"return": {}} and seen,
                 "%s seen=%s\n%s" % (r, seen, serial_text()[-1500:])):
        return
    unbind = {}

    def do_unbind():
        start = time.time()
        try:
            sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind", bdf)
            unbind["result"] = "ok"
        except OSError as e:
            unbind["result"] = str(e)
        unbind["seconds"] = time.time() - start

    t = threading.Thread(target=do_unbind, daemon=True)
    t.start()
    try:
        ev = q.event("DEVICE_DELETED", 120)
    except Exception as e:
        ev = {"error": str(e)}
    check("host-request-unplug", ev.get("data") ==
          {"device": "hostreq0", "path": "/machine/peripheral/hostreq0"}, str(ev))
    check("host-request-guest-ejected",
          wait_serial(r"^FERRY-PCI-DEL: %s" % GUEST_BDF, count=dels + 1, timeout=60),
          serial_text()[-1500:])
    t.join(60)
    check("host-request-unbind-returns", not t.is_alive() and unbind.get("result") == "ok",
          "unbind still blocked after 60 s" if t.is_alive() else str(unbind))
    if t.is_alive():
        return
    print("host-request: the unbind took %.1f s" % unbind["seconds"], flush=True)
    drv = host_driver()
    check("host-request-no-driver", drv is None, "the device is bound to %s" % drv)
    # Back to vfio-pci, for the cold-plug phase.
    why = ""
    try:
        sysfs_write("/sys/bus/pci/devices/%s/driver_override" % bdf, "vfio-pci")
        if host_driver() is None:
            sysfs_write("/sys/bus/pci/drivers_probe", bdf)
        for _ in range(100):
            if os.path.exists(gpath):
                break
            time.sleep(0.1)
        fd = os.open(gpath, os.O_RDWR)
        os.close(fd)
    except OSError as e:
        why = str(e)
    check("host-request-rebind", not why and host_driver() == "vfio-pci",
          "%s driver=%s" % (why, host_driver()))


def cold_plug(attempt):
    """A -device (cold-plugged) device is unplugged the same way."""
    proc, q = start_ferry(["-device", "vfio-pci,host=%s,id=cold0" % bdf])
    try:
        q.recv(10)
        q.cmd("qmp_capabilities")
        stall_on_purpose(proc, "cold-boot", attempt)
        booted = wait_boot(r"^FERRY-PCI-ADD: 0000:00:0.\.0 0x1234 0x11e8")
        if booted == "stalled" and retry("cold-boot", attempt):
            raise Stalled("cold-boot")
        if not check("cold-boot", booted is True, serial_text()[-2000:]):
            return
        r = q.cmd("device_del", {"id": "cold0"})
        try:
            ev = q.event("DEVICE_DELETED", 120)
        except Exception as e:
            ev = {"error": str(e)}
        check("cold-device-del", r == {"return": {}} and ev.get("data") ==
              {"device": "cold0", "path": "/machine/peripheral/cold0"}, "%s %s" % (r, ev))
        try:
            fd = os.open(gpath, os.O_RDWR)
            os.close(fd)
            check("cold-group-reopens", True)
        except OSError as e:
            check("cold-group-reopens", False, "%s: %s" % (gpath, e))
        check("cold-guest-saw-removal",
              wait_serial(r"^FERRY-PCI-DEL: 0000:00:0.\.0", timeout=60), serial_text()[-1500:])
        # An unplug still pending when the machine resets is finished by the reset.
        r = q.cmd("device_add", edu_args("hot1"))
        seen = wait_serial(r"^FERRY-PCI-ADD: %s" % GUEST_BDF, timeout=120)
        q.send_raw('{"execute":"device_del","arguments":{"id":"hot1"}}\n'
                   '{"execute":"system_reset"}')
        r1, r2 = q.reply(), q.reply()
        try:
            ev = q.event("DEVICE_DELETED", 120)
        except Exception as e:
            ev = {"error": str(e)}
        try:
            fd = os.open(gpath, os.O_RDWR)
            os.close(fd)
            reopened = True
        except OSError:
            reopened = False
        r3 = q.cmd("query-pci")
        left = [d for d in r3.get("return", [{}])[0].get("devices", []) if d.get("slot")]
        stall_on_purpose(proc, "reset-reboot", attempt)
        rebooted = wait_boot(r"^FERRY-GUEST-READY", count=2)
        if rebooted == "stalled" and retry("reset-reboot", attempt):
            raise Stalled("reset-reboot")
        check("reset-finishes-unplug", r == {"return": {}} and seen and r1 == {"return": {}} and
              r2 == {"return": {}} and ev.get("data", {}).get("device") == "hot1" and
              reopened and not left and rebooted is True,
              "%s %s %s %s %s reopened=%s left=%s" % (r, seen, r1, r2, ev, reopened, left))
        q.cmd("quit")
        proc.wait(timeout=60)
    except Stalled:
        raise
    except Exception as e:
        check("cold-client", False, "%s: %s" % (type(e).__name__, e))
    finally:
        finish(proc)


threading.Thread(target=watchdog, daemon=True).start()
q = None
proc = None
try:
    for attempt in (0, 1):
        proc, q = start_ferry([])
        greet = q.recv(10)
        neg = q.cmd("qmp_capabilities")
        stall_on_purpose(proc, "guest-boot", attempt)
        booted = wait_boot(r"^FERRY-GUEST-READY")
        if booted == "stalled" and retry("guest-boot", attempt):
            finish(proc)
            continue
        break
    check("qmp-greeting", "QMP" in greet and neg.get("return") == {}, "%s %s" % (greet, neg))
    if not check("guest-boot", booted is True, serial_text()[-2000:]):
        raise RuntimeError("the guest did not boot: %s" % threads(proc.pid))

    # The exact libvirt exchange (BRIEF section 5).
    q.send_raw('{"execute":"device_add","arguments":{"driver":"vfio-pci","host":"%s",'
               '"id":"hostdev0","bus":"pci.0","addr":"0x2"},"id":"libvirt-17"}' % bdf)
    r = q.reply()
    check("libvirt-device-add", r == {"return": {}, "id": "libvirt-17"}, str(r))
    check("guest-sees-edu",
          wait_serial(r"^FERRY-PCI-ADD: %s 0x1234 0x11e8" % GUEST_BDF, timeout=120),
          serial_text()[-2000:])
    check("edu-id", wait_serial(r"^EDU-ID: ok 0x010000ed", timeout=60), serial_text()[-2000:])
    wait_serial(r"^EDU-DMA:", timeout=30)
    check("edu-dma", re.search(r"^EDU-DMA: ok", serial_text(), re.M) is not None,
          serial_text()[-1500:])

    r = q.cmd("qom-list", {"path": "/machine/peripheral"})
    check("qom-list", {"name": "hostdev0", "type": "child<vfio-pci>"} in r.get("return", []),
          str(r))
    r = q.cmd("query-pci")
    devs = r.get("return", [{}])[0].get("devices", []) if "return" in r else []
    edu = [d for d in devs if d.get("slot") == 2]
    ok = (len(edu) == 1 and edu[0]["id"]["vendor"] == 0x1234 and
          edu[0]["id"]["device"] == 0x11e8 and edu[0]["qdev_id"] == "hostdev0" and
          any(g["bar"] == 0 and g["type"] == "memory" and g["size"] == 1 << 20 and
              g["address"] != 0 for g in edu[0]["regions"]))
    check("query-pci", ok, json.dumps(r))

    r = q.cmd("device_add", edu_args("hostdev0"))
    check("duplicate-id", r.get("error", {}).get("class") == "GenericError" and
          "hostdev0" in r["error"].get("desc", ""), str(r))

    # Two device_del in one write: the guest cannot have ejected in between.
    q.send_raw('{"execute":"device_del","arguments":{"id":"hostdev0"},"id":1}\n'
               '{"execute":"device_del","arguments":{"id":"hostdev0"},"id":2}')
    r1, r2 = q.reply(), q.reply()
    check("device-del", r1 == {"return": {}, "id": 1}, str(r1))
    check("del-repeated", r2.get("error", {}).get("class") == "GenericError" and
          "already in the process of unplug" in r2["error"].get("desc", ""), str(r2))
    try:
        ev = q.event("DEVICE_DELETED", 120)
        ok = ev.get("data") == {"device": "hostdev0", "path": "/machine/peripheral/hostdev0"}
    except Exception as e:
        ev, ok = e, False
    check("device-deleted-event", ok, str(ev))
    # At once: the event means ferry has closed the group.
    try:
        fd = os.open(gpath, os.O_RDWR)
        os.close(fd)
        check("group-reopens", True)
    except OSError as e:
        check("group-reopens", False, "%s: %s" % (gpath, e))
    check("guest-saw-removal", wait_serial(r"^FERRY-PCI-DEL: %s" % GUEST_BDF, timeout=60),
          serial_text()[-1500:])
    r = q.cmd("query-pci")
    check("gone-from-query-pci", "return" in r and
          not [d for d in r["return"][0]["devices"] if d["slot"] == 2], str(r))

    r = q.cmd("device_del", {"id": "nosuch"})
    check("del-unknown", r.get("error") ==
          {"class": "DeviceNotFound", "desc": "Device 'nosuch' not found"}, str(r))

    # Another process holds the group: vfio/'s explanation, and nothing changes.
    gfd = os.open(gpath, os.O_RDWR)
    holder = subprocess.Popen(["sleep", "600"], stdin=gfd)
    os.close(gfd)
    time.sleep(0.3)
    r = q.cmd("device_add", edu_args("busy0"))
    desc = r.get("error", {}).get("desc", "")
    check("add-busy-group", r.get("error", {}).get("class") == "GenericError" and
          "in use by process %d" % holder.pid in desc, str(r))
    holder.kill()
    holder.wait()
    r = q.cmd("qom-list", {"path": "/machine/peripheral"})
    check("busy-add-left-nothing", r.get("return") == [{"name": "type", "type": "string"}],
          str(r))

    base_fds, base_lck = fd_count(proc.pid), vmlck(proc.pid)
    adds = len(re.findall(r"^FERRY-PCI-ADD: %s" % GUEST_BDF, serial_text(), re.M))
    dels = len(re.findall(r"^FERRY-PCI-DEL: %s" % GUEST_BDF, serial_text(), re.M))
    done = 0
    why = ""
    for i in range(cycles):
        r = q.cmd("device_add", edu_args("hp%d" % i))
        if r.get("return") != {}:
            why = "add %d: %s" % (i, r)
            break
        if not wait_serial(r"^FERRY-PCI-ADD: %s" % GUEST_BDF, count=adds + i + 1, timeout=60):
            why = "cycle %d: the guest did not see the device" % i
            break
        r = q.cmd("device_del", {"id": "hp%d" % i})
        if r.get("return") != {}:
            why = "del %d: %s" % (i, r)
            break
        try:
            ev = q.event("DEVICE_DELETED", 60)
        except Exception as e:
            why = "cycle %d: no DEVICE_DELETED (%s)" % (i, e)
            break
        if ev.get("data", {}).get("device") != "hp%d" % i:
            why = "cycle %d: %s" % (i, ev)
            break
        # The guest polls its bus: let it see the removal before the next add.
        if not wait_serial(r"^FERRY-PCI-DEL: %s" % GUEST_BDF, count=dels + i + 1, timeout=60):
            why = "cycle %d: the guest did not see the removal" % i
            break
        done += 1
    if done != cycles:
        r = q.cmd("query-pci")
        why += "\nquery-pci: %s\nthe guest's console:\n%s" % (json.dumps(r), serial_text()[-3000:])
    check("cycles", done == cycles, "%d of %d cycles: %s" % (done, cycles, why))
    fds, lck = fd_count(proc.pid), vmlck(proc.pid)
    check("fds-stable", fds == base_fds, "%d fds before the cycles, %d after" % (base_fds, fds))
    check("vmlck-stable", lck == base_lck, "VmLck %s before the cycles, %s after" %
          (base_lck, lck))

    # The guest gives back a device on its own (its init does it for slot 3).
    args = edu_args("self0")
    args["addr"] = "0x3"
    r = q.cmd("device_add", args)
    try:
        ev = q.event("DEVICE_DELETED", 120)
    except Exception as e:
        ev = {"error": str(e)}
    check("guest-ejects-itself", r == {"return": {}} and ev.get("data") ==
          {"device": "self0", "path": "/machine/peripheral/self0"} and
          re.search(r"^FERRY-GUEST-EJECT: 3", serial_text(), re.M) is not None,
          "%s %s\n%s" % (r, ev, serial_text()[-1500:]))

    host_request(q)

    r = q.cmd("quit")
    rc = proc.wait(timeout=60)
    check("quit", r.get("return") == {} and rc == 0, "reply %s, exit status %s" % (r, rc))
except Exception as e:
    check("client", False, "%s: %s" % (type(e).__name__, e))
finally:
    if proc:
        ferry_said = finish(proc)
# The host's side of host_request(): ferry says why the device left the guest.
if host_request_ran:
    check("host-request-logged", "ferry: host requested device %s (id hostreq0) back; "
          "unplugging it from the guest" % bdf in ferry_said, ferry_said[-1500:])
for attempt in (0, 1):
    try:
        cold_plug(attempt)
        break
    except Stalled:
        pass
print("RETRIES %d%s" % (len(retries), (": " + " ".join(retries)) if retries else ""), flush=True)
print("CLIENT-DONE", flush=True)
