#!/usr/bin/python3
"""SFTP upload speed: tally's transport (libssh2, controlplane/bill/sftp_transport) against
OpenSSH's `sftp` client, the same 200 MiB bill file to the same real sshd in the same run.

One OpenSSH sshd (tests/servers/servers.py: 127.0.0.1, a free port, its own temporary config,
stopped by PID), ed25519 key login for both clients, known_hosts checked by both. Rounds are
interleaved (tally, openssh, tally, openssh, ...) so drift of the shared machine hits both;
each upload's server file is compared to the source by size and SHA-256 and then removed.

Prints one line per upload and a summary: medians (MiB/s) and the ratio tally / OpenSSH
(target >= 0.9, docs/storage.md). With --json FILE, the figures are written there too.

  sftp_bench.py --upload-tool BUILD/tests/upload_tool [--mib 200] [--rounds 3] [--json FILE]
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "servers"))
import servers  # noqa: E402


def make_file(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            b = os.urandom(min(left, 1 << 20))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def tally_upload(tool, s, local, remote):
    a = [tool, "--protocol", "sftp", "--address", "127.0.0.1", "--port", str(s.port),
         "--user", s.user, "--key", s.client_key, "--known-hosts", s.known_hosts,
         "--timeout", "60000", local, remote]
    t0 = time.monotonic()
    r = subprocess.run(a, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode != 0 or not lines or lines[-1].get("status") != "ok":
        raise RuntimeError("upload_tool failed (rc %d): %s %s" % (r.returncode, r.stdout,
                                                                  r.stderr))
    # Wall time of the process, as for `sftp` below: start, connect, authenticate, upload (with
    # tally's fsync, rename and size check), disconnect.
    return wall


def openssh_upload(s, local, remote, work):
    batch = os.path.join(work, "batch")
    with open(batch, "w") as f:
        f.write("put %s %s\n" % (local, remote))
    a = ["sftp", "-q", "-b", batch, "-P", str(s.port), "-i", s.client_key,
         "-o", "UserKnownHostsFile=" + s.known_hosts, "-o", "StrictHostKeyChecking=yes",
         "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "%s@127.0.0.1" % s.user]
    t0 = time.monotonic()
    r = subprocess.run(a, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("sftp failed (rc %d): %s" % (r.returncode, r.stderr))
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upload-tool", required=True)
    ap.add_argument("--mib", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("sftp_bench: needs root (an SFTP system user for sshd)", file=sys.stderr)
        return 2
    size = args.mib << 20
    work = tempfile.mkdtemp(prefix="tally-sftp-bench-", dir="/var/tmp")
    local = os.path.join(work, "bill.dat")
    digest = make_file(local, size)
    rates = {"tally": [], "openssh": []}
    try:
        with servers.Sshd(log_level="INFO") as s:
            for r in range(args.rounds):
                for who in ("tally", "openssh"):
                    remote = "%s-%d.dat" % (who, r)
                    if who == "tally":
                        secs = tally_upload(args.upload_tool, s, local, remote)
                    else:
                        secs = openssh_upload(s, local, remote, work)
                    got = os.path.join(s.upload_dir, remote)
                    if os.path.getsize(got) != size or sha256(got) != digest:
                        raise RuntimeError("%s: the server file differs from the source" % who)
                    os.unlink(got)
                    rate = args.mib / secs
                    rates[who].append(rate)
                    print("  round %d %-8s %7.2f s %8.1f MiB/s" % (r + 1, who, secs, rate),
                          flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t = statistics.median(rates["tally"])
    o = statistics.median(rates["openssh"])
    ratios = [a / b for a, b in zip(rates["tally"], rates["openssh"])]
    print("SFTP upload of a %d MiB file to a local sshd, %d interleaved rounds: tally %.1f MiB/s, "
          "OpenSSH sftp %.1f MiB/s (medians), ratio %.2f (per round %s), target >= 0.9: %s"
          % (args.mib, args.rounds, t, o, t / o, " ".join("%.2f" % x for x in ratios),
             "met" if t / o >= 0.9 else "MISSED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mib": args.mib, "tally_mib_s": rates["tally"],
                       "openssh_mib_s": rates["openssh"], "ratio": t / o}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
