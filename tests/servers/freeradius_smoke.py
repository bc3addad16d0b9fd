#!/usr/bin/env python3
"""The FreeRadius harness (tests/servers/servers.py) against the real server: proves what the
RADIUS accounting tests rely on.

- Status-Server is answered on the accounting and the auth port;
- Start / Interim-Update / Stop sent with radclient are answered and land in the detail file
  with the exact attributes (octets, gigawords, Framed-IP-Address, Acct-Session-Id);
- a noanswer user is never answered and never recorded;
- a delay user is answered (and recorded) only after delay_s;
- pause() (SIGSTOP): no answer; resume(): the queued request is processed late and recorded;
- debug=False (multi-threaded, quiet) comes up, answers and records the same way;
- stop() ends the server by its PID and frees both ports.

Exit 77 (meson: skipped) without FreeRADIUS (apt-get install freeradius freeradius-utils) or
when not root (the config copy is root:freerad 0640; the server drops to freerad).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

FAILS = []


def check(ok, what, detail=""):
    print("%s %s%s" % ("ok  " if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
    if not ok:
        FAILS.append(what)


def attrs(status, session, extra=""):
    return ('Acct-Status-Type = %s, User-Name = "subscriber1", Acct-Session-Id = "%s", '
            'NAS-IP-Address = 127.0.0.1, NAS-Port = 1, Framed-IP-Address = 10.0.0.5%s'
            % (status, session, extra))


def main():
    if not servers.freeradius_available():
        print("freeradius/radclient not installed (apt-get install freeradius freeradius-utils): "
              "skipped")
        return 77
    if os.geteuid() != 0:
        print("needs root (the FreeRADIUS config copy): skipped")
        return 77

    with servers.FreeRadius(delay_users=("slow",), delay_s=1.0) as r:
        print("FreeRADIUS -X pid %d acct 127.0.0.1:%d auth 127.0.0.1:%d"
              % (r.proc.pid, r.acct_port, r.auth_port))
        check(r.status(), "Status-Server answered on the accounting port")
        check(r.status(r.auth_port), "Status-Server answered on the auth port")

        sent = [
            ("Start", attrs("Start", "GW1-0001", ", Event-Timestamp = 1763770000")),
            ("Interim-Update", attrs("Interim-Update", "GW1-0001",
                                     ", Acct-Session-Time = 300, Acct-Input-Octets = 123456,"
                                     " Acct-Output-Octets = 654321")),
            ("Stop", attrs("Stop", "GW1-0001",
                           ", Acct-Session-Time = 600, Acct-Input-Octets = 4294967295,"
                           " Acct-Input-Gigawords = 2, Acct-Output-Octets = 7,"
                           " Acct-Output-Gigawords = 0, Acct-Terminate-Cause = User-Request")),
        ]
        for name, text in sent:
            p = r.radclient(text)
            check(p.returncode == 0 and "Received Accounting-Response" in p.stdout,
                  "%s answered" % name, p.stdout + p.stderr)
        recs = r.wait_detail(3)
        check(len(recs) == 3, "3 records in the detail file", "%d" % len(recs))
        want = [
            {"Acct-Status-Type": "Start", "Event-Timestamp": "Nov 22 2025 00:06:40 UTC"},
            {"Acct-Status-Type": "Interim-Update", "Acct-Session-Time": "300",
             "Acct-Input-Octets": "123456", "Acct-Output-Octets": "654321"},
            {"Acct-Status-Type": "Stop", "Acct-Session-Time": "600",
             "Acct-Input-Octets": "4294967295", "Acct-Input-Gigawords": "2",
             "Acct-Output-Octets": "7", "Acct-Output-Gigawords": "0",
             "Acct-Terminate-Cause": "User-Request"},
        ]
        for rec, w in zip(recs, want):
            w = dict(w, **{"User-Name": "subscriber1", "Acct-Session-Id": "GW1-0001",
                           "Framed-IP-Address": "10.0.0.5", "NAS-Port": "1"})
            bad = {k: (rec.get(k), v) for k, v in w.items() if rec.get(k) != v}
            check(not bad and rec.get("_time") and "Timestamp" in rec,
                  "detail record %s has the exact attributes" % w["Acct-Status-Type"],
                  "%s in %s" % (bad, rec))

        t0 = time.monotonic()
        p = r.radclient(attrs("Start", "GW1-NOANSWER").replace("subscriber1", "noanswer"),
                        retries=1, timeout_s=1)
        check(p.returncode != 0 and "No reply" in p.stdout, "noanswer user: no answer",
              p.stdout)
        check("Not sending reply to client" in r.log(), "noanswer user: the server dropped it")

        t0 = time.monotonic()
        p = r.radclient(attrs("Start", "GW1-SLOW").replace("subscriber1", "slow"),
                        retries=1, timeout_s=5)
        took = time.monotonic() - t0
        check(p.returncode == 0 and took >= 0.9, "delay user: answered after ~1 s",
              "rc %d after %.2f s" % (p.returncode, took))

        r.pause()
        p = r.radclient(attrs("Start", "GW1-PAUSED"), retries=1, timeout_s=1)
        check(p.returncode != 0, "paused: no answer", p.stdout)
        paused_count = len(r.detail_records())
        r.resume()
        recs = r.wait_detail(paused_count + 1, 5)
        ids = [x.get("Acct-Session-Id") for x in recs]
        check("GW1-PAUSED" in ids[paused_count:], "resumed: the queued request lands late in "
              "the detail file", str(ids))
        check(ids == ["GW1-0001"] * 3 + ["GW1-SLOW", "GW1-PAUSED"],
              "the detail file holds exactly the answered requests", str(ids))
        check(r.status(), "Status-Server answered after resume")
        pid, ports, wd = r.proc.pid, (r.acct_port, r.auth_port), r.dir

    check(not servers._alive(pid), "stop(): process %d gone" % pid)
    check(not os.path.exists(wd), "stop(): work dir removed")
    with open("/proc/net/udp") as f:
        bound = {line.split()[1] for line in f.readlines()[1:]}
    check(not any("0100007F:%04X" % p in bound for p in ports), "stop(): ports freed")

    with servers.FreeRadius(debug=False, threads=2) as r:
        print("FreeRADIUS -f pid %d acct 127.0.0.1:%d" % (r.proc.pid, r.acct_port))
        check(r.status(), "debug=False: Status-Server answered")
        p = r.radclient(attrs("Start", "GW2-0001"))
        check(p.returncode == 0, "debug=False: Start answered", p.stdout + p.stderr)
        recs = r.wait_detail(1)
        check([x.get("Acct-Session-Id") for x in recs] == ["GW2-0001"],
              "debug=False: recorded", str(recs))
        p = r.radclient(attrs("Start", "GW2-NOANSWER").replace("subscriber1", "noanswer"))
        check(p.returncode != 0, "debug=False: noanswer user not answered")
        check("Ready to process requests" in r.log(), "debug=False: log() has the Ready line")

    print("freeradius_smoke: %s" % ("FAILED: " + "; ".join(FAILS) if FAILS else "all ok"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
