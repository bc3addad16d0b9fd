#!/usr/bin/env python3
"""tally's RADIUS codec against FreeRADIUS's radclient (freeradius-utils), both directions.

- radclient sends the Accounting-Request Stop of tests/radius/stop_attrs.txt to radius_peer (a
  server made of tally's codec): the peer verifies radclient's Request Authenticator and checks
  that tally encodes the same attributes with radclient's Identifier byte for byte; it answers
  with a tally-built Accounting-Response, which radclient must accept (its own MD5 check).
- radclient sends a Status-Server with Message-Authenticator: the peer verifies the HMAC-MD5,
  answers Access-Accept with a tally-built Message-Authenticator; radclient must accept it.
- Negative controls, to show radclient really checks: a flipped Response Authenticator and a
  wrong Message-Authenticator must both be refused by radclient (no reply accepted).

Exit 77 (meson: skipped) when radclient is not installed.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "testing123"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_case(peer, name, command, attrs_text, mode, want_accept, want_refusal=None):
    port = free_port()
    proc = subprocess.Popen([peer, str(port), SECRET, mode, "1"], stderr=subprocess.PIPE,
                            text=True)
    try:
        # The peer binds at once; radclient retries once if its first datagram came too early.
        rc = subprocess.run(["radclient", "-x", "-r", "2", "-t", "1", f"127.0.0.1:{port}",
                             command, SECRET], input=attrs_text, capture_output=True,
                            text=True, timeout=30)
        try:
            peer_rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            peer_rc = -1
    finally:
        if proc.poll() is None:
            proc.kill()
    peer_err = proc.stderr.read()
    out = rc.stdout + rc.stderr
    # radclient -x prints "Received Accounting-Response Id N ..." for a reply it accepted and
    # "Reply verification failed: Received ... with invalid ..." for one it refused.
    accepted = (rc.returncode == 0 and "verification failed" not in out and
                any(f"Received {c} Id" in out for c in ("Accounting-Response", "Access-Accept")))
    ok = peer_rc == 0 and accepted == want_accept
    if want_refusal is not None and want_refusal not in out:
        ok = False  # refused, but not for the reason the negative control is about
    print(f"{'ok  ' if ok else 'FAIL'} {name}: radclient rc={rc.returncode} "
          f"accepted={accepted} (want {want_accept}), peer rc={peer_rc}")
    if not ok:
        print("  radclient:\n    " + out.replace("\n", "\n    "))
        print("  peer:\n    " + peer_err.replace("\n", "\n    "))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    args = ap.parse_args()
    if shutil.which("radclient") is None:
        print("radclient not installed (apt-get install freeradius-utils): skipped")
        return 77
    with open(os.path.join(HERE, "stop_attrs.txt")) as f:
        stop = f.read()
    status = 'NAS-Identifier = "tally-gw1"\nMessage-Authenticator = 0x00\n'
    results = [
        run_case(args.peer, "Accounting-Request Stop", "acct", stop, "good", True),
        run_case(args.peer, "Status-Server", "status", status, "good", True),
        run_case(args.peer, "Accounting-Response with a bad authenticator", "acct", stop,
                 "bad-auth", False, "invalid Response Authenticator"),
        run_case(args.peer, "Access-Accept with a bad Message-Authenticator", "status", status,
                 "bad-ma", False, "invalid Message-Authenticator"),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
