#!/usr/bin/python3
"""RADIUS accounting throughput: tally's RadiusClient (bench/radius_bench, driven like tallyd's
poll thread) against FreeRADIUS's radclient -p 256, the same requests to the same local
FreeRADIUS 3.2 in the same run.

One FreeRADIUS per server setting (tests/servers/servers.py FreeRadius, debug=False: `freeradius
-f`, multi-threaded, quiet; 127.0.0.1, free ports, private config, stopped by PID). Server
settings (--buffers): the stock socket receive buffer (net.core.rmem_default) and a 4 MiB one
(listen { recv_buff }). Per round the tools run one after the other (interleaved rounds:
tally max_outstanding 4096 = tallyd's setting, tally max_outstanding 256 = radclient's
parallelism, radclient -p 256; then again), each with --requests requests of its own
(Acct-Session-Id prefix per tool and round; the radclient input is written by radius_bench
--write-radclient from the same generator, so both send the same attributes).

radclient reads its whole input file and walks its list of requests on every turn of its
loop: its CPU time grows with the square of the file's length (measured: 5,000 requests per
file 18 k/s, 20,000 12 k/s, 50,000 6.5 k/s, 100,000 4 k/s, CPU-bound). So it gets its
requests in files of --radclient-chunk (5,000) requests, run one after the other, the wall
clock around them all (a process start, ~10 ms, per file counts against it).

After each run the detail file must hold exactly one record per answered request of that run
(unique Acct-Session-Ids), so no tool is credited for requests the server did not record;
the file is then truncated (the server is idle). Also per run: the server socket's kernel drop
counter (/proc/net/udp "drops": datagrams lost because its receive buffer was full), the
client's retransmissions, and for tally the longest poll iteration and poll-to-poll gap
(target: <= 2 x poll_interval_ms) and CPU time.

Prints one line per run and a table per server setting: medians, the ratio tally / radclient
per round and its median (target: tally >= radclient with every request answered, no poll
gap > 2 x poll_interval_ms). --json FILE writes the figures too; --summary-of FILE prints the
table of such a file again.
Exit 1 when a detail-file check fails or a run fails.

  radius_bench.py --bench BUILD/bench/radius_bench [--rounds 3] [--requests 100000]
                  [--buffers default,4194304] [--threads 4] [--outstanding 4096,256]
                  [--radclient-chunk 5000] [--quick] [--json FILE]
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "servers"))
import servers  # noqa: E402

POLL_MS = 100


def socket_drops(port):
    """The kernel's drop counter of the UDP socket bound to 127.0.0.1:port (/proc/net/udp)."""
    local = "0100007F:%04X" % port
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == local:
                return int(cols[-1])
    return 0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def detail_ids(r, prefix):
    """Acct-Session-Ids of the detail file that start with prefix- (all records, unique)."""
    pat = re.compile(r'^\tAcct-Session-Id = "(%s-[0-9a-f]+)"$' % re.escape(prefix), re.M)
    ids = pat.findall(r.detail_text())
    return len(ids), len(set(ids))


def settle(r, prefix, want, timeout_s=3.0):
    """Waits (briefly) until the detail file's count for prefix stops changing."""
    end = time.monotonic() + timeout_s
    last = None
    while True:
        n = detail_ids(r, prefix)
        if n[1] >= want and n == last:
            return n
        if time.monotonic() >= end:
            return n
        last = n
        time.sleep(0.2)


def run_tally(bench, r, requests, prefix, outstanding):
    c0 = children_cpu()
    t0 = time.monotonic()
    p = subprocess.run([bench, "--port", str(r.acct_port), "--secret", r.secret, "--requests",
                        str(requests), "--prefix", prefix, "--max-outstanding",
                        str(outstanding), "--poll-ms", str(POLL_MS), "--timeout-ms", "3000",
                        "--retries", "3", "--limit-s", "600"],
                       capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - t0
    lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError("radius_bench failed (%d): %s %s" % (p.returncode, p.stdout[-500:],
                                                               p.stderr[-500:]))
    d = json.loads(lines[-1])
    d["wall"] = wall
    d["cpu_s"] = children_cpu() - c0
    return d


def split_radclient(path, chunk):
    """Splits radclient's input (requests separated by blank lines) into files of `chunk`
    requests: path.0, path.1, ..."""
    with open(path) as f:
        reqs = [x for x in f.read().split("\n\n") if x.strip()]
    paths = []
    for i in range(0, len(reqs), chunk):
        p = "%s.%d" % (path, len(paths))
        with open(p, "w") as f:
            f.write("\n\n".join(reqs[i:i + chunk]) + "\n\n")
        paths.append(p)
    return paths


def run_radclient(r, requests, paths):
    """radclient -p 256 on each file in turn (wall clock around all of them)."""
    answered = lost = 0
    c0 = children_cpu()
    t0 = time.monotonic()
    for path in paths:
        # Same retry rule as tally's client: 4 sends (radclient -r counts sends), 3 s apart.
        p = subprocess.run(["radclient", "-p", "256", "-q", "-s", "-r", "4", "-t", "3", "-f",
                            path, "127.0.0.1:%d" % r.acct_port, "acct", r.secret],
                           capture_output=True, text=True, timeout=900)
        out = p.stdout + p.stderr
        acc = re.search(r"Accepted\s*:\s*(\d+)", out)
        lo = re.search(r"Lost\s*:\s*(\d+)", out)
        if not acc:
            raise RuntimeError("radclient: no summary (%d): %s" % (p.returncode, out[-500:]))
        answered += int(acc.group(1))
        lost += int(lo.group(1)) if lo else 0
    wall = time.monotonic() - t0
    return {"tool": "radclient", "requests": requests, "seconds": wall, "wall": wall,
            "rate": answered / wall if wall > 0 else 0, "answered": answered,
            "no_answer": lost, "retransmissions": None, "cpu_s": children_cpu() - c0,
            "files": len(paths)}


def fmt_run(d):
    extra = ""
    if d["tool"] != "radclient":
        extra = ", max poll %.1f ms (calls %.2f ms), max gap %.1f ms, retrans %d" % (
            d["max_poll_ms"], d["max_calls_ms"], d["max_gap_ms"], d["retransmissions"])
    return ("%-14s %7d req %7.2f s %8.0f /s  answered %d, no-answer %d, detail %d (%s), "
            "server drops %d, CPU %.2f s%s" % (
                d["label"], d["requests"], d["seconds"], d["rate"], d["answered"],
                d["no_answer"], d["detail_unique"],
                "ok" if d["detail_ok"] else "MISMATCH", d["server_drops"], d["cpu_s"], extra))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", help="BUILD/bench/radius_bench")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--buffers", default="default,4194304",
                    help="server receive buffers to run with: 'default' or octets, comma-separated")
    ap.add_argument("--threads", type=int, default=4, help="FreeRADIUS worker threads")
    ap.add_argument("--outstanding", default="4096,256",
                    help="tally max_outstanding values (4096: tallyd's)")
    ap.add_argument("--radclient-chunk", type=int, default=5000,
                    help="requests per radclient input file (its cost grows with the square of "
                         "a file's length)")
    ap.add_argument("--quick", action="store_true", help="1 round of 20000 requests")
    ap.add_argument("--json")
    ap.add_argument("--summary-of", metavar="JSON",
                    help="print the summary of an earlier run's --json file and exit")
    args = ap.parse_args()
    if args.summary_of:
        with open(args.summary_of) as f:
            results = json.load(f)
        args.rounds = max(d["round"] for d in results)
        args.requests = results[0]["requests"]
        summarize(results, None, args)
        return 0
    if args.quick:
        args.rounds, args.requests = 1, 20000
    if not servers.freeradius_available() or not os.access("/usr/bin/radclient", os.X_OK):
        print("SKIPPED (apt-get install freeradius freeradius-utils)")
        return 0
    if os.geteuid() != 0:
        print("SKIPPED (needs root for the FreeRADIUS config copy)")
        return 0
    if not args.bench:
        ap.error("--bench is needed")
    outstanding = [int(x) for x in args.outstanding.split(",") if x]
    results = []
    failed = False
    work = tempfile.mkdtemp(prefix="tally-radius-bench-")
    try:
        for bi, buf in enumerate(args.buffers.split(",")):
            recv_buff = None if buf == "default" else int(buf)
            with servers.FreeRadius(debug=False, threads=args.threads,
                                    recv_buff=recv_buff) as r:
                with open("/proc/sys/net/core/rmem_default") as f:
                    rmem = int(f.read())
                setting = ("stock receive buffer (rmem_default %d KiB)" % (rmem // 1024)
                           if recv_buff is None else "recv_buff %d KiB" % (recv_buff // 1024))
                print("FreeRADIUS -f, %d threads, %s, 127.0.0.1:%d" % (args.threads, setting,
                                                                      r.acct_port), flush=True)
                for rnd in range(args.rounds):
                    tools = [("tally", o) for o in outstanding] + [("radclient", 256)]
                    for tool, o in tools:
                        prefix = "%s%d-%d-%d" % ("T" if tool == "tally" else "R", o, bi, rnd)
                        label = "tally(%d)" % o if tool == "tally" else "radclient(256)"
                        drops0 = socket_drops(r.acct_port)
                        try:
                            if tool == "tally":
                                d = run_tally(args.bench, r, args.requests, prefix, o)
                            else:
                                path = os.path.join(work, "radclient.txt")
                                subprocess.run([args.bench, "--write-radclient", path,
                                                "--requests", str(args.requests), "--prefix",
                                                prefix], check=True)
                                paths = split_radclient(path, args.radclient_chunk)
                                d = run_radclient(r, args.requests, paths)
                                for x in [path] + paths:
                                    os.unlink(x)
                        except (RuntimeError, subprocess.SubprocessError) as e:
                            print("  %s round %d FAILED: %s" % (label, rnd + 1, e), flush=True)
                            failed = True
                            continue
                        total, unique = settle(r, prefix, d["answered"])
                        d.update(label=label, setting=setting, round=rnd + 1,
                                 server_drops=socket_drops(r.acct_port) - drops0,
                                 detail_records=total, detail_unique=unique,
                                 detail_ok=unique == d["answered"])
                        if not d["detail_ok"]:
                            failed = True
                        os.truncate(r.detail_path, 0)
                        results.append(d)
                        print("  round %d: %s" % (rnd + 1, fmt_run(d)), flush=True)
        summarize(results, outstanding, args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        subprocess.run(["rm", "-rf", work])
    return 1 if failed else 0


def summarize(results, outstanding, args):
    print()
    print("Summary: %d rounds x %d requests per tool (Start/Interim/Stop), medians; ratio = "
          "tally / radclient req/s of the same round" % (args.rounds, args.requests))
    print("  %-44s %-14s %9s %8s %9s %8s %10s %12s" % (
        "server", "tool", "req/s", "ratio", "no-answer", "drops", "max gap ms", "max poll ms"))
    for setting in dict.fromkeys(d["setting"] for d in results):
        rows = [d for d in results if d["setting"] == setting]
        rc = {d["round"]: d["rate"] for d in rows if d["tool"] == "radclient"}
        for label in dict.fromkeys(d["label"] for d in rows):
            mine = [d for d in rows if d["label"] == label]
            rate = statistics.median(d["rate"] for d in mine)
            drops = sum(d["server_drops"] for d in mine)
            lost = sum(d["no_answer"] for d in mine)
            ratios = [d["rate"] / rc[d["round"]] for d in mine
                      if d["tool"] != "radclient" and rc.get(d["round"])]
            if mine[0]["tool"] == "radclient":
                print("  %-44s %-14s %9.0f %8s %9d %8d" % (setting, label, rate, "", lost, drops))
                continue
            gap = max(d["max_gap_ms"] for d in mine)
            poll = max(d["max_poll_ms"] for d in mine)
            ratio = statistics.median(ratios) if ratios else None
            # Met: at least radclient's rate, every request answered, no poll gap > 2 intervals.
            ok = ratio is not None and ratio >= 1 and gap <= 2 * POLL_MS and lost == 0
            print("  %-44s %-14s %9.0f %8s %9d %8d %10.1f %12.1f  per round %s; target %s%s" % (
                setting, label, rate, "%.2f" % ratio if ratio else "-", lost, drops, gap, poll,
                " ".join("%.2f" % x for x in ratios), "met" if ok else "MISSED",
                " (unanswered requests)" if lost else ""))


if __name__ == "__main__":
    sys.exit(main())
