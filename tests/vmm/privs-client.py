#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""privs-client: the host side of lab-privs-test, run inside the lab as root.

Starts ferry with -run-with user=nobody and one edu cold-plugged, checks
that the process really lost its ids and capabilities, then hot-plugs the
second edu the only way an unprivileged ferry can: this script (root, the
manager) opens /dev/vfio/N and passes the fd with getfd (SCM_RIGHTS), then
device_add ...,fd=NAME.  Prints "PASS name" / "FAIL name: why" per check.

usage: privs-client.py FERRY KERNEL INITRD BDF1 GROUP1 BDF2 GROUP2
"""
import array
import json
import os
import pwd
import re
import socket
import subprocess
import sys
import time

ferry, kernel, initrd, bdf1, group1, bdf2, group2 = sys.argv[1:8]
work = "/tmp/privs-lab"
os.makedirs(work, exist_ok=True)
sock_path = work + "/qmp.sock"
serial = work + "/serial.log"
RAM_MIB = 192
nobody = pwd.getpwnam("nobody")


def check(name, ok, why=""):
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

    def reply(self, timeout=120):
        while True:
            m = self.recv(timeout)
            if "event" in m:
                self.events.append(m)
            else:
                return m

    def cmd(self, execute, args=None, fd=None, timeout=120):
        msg = {"execute": execute}
        if args is not None:
            msg["arguments"] = args
        data = json.dumps(msg).encode() + b"\n"
        if fd is None:
            self.s.sendall(data)
        else:
            self.s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     array.array("i", [fd]))])
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


def status_fields(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def group_opens(group):
    try:
        os.close(os.open("/dev/vfio/" + group, os.O_RDWR))
        return True
    except OSError:
        return False


# A user that does not exist is refused before anything starts.
r = subprocess.run([ferry, "-kernel", kernel, "-run-with", "user=no-such-user-ferry",
                    "-device", "vfio-pci,host=" + bdf1], capture_output=True, text=True,
                   timeout=60)
check("unknown-user", r.returncode == 1 and "no such user" in r.stderr and
      group_opens(group1), "status %d: %s" % (r.returncode, r.stderr.strip()))

for p in (sock_path, serial):
    if os.path.exists(p):
        os.unlink(p)
proc = subprocess.Popen([ferry, "-kernel", kernel, "-initrd", initrd,
                         "-append", "console=ttyS0 panic=-1", "-m", "%dM" % RAM_MIB,
                         "-nographic", "-serial", "file:" + serial,
                         "-qmp", "unix:%s,server=on,wait=off" % sock_path,
                         "-device", "vfio-pci,host=%s,id=cold0" % bdf1,
                         "-run-with", "user=nobody"],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
try:
    for _ in range(600):
        if os.path.exists(sock_path) or proc.poll() is not None:
            break
        time.sleep(0.05)
    q = Qmp(sock_path)
    q.recv(30)
    check("qmp", q.cmd("qmp_capabilities") == {"return": {}})

    booted = wait_serial(r"^EDU-COUNT: 1", timeout=300)
    text = serial_text()
    check("guest-uses-edu", booted and re.search(r"^EDU-ID: ok", text, re.M) and
          re.search(r"^EDU-DMA: ok", text, re.M) and not re.search(r"FAIL", text),
          text[-2000:])

    # Every thread: capabilities are per thread.
    bad = []
    for tid in os.listdir("/proc/%d/task" % proc.pid):
        st = status_fields("/proc/%d/task/%s/status" % (proc.pid, tid))
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            if int(st[k], 16):
                bad.append("thread %s %s=%s" % (tid, k, st[k]))
    st = status_fields("/proc/%d/status" % proc.pid)
    check("no-capabilities", not bad and int(st["Threads"]) > 1, "; ".join(bad))
    want = "\t".join([str(nobody.pw_uid)] * 4)
    check("uid-nobody", st["Uid"] == want, st["Uid"])
    check("gid-nobody", st["Gid"] == "\t".join([str(nobody.pw_gid)] * 4) and
          st["Groups"] == "", "Gid %s Groups %r" % (st["Gid"], st["Groups"]))
    with open("/proc/%d/limits" % proc.pid) as f:
        lim = [l for l in f if l.startswith("Max locked memory")][0].split()
    need = (2 * RAM_MIB + 64) << 20
    check("memlock-raised", lim[3] == "unlimited" or int(lim[3]) >= need,
          "soft limit %s, need %d" % (lim[3], need))

    # Without an fd: ferry cannot open the group node any more, and says what to do.
    r = q.cmd("device_add", {"driver": "vfio-pci", "host": bdf2, "id": "hot1"})
    desc = r.get("error", {}).get("desc", "")
    check("add-without-fd-refused", "error" in r and
          ("/dev/vfio/%s" % group2) in desc and "getfd" in desc and "privilege" in desc,
          json.dumps(r))
    check("refused-add-left-group-free", group_opens(group2))

    # A refused add closes the fd it was given (here: the id is taken).
    gfd = os.open("/dev/vfio/" + group2, os.O_RDWR)
    r1 = q.cmd("getfd", {"fdname": "grp2"}, fd=gfd)
    os.close(gfd)
    r2 = q.cmd("device_add", {"driver": "vfio-pci", "host": bdf2, "id": "cold0",
                              "fd": "grp2"})
    check("refused-add-closes-fd", r1 == {"return": {}} and "Duplicate device ID" in
          r2.get("error", {}).get("desc", "") and group_opens(group2), "%s %s" % (r1, r2))

    # The manager's way: open the group, pass it, name it in device_add.
    gfd = os.open("/dev/vfio/" + group2, os.O_RDWR)
    r1 = q.cmd("getfd", {"fdname": "grp2"}, fd=gfd)
    os.close(gfd)
    r2 = q.cmd("device_add", {"driver": "vfio-pci", "host": bdf2, "id": "hot1",
                              "fd": "grp2"})
    check("add-with-getfd", r1 == {"return": {}} and r2 == {"return": {}},
          "%s %s" % (r1, r2))
    text_ok = wait_serial(r"^EDU-COUNT: 2", timeout=180)
    text = serial_text()
    check("guest-uses-hot-edu", text_ok and len(re.findall(r"^EDU-DMA: ok", text, re.M)) >= 3
          and not re.search(r"FAIL", text), text[-2000:])
    check("fd-name-taken", "error" in q.cmd("closefd", {"fdname": "grp2"}))

    r = q.cmd("device_del", {"id": "hot1"})
    try:
        ev = q.event("DEVICE_DELETED", 120)
    except Exception as e:
        ev = {"error": str(e)}
    check("unplug", r == {"return": {}} and ev.get("data", {}).get("device") == "hot1",
          "%s %s" % (r, ev))
    check("group-free-after-unplug", group_opens(group2))
    st = status_fields("/proc/%d/status" % proc.pid)
    check("still-unprivileged", int(st["CapEff"], 16) == 0 and st["Uid"] == want, str(st))
    r = q.cmd("quit")
    proc.wait(timeout=60)
    check("quit", r == {"return": {}} and proc.returncode == 0, "status %s" % proc.returncode)
except Exception as e:
    check("client", False, "%s: %s" % (type(e).__name__, e))
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    out = proc.stdout.read().decode(errors="replace")
    if out:
        print("ferry said:\n" + out, flush=True)


def fd_targets(pid):
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    return out


# The manager's way at start: it opens the group and hands it over with
# -add-fd; it keeps its own copy open, so a ferry that opened /dev/vfio/N
# itself would get EBUSY (one opener per group): success proves the passed
# fd was used.
gfd = os.open("/dev/vfio/" + group1, os.O_RDWR)
os.set_inheritable(gfd, True)
for p in (sock_path, serial):
    if os.path.exists(p):
        os.unlink(p)
proc = subprocess.Popen([ferry, "-kernel", kernel, "-initrd", initrd,
                         "-append", "console=ttyS0 panic=-1", "-m", "%dM" % RAM_MIB,
                         "-nographic", "-serial", "file:" + serial,
                         "-qmp", "unix:%s,server=on,wait=off" % sock_path,
                         "-device", "vfio-pci,host=%s,id=cold0,fd=/dev/fdset/1" % bdf1,
                         "-add-fd", "fd=%d,set=1,opaque=/dev/vfio/%s" % (gfd, group1),
                         "-run-with", "user=nobody"],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, pass_fds=[gfd])
os.close(gfd)
try:
    booted = wait_serial(r"^EDU-COUNT: 1", timeout=300)
    text = serial_text()
    targets = fd_targets(proc.pid) if proc.poll() is None else {}
    groups = [fd for fd, t in targets.items() if t == "/dev/vfio/" + group1]
    check("add-fd-cold-plug", booted and re.search(r"^EDU-DMA: ok", text, re.M) and
          not re.search(r"FAIL", text) and groups == [gfd],
          "booted %s, fds on the group %s (passed %d): %s" % (booted, groups, gfd,
                                                             text[-1500:]))
    os.kill(proc.pid, 15)
    proc.wait(timeout=60)
    check("add-fd-group-free-at-exit", proc.returncode == 0 and group_opens(group1),
          "status %s" % proc.returncode)
except Exception as e:
    check("add-fd-client", False, "%s: %s" % (type(e).__name__, e))
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    out = proc.stdout.read().decode(errors="replace")
    if out:
        print("ferry said:\n" + out, flush=True)


# With iommufd (the 6.12 lab kernel): the manager opens /dev/iommu and the
# device's cdev, ferry gets both as fds and opens neither.
if os.path.exists("/dev/iommu"):
    cdev = os.listdir("/sys/bus/pci/devices/%s/vfio-dev" % bdf1)[0]
    ifd = os.open("/dev/iommu", os.O_RDWR)
    cfd = os.open("/dev/vfio/devices/" + cdev, os.O_RDWR)
    for p in (sock_path, serial):
        if os.path.exists(p):
            os.unlink(p)
    proc = subprocess.Popen([ferry, "-kernel", kernel, "-initrd", initrd,
                             "-append", "console=ttyS0 panic=-1", "-m", "%dM" % RAM_MIB,
                             "-nographic", "-serial", "file:" + serial,
                             "-object", "iommufd,id=ifd0,fd=%d" % ifd,
                             "-add-fd", "fd=%d,set=2,opaque=/dev/vfio/devices/%s" % (cfd, cdev),
                             "-device", "vfio-pci,host=%s,iommufd=ifd0,fd=/dev/fdset/2" % bdf1,
                             "-run-with", "user=nobody"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, pass_fds=[ifd, cfd])
    os.close(ifd)
    os.close(cfd)
    try:
        booted = wait_serial(r"^EDU-COUNT: 1", timeout=300)
        text = serial_text()
        targets = fd_targets(proc.pid) if proc.poll() is None else {}
        cdevs = [fd for fd, t in targets.items() if t == "/dev/vfio/devices/" + cdev]
        iommus = [fd for fd, t in targets.items() if t == "/dev/iommu"]
        st = status_fields("/proc/%d/status" % proc.pid) if proc.poll() is None else {}
        check("iommufd-cdev-fds", booted and re.search(r"^EDU-DMA: ok", text, re.M) and
              not re.search(r"FAIL", text) and cdevs == [cfd] and iommus == [ifd] and
              int(st.get("CapEff", "1"), 16) == 0,
              "booted %s, cdev fds %s (passed %d), iommufd fds %s (passed %d), CapEff %s: %s"
              % (booted, cdevs, cfd, iommus, ifd, st.get("CapEff"), text[-1500:]))
        os.kill(proc.pid, 15)
        proc.wait(timeout=60)
    except Exception as e:
        check("iommufd-client", False, "%s: %s" % (type(e).__name__, e))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out = proc.stdout.read().decode(errors="replace")
        if out:
            print("ferry said:\n" + out, flush=True)
