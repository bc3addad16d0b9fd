#!/usr/bin/python3
"""`tallyctl session identify` over the real control socket of a running tallyd
(net_pcap -> net_null), and the CDRs that follow.

  identity_test.py --tallyd build/tallyd --tallyctl build/tallyctl --workdir DIR

Run 1 (one packet of an unrelated subscriber, so no session of the provisioned ones):
  - `session identify --bulk` with 10 000 identities in one call (all answered ok, the rate
    printed), singles of every form, and every kind of bad input refused with its reason
    (single and bulk: exit 1, an answer per line) without changing the table;
  - the identities wait for their sessions; tallyd stops (SIGTERM).
Run 2 (restart, same state_dir; traffic of 2 000 provisioned subscribers and 1 000 without):
  - the 10 000 identities are back (persistence), every provisioned session carries its one;
  - after the traffic 500 of the 1 000 get an identity (20 singles, 480 in bulk), applied to
    their live sessions;
  - at the stop every CDR of the 2 500 identified subscribers carries their IMSI/MSISDN
    (read with `tallyctl decode`), the other 500 are billed under their address (no IMSI).
Run 3 (restart, subscribers.unknown_identity: hold; 100 provisioned subscribers, 200 without):
  - the 200 are held: their octets count as unattributed no_identity, no CDR; an identity
    releases one (billed from then on); the 100 have CDRs with their IMSI.
Prints PASS/FAIL per check; exits 1 on any failure.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_util import LiveTallyd, prepare_workdir, write_dns_pcap  # noqa: E402

BULK = 10000          # identities provisioned before any traffic (10.1.x.y, i = 1..BULK)
PROVISIONED_TRAFFIC = 2000   # i = 1..2000 send traffic in run 2
LATE = 1000           # 10.2.x.y, j = 1..LATE: traffic without identity
LATE_IDENTIFIED = 500  # of those, identified after their traffic (20 singles, 480 bulk)


def addr(net, i):
    return "10.%d.%d.%d" % (net, i >> 8, i & 255)


def imsi(net, i):
    return "00101%d%09d" % (net, i)


def msisdn(net, i):
    return "4917%d%07d" % (net, i)


class Test:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.workdir).resolve()
        self.failures = 0
        self.t = LiveTallyd(args.tallyd, args.tallyctl, self.work, "identity")

    def check(self, ok, what, detail=""):
        print("%s %s%s" % ("PASS" if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
        sys.stdout.flush()
        if not ok:
            self.failures += 1
        return ok

    def ctl(self, *words, stdin=None, timeout_ms=5000):
        return self.t.ctl(*words, stdin=stdin, timeout_ms=timeout_ms)

    def statistics(self):
        return self.t.statistics()

    def start(self, addresses, sessions, cdr_dir="cdr", unknown_identity=None):
        pcap = self.work / ("run%d.pcap" % len(addresses))
        write_dns_pcap(pcap, addresses)

        def edit(cfg):
            if unknown_identity:
                cfg["subscribers"]["unknown_identity"] = unknown_identity
            cfg["local_aaa_server"]["local_bill"]["cfcard"]["path"] = str(self.work / cdr_dir)
        return self.t.start(pcap, sessions, edit)

    def stop(self):
        r = self.t.stop()
        if r is not None:
            rc, in_time = r
            self.check(in_time, "tallyd stopped within 60 s of SIGTERM")
            self.check(rc == 0, "tallyd stopped cleanly (exit %d)" % rc)

    def provisioned(self):
        return (self.statistics() or {}).get("identities", {}).get("provisioned", -1)

    # ---------------------------------------------------------------------------------------
    def run1(self):
        err = self.start(["10.9.9.9"], 1)
        if not self.check(err is None, "run 1: tallyd up", err or ""):
            return False
        lines = [json.dumps({"address": addr(1, i), "imsi": imsi(1, i), "msisdn": msisdn(1, i),
                             "user_name": "sub%d@example" % i, "cc_profile": 8, "qci": 9})
                 for i in range(1, BULK + 1)]
        t0 = time.monotonic()
        r = self.ctl("session", "identify", "--bulk", stdin="\n".join(lines) + "\n")
        took = time.monotonic() - t0
        answers = [json.loads(x) for x in r.stdout.splitlines()]
        ok = [a for a in answers if a.get("ok") and a.get("state") == "waiting"]
        self.check(r.returncode == 0 and len(answers) == BULK and len(ok) == BULK
                   and [a["line"] for a in answers] == list(range(1, BULK + 1)),
                   "bulk: %d identities in one call, each answered ok/waiting in order" % BULK,
                   "rc %d, %d answers, %d ok, stderr %s; first: %s" % (
                       r.returncode, len(answers), len(ok), r.stderr.strip()[:200],
                       r.stdout.splitlines()[:2]))
        print("     bulk: %d identities in %.2f s (%.0f per second, tallyctl end to end)"
              % (BULK, took, BULK / took))
        self.check(self.provisioned() == BULK, "display statistics counts %d identities" % BULK)

        # Singles: IPv6 and every option; then a replacement of one of the bulk ones.
        r = self.ctl("session", "identify", "2001:db8:0:5::1", "--imsi", "001019999999999",
                     "--msisdn", "4917999", "--user-name", "v6 user", "--imei", "35693803564380",
                     "--cc-profile", "2", "--apn", "corp.example", "--qci", "7")
        self.check(r.returncode == 0 and "stored: waiting for its session" in r.stdout,
                   "single form with every option", r.stdout + r.stderr)
        before = self.provisioned()

        bad = [
            (["10.9.0.1.2", "--imsi", "001010000000001"], "not an IPv4 or IPv6 address"),
            (["192.168.1.1", "--imsi", "001010000000001"], "not in any subscribers.pools"),
            (["10.0.0.1", "--imsi", "001010000000001"], "static subscriber"),
            (["10.3.0.1", "--imsi", "12345"], "must be 6-15 digits"),
            (["10.3.0.1", "--imsi", "0010100000000011"], "must be 6-15 digits"),
            (["10.3.0.1", "--imsi", "00101x000000001"], "must be 6-15 digits"),
            (["10.3.0.1", "--msisdn", "+4917"], "must be 1-15 digits"),
            (["10.3.0.1", "--msisdn", "4917000000000001"], "must be 1-15 digits"),
            (["10.3.0.1", "--imei", "1234567890123"], "must be 14-16 digits"),
            (["10.3.0.1", "--imei", "12345678901234567"], "must be 14-16 digits"),
            (["10.3.0.1", "--user-name", "x" * 65], "must be 1-64 printable"),
            (["10.3.0.1", "--user-name", "a\x01b"], "must be 1-64 printable"),
            (["10.3.0.1", "--apn", "a..b"], "apn 'a..b'"),
            (["10.3.0.1", "--apn", "bad_apn"], "apn 'bad_apn'"),
            (["10.3.0.1", "--cc-profile", "3"], "must be one of the CC profiles"),
            (["10.3.0.1", "--cc-profile", "70000"], "must be one of the CC profiles"),
            (["10.3.0.1", "--qci", "0"], "allowed 1-255"),
            (["10.3.0.1", "--qci", "256"], "allowed 1-255"),
            (["10.3.0.1"], "no identity given"),
            (["10.3.0.1", "--imsi"], "needs a value"),
            (["10.3.0.1", "--colour", "red"], "unknown option"),
            (["10.3.0.1", "--remove"], "no provisioned identity"),
        ]
        refused = 0
        for words, why in bad:
            r = self.ctl("session", "identify", *words)
            if r.returncode == 1 and why in r.stderr:
                refused += 1
            else:
                self.check(False, "refused: session identify %s" % " ".join(words),
                           "rc %d: %s" % (r.returncode, (r.stdout + r.stderr).strip()[:300]))
        self.check(refused == len(bad), "every bad single input refused with its reason (%d)" % len(bad))

        bad_lines = [
            ("not json", "not a JSON object"),
            ('{"imsi":"001010000000001"}', "no \\\"address\\\""),
            ('{"address":"10.3.0.1","imsi":1010000000001}', "must be a string of digits"),
            ('{"address":"10.3.0.1","imsi":"1234"}', "must be 6-15 digits"),
            ('{"address":"10.3.0.1","msisdn":"49-17"}', "must be 1-15 digits"),
            ('{"address":"10.3.0.1","imei":"1"}', "must be 14-16 digits"),
            ('{"address":"10.3.0.1","user_name":""}', "must be 1-64 printable"),
            ('{"address":"10.3.0.1","apn":".x"}', "apn '.x'"),
            ('{"address":"10.3.0.1","cc_profile":9}', "must be one of the CC profiles"),
            ('{"address":"10.3.0.1","qci":300}', "allowed 1-255"),
            ('{"address":"10.3.0.1","ismi":"001010000000001"}', "unknown key"),
            ('{"address":"172.16.0.1","imsi":"001010000000001"}', "not in any subscribers.pools"),
            ('{"address":"10.0.0.1","imsi":"001010000000001"}', "static subscriber"),
            ("", "empty line"),
        ]
        good = '{"address":"10.3.0.2","imsi":"001013000000002"}'
        text = "\n".join([l for l, _ in bad_lines[:7]] + [good] + [l for l, _ in bad_lines[7:]]) + "\n"
        r = self.ctl("session", "identify", "--bulk", stdin=text)
        answers = r.stdout.splitlines()
        expect = [w for _, w in bad_lines[:7]] + [None] + [w for _, w in bad_lines[7:]]
        wrong = []
        for n, (a, w) in enumerate(zip(answers, expect), 1):
            j = json.loads(a)
            if j.get("line") != n or (w is None and not j.get("ok")) or (
                    w is not None and (j.get("ok") or w.replace('\\"', '"') not in j.get("error", ""))):
                wrong.append(a)
        self.check(r.returncode == 1 and len(answers) == len(expect) and not wrong,
                   "bulk: every bad line refused with its reason, the good one applied, exit 1",
                   "rc %d, %d answers; wrong: %s" % (r.returncode, len(answers), wrong[:3]))
        self.check(self.provisioned() == before + 1, "bad input changed nothing (%d identities)"
                   % (before + 1))
        # A process feeding identities as they come gets each answer before it sends the next.
        feed = subprocess.Popen([self.args.tallyctl, "--socket", str(self.t.sock), "session",
                                 "identify", "--bulk"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, bufsize=1)
        got = []
        for k in range(1, 4):
            feed.stdin.write(json.dumps({"address": "10.3.1.%d" % k, "msisdn": "49173%d" % k}) + "\n")
            feed.stdin.flush()
            got.append(feed.stdout.readline())   # blocks until tallyctl answers this line
        feed.stdin.close()
        rc = feed.wait(timeout=30)
        self.check(rc == 0 and all('"state":"waiting"' in g for g in got) and
                   [json.loads(g)["line"] for g in got] == [1, 2, 3],
                   "bulk through a pipe: each line answered before the next one is sent", str(got))
        # A subscriber twice in one bulk call (among others): the later line wins.
        twice = [json.dumps({"address": "10.3.2.1", "imsi": "001013000000001"})] + \
                [json.dumps({"address": "10.3.2.%d" % k, "msisdn": "4917%d" % k}) for k in range(2, 200)] + \
                [json.dumps({"address": "10.3.2.1", "imsi": "001013000000999"})]
        r = self.ctl("session", "identify", "--bulk", stdin="\n".join(twice) + "\n")
        self.check(r.returncode == 0, "bulk with a subscriber twice", r.stderr)
        # Remove one, and see the removal answered.
        r = self.ctl("session", "identify", "10.3.0.2", "--remove")
        self.check(r.returncode == 0 and "removed" in r.stdout, "--remove", r.stdout + r.stderr)
        self.stop()
        stored = (self.work / "state" / "identities.jsonl").read_text().splitlines()
        self.check(len(stored) == BULK + 1 + 3 + 199, "identities.jsonl holds %d identities after the stop"
                   % (BULK + 1 + 3 + 199), "%d lines" % len(stored))
        line = [json.loads(x) for x in stored if '"10.3.2.1"' in x]
        self.check(line == [{"address": "10.3.2.1", "imsi": "001013000000999"}],
                   "the later line for a subscriber won", str(line))
        return True

    def run2(self):
        traffic = [addr(1, i) for i in range(1, PROVISIONED_TRAFFIC + 1)] + \
                  [addr(2, j) for j in range(1, LATE + 1)]
        err = self.start(traffic, len(traffic))
        if not self.check(err is None, "run 2 (restart): tallyd up with %d sessions"
                          % len(traffic), err or ""):
            return
        self.check(self.provisioned() == BULK + 1 + 3 + 199, "run 2: the %d identities are back "
                   "after the restart" % (BULK + 1 + 3 + 199), str(self.provisioned()))
        r = self.ctl("display", "session", addr(1, 7), "--json")
        s = json.loads(r.stdout) if r.returncode == 0 else {}
        self.check(s.get("imsi") == imsi(1, 7) and s.get("identified") is True,
                   "a session opened after the restart carries its stored identity", r.stdout[:300])
        # After the traffic: 20 singles, 480 in bulk, applied to the live sessions.
        singles_ok = 0
        for j in range(1, 21):
            r = self.ctl("session", "identify", addr(2, j), "--imsi", imsi(2, j), "--msisdn", msisdn(2, j))
            singles_ok += r.returncode == 0 and "applied to session" in r.stdout
        self.check(singles_ok == 20, "20 singles applied to live sessions (%d)" % singles_ok)
        lines = [json.dumps({"address": addr(2, j), "imsi": imsi(2, j), "msisdn": msisdn(2, j)})
                 for j in range(21, LATE_IDENTIFIED + 1)]
        r = self.ctl("session", "identify", "--bulk", stdin="\n".join(lines) + "\n")
        answers = [json.loads(x) for x in r.stdout.splitlines()]
        self.check(r.returncode == 0 and len(answers) == len(lines) and
                   all(a.get("state") == "applied" and a.get("session") for a in answers),
                   "bulk after the traffic: %d applied to live sessions" % len(lines),
                   "rc %d %s" % (r.returncode, r.stdout.splitlines()[:2]))
        st = self.statistics() or {}
        self.check(st.get("qos_changes_ignored", -1) == 0 and st.get("qos_changes", -1) == 0,
                   "an identity's QCI is the initial QoS, no QoS change (applied or ignored)",
                   "qos_changes %s, ignored %s" % (st.get("qos_changes"), st.get("qos_changes_ignored")))
        self.stop()
        files = sorted(str(p) for p in (self.work / "cdr").glob("*.cdr"))
        r = subprocess.run([self.args.tallyctl, "decode"] + files, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if not self.check(r.returncode == 0, "tallyctl decode of %d files" % len(files), r.stderr[:300]):
            return
        by_sub = {}
        for line in r.stdout.splitlines():
            rec = json.loads(line)
            by_sub.setdefault(rec.get("servedPDPPDNAddress"), []).append(rec)
        wrong = []
        for i in range(1, PROVISIONED_TRAFFIC + 1):
            for rec in by_sub.get(addr(1, i), [None]):
                if rec is None or rec.get("servedIMSI") != imsi(1, i) or \
                        rec.get("servedMSISDN") != msisdn(1, i):
                    wrong.append((addr(1, i), rec and rec.get("servedIMSI")))
        self.check(not wrong, "every CDR of the %d subscribers provisioned before their traffic "
                   "carries their IMSI/MSISDN" % PROVISIONED_TRAFFIC, str(wrong[:5]))
        wrong = []
        for j in range(1, LATE + 1):
            for rec in by_sub.get(addr(2, j), [None]):
                if rec is None:
                    wrong.append((addr(2, j), "no record"))
                elif j <= LATE_IDENTIFIED and (rec.get("servedIMSI") != imsi(2, j) or
                                               rec.get("servedMSISDN") != msisdn(2, j)):
                    wrong.append((addr(2, j), rec.get("servedIMSI")))
                elif j > LATE_IDENTIFIED and ("servedIMSI" in rec or "servedMSISDN" in rec):
                    wrong.append((addr(2, j), "has an identity", rec.get("servedIMSI")))
        self.check(not wrong, "the %d identified after their traffic carry it, the other %d are "
                   "billed under their address" % (LATE_IDENTIFIED, LATE - LATE_IDENTIFIED),
                   str(wrong[:5]))
        self.check(not [a for a in by_sub if a and a.startswith("10.1.") and
                        int(a.split(".")[2]) * 256 + int(a.split(".")[3]) > PROVISIONED_TRAFFIC],
                   "no CDR for provisioned subscribers without traffic")

    def run3(self):
        """unknown_identity: hold. 100 provisioned subscribers and 200 without an identity."""
        held = [addr(4, k) for k in range(1, 201)]
        traffic = [addr(1, i) for i in range(1, 101)] + held
        # Held sessions are not billed sessions (sessions_active counts those).
        err = self.start(traffic, 100, cdr_dir="cdr-hold", unknown_identity="hold")
        if not self.check(err is None, "run 3 (unknown_identity: hold): tallyd up", err or ""):
            return
        end = time.monotonic() + 30
        while time.monotonic() < end:
            st = self.statistics() or {}
            if st.get("unattributed_no_identity_octets", 0) >= 200 * 46:
                break
            time.sleep(0.2)
        self.check(st.get("unattributed_no_identity_octets") == 200 * 46,
                   "hold: the 200 without identity count as unattributed no_identity (200 x 46 octets)",
                   str(st.get("unattributed_no_identity_octets")))
        self.check(st.get("attributed_octets") == 100 * 46,
                   "hold: only the 100 provisioned are attributed", str(st.get("attributed_octets")))
        r = self.ctl("display", "session", addr(4, 1), "--json")
        s = json.loads(r.stdout) if r.returncode == 0 else {}
        self.check(s.get("billed") is False and s.get("unattributed_reason") == "no_identity",
                   "hold: a session without identity is held (not billed, no_identity)", r.stdout[:300])
        r = self.ctl("session", "identify", addr(4, 1), "--imsi", imsi(4, 1))
        self.check(r.returncode == 0 and "billed from now on" in r.stdout,
                   "hold: an identity releases the held session", r.stdout + r.stderr)
        r = self.ctl("display", "session", addr(4, 1), "--json")
        s = json.loads(r.stdout) if r.returncode == 0 else {}
        self.check(s.get("billed") is True and s.get("imsi") == imsi(4, 1),
                   "hold: the released session is billed, with its identity", r.stdout[:300])
        self.stop()
        files = sorted(str(p) for p in (self.work / "cdr-hold").glob("*.cdr"))
        r = subprocess.run([self.args.tallyctl, "decode"] + files, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        subs = {}
        for line in r.stdout.splitlines():
            rec = json.loads(line)
            subs.setdefault(rec.get("servedPDPPDNAddress"), []).append(rec)
        wrong = [a for a in subs if not a.startswith("10.1.")]
        self.check(len(subs) == 100 and not wrong and all(
            rec.get("servedIMSI") == imsi(1, int(a.split(".")[2]) * 256 + int(a.split(".")[3]))
            for a, recs in subs.items() for rec in recs),
                   "hold: CDRs only for the 100 provisioned subscribers, with their IMSI (the held "
                   "ones, and the released one without usage since, have none)",
                   "%d subscribers with CDRs, unexpected %s" % (len(subs), wrong[:5]))

    def run(self):
        if self.run1():
            self.run2()
            self.run3()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tallyd", required=True)
    ap.add_argument("--tallyctl", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    work = Path(args.workdir)
    prepare_workdir(work, ".identity_test_workdir")
    t = Test(args)
    try:
        t.run()
    finally:
        t.stop()  # nothing when it has stopped already
    print("%s: %d failure(s)" % ("FAIL" if t.failures else "PASS", t.failures))
    sys.exit(1 if t.failures else 0)


if __name__ == "__main__":
    main()
