#!/usr/bin/env python3
"""The bill-server transports (controlplane/bill) against real servers: OpenSSH sshd (SFTP) and
tftpd-hpa (TFTP), started per run on 127.0.0.1 / ::1 at free ports (tests/servers/servers.py).

Runs build/tests/upload_tool (the production SftpTransport / TftpTransport) and checks the
result status, the file on the server (byte for byte), what is *not* on the server after a
refusal, the time a stalled server takes to be given up, and descriptor leaks over 100 failed
transfers in one process. Needs root. Exit 0 when every check passed.
"""

import argparse
import filecmp
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
import servers  # noqa: E402

FAILS = []
PASSES = []


def check(cond, what, info=""):
    if cond:
        PASSES.append(what)
        print("PASS %s" % what, flush=True)
    else:
        FAILS.append(what)
        print("FAIL %s %s" % (what, info), flush=True)
    return cond


def make_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    return path


class Tool:
    def __init__(self, exe):
        self.exe = exe

    def args(self, proto, addr, port, local, remote, user=None, password=None, key=None,
             known_hosts=None, timeout_ms=5000, repeat=1, extra=()):
        a = [self.exe, "--protocol", proto, "--address", addr, "--port", str(port), "--timeout",
             str(timeout_ms)]
        env = dict(os.environ)
        if user:
            a += ["--user", user]
        if password is not None:
            env["TALLY_TEST_PW"] = password
            a += ["--password-env", "TALLY_TEST_PW"]
        if key:
            a += ["--key", key]
        if known_hosts:
            a += ["--known-hosts", known_hosts]
        if repeat > 1:
            a += ["--repeat", str(repeat)]
        a += list(extra) + [local, remote]
        return a, env

    def run(self, *pos, **kw):
        a, env = self.args(*pos, **kw)
        r = subprocess.run(a, env=env, capture_output=True, text=True, timeout=900)
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        if not lines:
            raise RuntimeError("upload_tool printed nothing (rc %d): %s" % (r.returncode,
                                                                            r.stderr))
        return r.returncode, lines[-1], lines

    def popen(self, *pos, **kw):
        a, env = self.args(*pos, **kw)
        return subprocess.Popen(a, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


def sftp_checks(tool, work):
    with servers.Sshd(ipv6=os.path.exists("/proc/net/if_inet6")) as s:
        up = s.upload_dir
        small = make_file(os.path.join(work, "bill_small.cdr"), 3 * 1024 * 1024 + 17)
        base = dict(user=s.user, known_hosts=s.known_hosts)

        # Password login, byte for byte.
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, small, "pw.cdr", password=s.password,
                            **base)
        check(rc == 0 and r["status"] == "ok", "sftp password upload ok", r)
        check(os.path.exists(os.path.join(up, "pw.cdr")) and
              filecmp.cmp(small, os.path.join(up, "pw.cdr"), shallow=False),
              "sftp password upload: server file equals local file")
        check(not os.path.exists(os.path.join(up, "pw.cdr.part")), "sftp: no .part left")
        check(r["bytes"] == os.path.getsize(small), "sftp: bytes reported", r)

        # Key login.
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, small, "key.cdr", key=s.client_key,
                            **base)
        check(rc == 0 and r["status"] == "ok", "sftp key upload ok", r)
        check(os.path.exists(os.path.join(up, "key.cdr")) and
              filecmp.cmp(small, os.path.join(up, "key.cdr"), shallow=False),
              "sftp key upload: server file equals local file")
        # Key without its .pub next to it (public key derived from the private key).
        nopub = os.path.join(work, "client_nopub")
        with open(s.client_key, "rb") as src, open(nopub, "wb") as dst:
            dst.write(src.read())
        os.chmod(nopub, 0o600)
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, small, "key2.cdr", key=nopub, **base)
        check(r["status"] == "ok" and
              filecmp.cmp(small, os.path.join(up, "key2.cdr"), shallow=False),
              "sftp key upload without .pub file", r)

        # IPv6.
        if s.ipv6:
            rc, r, _ = tool.run("sftp", "::1", s.port, small, "v6.cdr", password=s.password,
                                **base)
            check(r["status"] == "ok" and
                  filecmp.cmp(small, os.path.join(up, "v6.cdr"), shallow=False),
                  "sftp upload over IPv6 [::1]", r)

        # The same name again: already there, nothing sent.
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, small, "pw.cdr", password=s.password,
                            **base)
        check(rc == 0 and r["status"] == "already-there" and r["bytes"] == 0,
              "sftp second upload of the same name -> already-there", r)
        # The name exists with another size: remote, the server's file untouched.
        other = make_file(os.path.join(work, "other.cdr"), 1000)
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, other, "pw.cdr", password=s.password,
                            **base)
        check(rc != 0 and r["status"] == "remote" and "exists" in r["detail"],
              "sftp name exists with another size -> remote", r)
        check(filecmp.cmp(small, os.path.join(up, "pw.cdr"), shallow=False),
              "sftp: the existing file is untouched")

        # Wrong host key: host-key-changed, nothing on the server.
        bad_kh = os.path.join(work, "known_hosts_changed")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(work, "otherhost")], check=True)
        with open(os.path.join(work, "otherhost.pub")) as f:
            other_key = " ".join(f.read().split()[:2])
        with open(bad_kh, "w") as f:
            f.write(s.known_hosts_line(key=other_key))
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, small, "hk.cdr", password=s.password,
                            user=s.user, known_hosts=bad_kh)
        check(rc != 0 and r["status"] == "host-key-changed", "sftp wrong host key -> "
              "host-key-changed", r)
        check(not os.path.exists(os.path.join(up, "hk.cdr")) and
              not os.path.exists(os.path.join(up, "hk.cdr.part")),
              "sftp wrong host key: no file on the server")

        # Unknown host (an entry for another port only).
        unk_kh = os.path.join(work, "known_hosts_unknown")
        with open(unk_kh, "w") as f:
            f.write(s.known_hosts_line(port=s.port + 1 if s.port < 65535 else s.port - 1))
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, small, "unk.cdr", password=s.password,
                            user=s.user, known_hosts=unk_kh)
        check(rc != 0 and r["status"] == "host-key-unknown", "sftp unknown host -> "
              "host-key-unknown", r)
        check(not os.path.exists(os.path.join(up, "unk.cdr")) and
              not os.path.exists(os.path.join(up, "unk.cdr.part")),
              "sftp unknown host: no file on the server")

        # Wrong password: auth, the password not in the detail.
        rc, r, _ = tool.run("sftp", "127.0.0.1", s.port, small, "badpw.cdr",
                            password="Wrong-Pass-123", **base)
        check(rc != 0 and r["status"] == "auth", "sftp wrong password -> auth", r)
        check("Wrong-Pass-123" not in r["detail"], "sftp: the password is not in the detail")
        check(not os.path.exists(os.path.join(up, "badpw.cdr.part")),
              "sftp wrong password: no file on the server")

        # Nothing listening: connect.
        rc, r, _ = tool.run("sftp", "127.0.0.1", servers.free_port("tcp"), small, "c.cdr",
                            password=s.password, **base)
        check(r["status"] == "connect", "sftp no server -> connect", r)

        stall_checks(tool, s, work)


def wait_part(path, min_size, timeout_s, proc=None):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if os.path.getsize(path) >= min_size:
                return True
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.002)
    return False


def stall_checks(tool, s, work):
    up = s.upload_dir
    big = make_file(os.path.join(work, "bill_big.cdr"), 256 * 1024 * 1024)
    base = dict(user=s.user, known_hosts=s.known_hosts, password=s.password)

    # One stall, measured: the session child SIGSTOPped mid-transfer.
    deadline_ms = 2000
    before = set(s.sessions())
    p = tool.popen("sftp", "127.0.0.1", s.port, big, "stall.cdr", timeout_ms=deadline_ms, **base)
    got = wait_part(os.path.join(up, "stall.cdr.part"), 4 << 20, 30, p)
    new = [x for x in s.sessions() if x not in before]
    stopped = []
    t_stop = time.monotonic()
    if got and new:
        for pid in new:
            stopped += s.stop_session(pid)
        t_stop = time.monotonic()
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    took = time.monotonic() - t_stop
    for pid in stopped:
        servers.kill_now(pid)
    r = json.loads(out.splitlines()[-1]) if out.strip() else {}
    check(got and bool(new), "sftp stall: transfer under way, session child found",
          "part seen %s, new sessions %s" % (got, new))
    check(r.get("status") == "timeout", "sftp session child SIGSTOPped mid-transfer -> timeout",
          r)
    print("     stall: deadline %d ms, given up %.0f ms after SIGSTOP, %s of %d bytes sent" %
          (deadline_ms, took * 1000, r.get("bytes"), os.path.getsize(big)), flush=True)
    check(0.8 * deadline_ms / 1000 <= took <= deadline_ms / 1000 + 1.5,
          "sftp stall: given up within roughly the deadline (%.2f s for %d ms)" %
          (took, deadline_ms))
    check(not os.path.exists(os.path.join(up, "stall.cdr")), "sftp stall: no final file")

    # 100 stalls in one process: no descriptor leaked.
    n = 100
    deadline_ms = 300
    before = set(s.sessions())
    p = tool.popen("sftp", "127.0.0.1", s.port, big, "loop.cdr", timeout_ms=deadline_ms,
                   repeat=n, **base)
    seen = set(before)
    prev = []
    missed = 0
    for i in range(n):
        part = os.path.join(up, "loop.cdr-%d.part" % i)
        if not wait_part(part, 1 << 20, 30, p):
            missed += 1
            break
        new = [x for x in s.sessions() if x not in seen]
        seen.update(new)
        cur = []
        for pid in new:
            cur += s.stop_session(pid)
        for pid in prev:  # the previous one has been given up by now
            servers.kill_now(pid)
        prev = cur
        try:
            os.unlink(part)  # keep the disk use small
        except FileNotFoundError:
            pass
    try:
        out, _ = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    for pid in prev:
        servers.kill_now(pid)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    summary = lines[-1] if lines and lines[-1].get("summary") else {}
    print("     loop: %s" % json.dumps(summary), flush=True)
    check(missed == 0, "sftp loop: every transfer was under way when stopped")
    check(summary.get("counts", {}).get("timeout") == n,
          "sftp loop: %d stalled transfers -> %d timeouts" % (n, n), summary.get("counts"))
    check(summary.get("fds_after") == summary.get("fds_after_first") and
          summary.get("fds_after", 99) <= summary.get("fds_before", -1) + 1,
          "sftp loop: no descriptor leaked over %d failures (before %s, after first %s, "
          "after %s)" % (n, summary.get("fds_before"), summary.get("fds_after_first"),
                         summary.get("fds_after")))
    os.unlink(big)


def tftp_checks(tool, work):
    data = make_file(os.path.join(work, "bill_tftp.cdr"), 1024 * 1024 + 333)
    with servers.Tftpd() as t:
        rc, r, _ = tool.run("tftp", "127.0.0.1", t.port, data, "t.cdr")
        check(rc == 0 and r["status"] == "ok", "tftp upload ok", r)
        check(os.path.exists(os.path.join(t.root, "t.cdr")) and
              filecmp.cmp(data, os.path.join(t.root, "t.cdr"), shallow=False),
              "tftp upload: server file equals local file")
        rc, r, _ = tool.run("tftp", "127.0.0.1", t.port, data, "t512.cdr",
                            extra=["--blksize", "512"])
        check(r["status"] == "ok" and
              filecmp.cmp(data, os.path.join(t.root, "t512.cdr"), shallow=False),
              "tftp upload at blksize 512", r)
        # A root-owned 0644 file the server (user tftp) may not overwrite: a TFTP error packet.
        ro = os.path.join(t.root, "ro.cdr")
        with open(ro, "w") as f:
            f.write("keep")
        os.chmod(ro, 0o644)
        rc, r, _ = tool.run("tftp", "127.0.0.1", t.port, data, "ro.cdr")
        check(rc != 0 and r["status"] == "remote" and "TFTP error" in r["detail"] and
              "getpeername" not in r["detail"], "tftp error packet -> remote with its meaning", r)
        # Too large: refused before anything is sent.
        big = os.path.join(work, "big_tftp.cdr")
        with open(big, "wb") as f:
            f.truncate(40 * 1024 * 1024)
        rc, r, _ = tool.run("tftp", "127.0.0.1", t.port, big, "big.cdr")
        check(rc != 0 and r["status"] == "too-large" and r["bytes"] == 0,
              "tftp too-large file refused", r)
        check(not os.path.exists(os.path.join(t.root, "big.cdr")),
              "tftp too-large: nothing on the server")
        os.unlink(big)
    if os.path.exists("/proc/net/if_inet6"):
        with servers.Tftpd(host="::1") as t6:
            rc, r, _ = tool.run("tftp", "::1", t6.port, data, "t6.cdr")
            check(r["status"] == "ok" and
                  filecmp.cmp(data, os.path.join(t6.root, "t6.cdr"), shallow=False),
                  "tftp upload over IPv6 [::1]", r)
    # No server: timeout within roughly the deadline.
    port = servers.free_port("udp")
    start = time.monotonic()
    rc, r, _ = tool.run("tftp", "127.0.0.1", port, data, "none.cdr", timeout_ms=1500)
    took = time.monotonic() - start
    check(r["status"] == "timeout", "tftp server absent -> timeout", r)
    check(took < 1.5 + 0.01 * (os.path.getsize(data) / 512 + 1) + 2.0,
          "tftp server absent: given up in %.2f s" % took)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--upload-tool", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", choices=["sftp", "tftp"])
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("transport_it: needs root (SFTP test user, chown); skipped")
        return 77
    os.makedirs(a.workdir, exist_ok=True)
    tool = Tool(os.path.abspath(a.upload_tool))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the context managers' cleanup
    if a.only in (None, "sftp"):
        sftp_checks(tool, a.workdir)
    if a.only in (None, "tftp"):
        tftp_checks(tool, a.workdir)
    print("%d passed, %d failed" % (len(PASSES), len(FAILS)))
    for f in FAILS:
        print("  failed: %s" % f)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
