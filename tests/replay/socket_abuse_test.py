#!/usr/bin/python3
"""The control socket under abuse, against a running tallyd (net_pcap -> net_null).

  socket_abuse_test.py --tallyd build/tallyd --tallyctl build/tallyctl --workdir DIR

tallyd replays one packet for each of 20 000 subscribers (so 20 000 sessions), then these
abusers run at once for a while:
  idle      this test holds 40 silent connections (one process: 8 are taken, 32 get "busy")
  holders   6 processes keep 8 connections each with half a command ('["display",'), and
            open a new one whenever tallyd closes one (request timeout, eviction)
  storm     a process that keeps 500 connections open, re-opening each one tallyd closes
  slow      a process that asks for `display session --json` and reads 4 KB every 20 ms
Meanwhile `tallyctl display statistics` must answer 20 times of 20; afterwards
`tallyctl display session --json` must arrive complete (20 000 sessions, valid JSON), and
`display statistics --json` must count the refusals (busy_per_client, request_timeout) that
tallyd logged, in a few rate-limited lines. Prints PASS/FAIL per check; exits 1 on any failure.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_util import dpdk_runtime_dir, prepare_workdir, write_dns_pcap  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "config" / "demo.yaml"
SUBSCRIBERS = 20000
ABUSE_S = 25.0

# One abuser process: keeps N connections open, re-opening each one the server closes.
ABUSER = r'''
import select, socket, sys, time
path, n, mode, dur = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
end = time.monotonic() + dur
conns, opened = [], 0
def open_one():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except OSError:
        s.close()
        return None
    try:
        if mode == "half":
            s.send(b'["display",')
        elif mode == "slow":
            s.send(b'["display","session","--json"]\n')
    except OSError:
        pass
    return s
while time.monotonic() < end:
    while len(conns) < n:
        s = open_one()
        if s is None:
            time.sleep(0.002)
            break
        conns.append(s)
        opened += 1
    r, _, _ = select.select(conns, [], [], 0.02)
    for s in r:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if mode == "slow" and data:
            time.sleep(0.02)
            continue
        s.close()   # tallyd answered ("busy", timeout) and closes: open another one
        conns.remove(s)
print(opened)
'''


class Test:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.workdir).resolve()
        self.failures = 0
        self.sock = self.work / "ctl.sock"
        if len(str(self.sock)) > 100:
            self.sock = Path("/tmp/tally-abuse-%d.sock" % os.getpid())
        self.prefix = "tally-abuse-%d" % os.getpid()
        self.procs = []    # abusers this test started (ended by PID)
        self.tallyd = None

    def check(self, ok, what, detail=""):
        print("%s %s%s" % ("PASS" if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
        if not ok:
            self.failures += 1

    def ctl(self, *words, timeout_ms=5000):
        return subprocess.run([self.args.tallyctl, "--socket", str(self.sock), "--timeout",
                               str(timeout_ms)] + list(words), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=120)

    def statistics(self):
        r = self.ctl("display", "statistics", "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def start(self):
        pcap = self.work / "subscribers.pcap"
        write_dns_pcap(pcap, ["10.1.%d.%d" % ((i + 1) >> 8, (i + 1) & 255) for i in range(SUBSCRIBERS)])
        with open(DEMO_CONFIG) as f:
            cfg = yaml.safe_load(f)
        cfg["dataplane"]["eal"] = ["--replaced-by-eal-args"]
        cfg["dataplane"]["ports"] = [{"name": "net_pcap0", "role": "access", "forward_to": "net_null0"},
                                     {"name": "net_null0", "role": "core"}]
        cfg["dataplane"]["workers"] = 1
        cfg["dataplane"]["max_sessions"] = 65536
        cfg["subscribers"]["idle_timeout"] = 3600
        cfg["control"] = {"socket": str(self.sock)}
        cfg["local_aaa_server"] = {"local_bill": {"cfcard": {"path": str(self.work / "cdr")}}}
        cfg_path = self.work / "tally.yaml"
        with open(cfg_path, "w") as f:
            yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
        eal = ("--no-huge -m 512 --no-pci -l 0-1 --file-prefix %s --vdev=net_pcap0,rx_pcap=%s "
               "--vdev=net_null0,no-rx=1" % (self.prefix, pcap))
        self.stderr = open(self.work / "tallyd.stderr", "w+")
        self.tallyd = subprocess.Popen([self.args.tallyd, "--config", str(cfg_path), "--eal-args", eal,
                                        "--no-summary"], stdout=subprocess.DEVNULL, stderr=self.stderr)
        end = time.monotonic() + 90
        while time.monotonic() < end:
            if self.tallyd.poll() is not None:
                return "tallyd exited %d at start" % self.tallyd.returncode
            st = self.statistics() if self.sock.exists() else None
            if st is not None and st.get("sessions_active", 0) >= SUBSCRIBERS:
                return None
            time.sleep(0.2)
        return "tallyd did not bring up %d sessions within 90 s" % SUBSCRIBERS

    def abuser(self, n, mode):
        p = subprocess.Popen([sys.executable, "-c", ABUSER, str(self.sock), str(n), mode, str(ABUSE_S)],
                             stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def run(self):
        err = self.start()
        self.check(err is None, "tallyd up with %d sessions" % SUBSCRIBERS, err or "")
        if err:
            return
        idle = []
        for _ in range(40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(self.sock))
            idle.append(s)
        for _ in range(6):
            self.abuser(8, "half")
        self.abuser(500, "storm")
        self.abuser(1, "slow")
        time.sleep(1.0)   # the abusers are at it
        answered, worst, errors = 0, 0.0, []
        for i in range(20):
            t0 = time.monotonic()
            r = self.ctl("display", "statistics")
            worst = max(worst, time.monotonic() - t0)
            if r.returncode == 0 and "Control socket" in r.stdout:
                answered += 1
            else:
                errors.append("rc %d: %s" % (r.returncode, r.stderr.strip()))
            time.sleep(0.2)
        self.check(answered == 20, "display statistics answered under abuse (%d of 20, slowest %.2f s)"
                   % (answered, worst), "; ".join(errors[:3]))
        print("     slowest display statistics under abuse: %.2f s" % worst)
        t0 = time.monotonic()
        r = self.ctl("display", "session", "--json", timeout_ms=10000)
        took = time.monotonic() - t0
        try:
            sessions = json.loads(r.stdout) if r.returncode == 0 else None
        except ValueError as e:
            sessions = None
            r.stderr += " invalid JSON: %s" % e
        n = len(sessions) if isinstance(sessions, list) else -1
        self.check(n == SUBSCRIBERS, "display session --json complete under abuse (%d sessions, %.1f MB in %.1f s)"
                   % (n, len(r.stdout) / 1e6, took), "rc %d %s" % (r.returncode, r.stderr.strip()[:300]))
        st = self.statistics() or {}
        cs = st.get("control_socket", {})
        refused = cs.get("refused", {})
        print("     control_socket: %s" % json.dumps(cs))
        self.check(refused.get("busy_per_client", 0) >= 32, "busy_per_client refusals counted",
                   json.dumps(refused))
        self.check(refused.get("request_timeout", 0) >= 40, "idle and half requests timed out and counted",
                   json.dumps(refused))
        self.check(cs.get("open_connections", 999) <= 64, "at most 64 connections open", json.dumps(cs))
        for s in idle:
            s.close()
        for p in self.procs:
            p.wait(timeout=ABUSE_S + 30)
        self.stderr.flush()
        log = (self.work / "tallyd.stderr").read_text()
        lines = [ln for ln in log.splitlines() if "control socket: " in ln]
        busy_lines = [ln for ln in lines if "busy_per_client" in ln]
        total = sum(v for v in refused.values())
        # One line at the first refusal of a reason, then at most one per 10 s and reason.
        self.check(1 <= len(busy_lines) <= 2 + int(ABUSE_S / 10) + 1,
                   "refusals logged rate-limited (%d line(s) for %d refusals)" % (len(lines), total),
                   "\n".join(lines[:10]))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.tallyd is not None and self.tallyd.poll() is None:
            self.tallyd.send_signal(signal.SIGTERM)
            try:
                rc = self.tallyd.wait(timeout=60)
                self.check(rc == 0, "tallyd stopped cleanly (exit %d)" % rc)
            except subprocess.TimeoutExpired:
                self.tallyd.kill()
                self.tallyd.wait()
                self.check(False, "tallyd stopped within 60 s of SIGTERM")
        shutil.rmtree(dpdk_runtime_dir(self.prefix), ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tallyd", required=True)
    ap.add_argument("--tallyctl", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    work = Path(args.workdir)
    prepare_workdir(work, ".socket_abuse_test_workdir")
    t = Test(args)
    try:
        t.run()
    finally:
        t.stop()
    sys.exit(1 if t.failures else 0)


if __name__ == "__main__":
    main()
