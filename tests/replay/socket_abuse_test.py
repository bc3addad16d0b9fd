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
import socket
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_util import LiveTallyd, prepare_workdir, write_dns_pcap  # noqa: E402

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
        self.t = LiveTallyd(args.tallyd, args.tallyctl, self.work, "abuse")
        self.sock = self.t.sock
        self.procs = []    # abusers this test started (ended by PID)

    def check(self, ok, what, detail=""):
        print("%s %s%s" % ("PASS" if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
        if not ok:
            self.failures += 1

    def ctl(self, *words, timeout_ms=5000):
        return self.t.ctl(*words, timeout_ms=timeout_ms, timeout_s=120)

    def statistics(self):
        return self.t.statistics()

    def start(self):
        pcap = self.work / "subscribers.pcap"
        write_dns_pcap(pcap, ["10.1.%d.%d" % ((i + 1) >> 8, (i + 1) & 255) for i in range(SUBSCRIBERS)])
        return self.t.start(pcap, SUBSCRIBERS, stderr_mode="w+")

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
        # counters_read_mono_ns: when the counters in the answer were read (a poll's start, on
        # CLOCK_MONOTONIC, as Python's monotonic clock), so that a reader's rates do not depend on
        # how long its request waited. Before the request, not older than a few polls, and moving on.
        reads = []
        for _ in range(2):
            before = time.monotonic_ns()
            st = self.statistics() or {}
            after = time.monotonic_ns()
            reads.append((before, st.get("counters_read_mono_ns", 0), after))
            time.sleep(0.5)
        (b1, t1, a1), (b2, t2, a2) = reads
        self.check(b1 - 2_000_000_000 <= t1 <= a1 and b2 - 2_000_000_000 <= t2 <= a2 and t2 > t1,
                   "statistics say when their counters were read (a recent poll, on the monotonic clock)",
                   "readings %s" % reads)
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
        self.t.stderr.flush()
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
        r = self.t.stop()
        if r is not None:
            rc, in_time = r
            self.check(in_time, "tallyd stopped within 60 s of SIGTERM")
            self.check(rc == 0, "tallyd stopped cleanly (exit %d)" % rc)


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
