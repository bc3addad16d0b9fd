#!/usr/bin/python3
"""The local bill pool end to end: a running tallyd, its control socket, a CF card directory and
real bill servers (OpenSSH sshd for SFTP, tftpd-hpa for TFTP) on 127.0.0.1 at free ports.

  pool_it.py --tallyd build/tallyd --tallyctl build/tallyctl --workdir DIR [--only A,B]

Scenarios (each prints PASS/FAIL lines; exit 1 on any failure):
  sftp_password   pool enabled, cache -> CF card -> SFTP (password from `tallyctl
                  encrypt-password`): every display and backup command against the running
                  daemon and every bad argument refused; bills closed at the daemon's stop stay
                  journaled and are delivered after the restart; the server's files equal the
                  CF card's byte for byte; localSequenceNumbers 1..N exactly once; the octets of
                  all records equal the independent truth (scripts/expected_usage.py).
  sftp_refusals   files on the CF card; a changed host key, a wrong password and a hung server
                  (SIGSTOP) each fail the transfer with the transfer alarm and put nothing on the
                  server; the hung server resumed -> the retry delivers every file once; key
                  (ed25519) authentication delivers them too.
  tftp            TFTP upload, content equal; a bill server not yet running -> timeout, retry,
                  alarm; the server started -> the backlog is delivered and the alarm cleared.
  cfcard_full     CF card capacity 1 MiB (on a tmpfs) and the bill server down: new bills are
                  dropped, counted (bills, octets) and alarmed once; the bill balance still holds
                  with the dropped octets as its named term; the server comes up -> the backlog
                  drains to zero, and delivered + dropped octets = the truth.
  write_failures  the CF card a tmpfs remounted read-only, then one too small (ENOSPC): the write
                  alarm within a poll or two of the write, no bill lost (they stay pooled and
                  are written once the card is writable again); a second tallyd on the same CF
                  card and state directory is refused, naming the directory and the holder's PID.

Needs root (mount, the SFTP system user). Servers and daemons are stopped by PID.
"""

import argparse
import collections
import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "servers"))
sys.path.insert(0, str(HERE.parent / "replay"))
import servers  # noqa: E402
from replay_test import base_config, dpdk_runtime_dir, prepare_workdir, truth, write_config  # noqa: E402

PY = "/usr/bin/python3"
GEN = REPO / "scripts" / "gen_pcap.py"
PASSES, FAILS = [], []
POLL_MS = 100


def check(cond, what, info=""):
    (PASSES if cond else FAILS).append(what)
    print(("PASS %s" % what) if cond else ("FAIL %s: %s" % (what, info)), flush=True)
    return cond


class TestError(RuntimeError):
    pass


def wait_for(pred, timeout_s, what, every_s=0.1, show=None):
    """Polls pred until it is true; on time-out the error carries show() (the state seen)."""
    end = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < end:
        last = pred()
        if last:
            return last
        time.sleep(every_s)
    seen = ""
    if show is not None:
        try:
            seen = "; last seen: %s" % show()
        except Exception as e:  # noqa: BLE001 - only for the message
            seen = "; (state not readable: %s)" % e
    raise TestError("timed out after %.0f s waiting for %s%s" % (timeout_s, what, seen))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def bill_files(d):
    """The bill files of a directory (CF card or server): no temporaries, sidecars or locks."""
    d = Path(d)
    if not d.exists():
        return []
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix in (".cdr", ".csv", ".dat")
                  and not p.name.startswith("."))


# --------------------------------------------------------------------------------------------
# tallyd and tallyctl
# --------------------------------------------------------------------------------------------

class Tally:
    """One tallyd configuration (its own state directory, CF card and socket) and its runs."""
    runs = 0

    def __init__(self, args, work, name, cfg_edit):
        self.args = args
        self.dir = work / name
        self.dir.mkdir(parents=True, exist_ok=True)
        sock = Path("/tmp/tally-pool-%d-%s.sock" % (os.getpid(), name))
        self.cfg = base_config(sock)
        self.cfg["dataplane"]["poll_interval_ms"] = POLL_MS
        self.cfg["node"]["state_dir"] = str(self.dir / "state")
        self.cfg["local_aaa_server"] = {"local_bill": {"cfcard": {"path": str(self.dir / "cf")}}}
        cfg_edit(self.cfg)
        self.cfg_path = self.dir / "tally.yaml"
        write_config(self.cfg_path, self.cfg)
        self.proc = None
        self.prefix = None
        self.log = None

    @property
    def cfcard(self):
        return Path(self.cfg["local_aaa_server"]["local_bill"]["cfcard"]["path"])

    def start(self, pcap, idle_ms=600000, wait_socket=True, infinite=False, extra=()):
        """infinite: net_pcap replays the pcap endlessly (stop() ends the run); extra: more
        tallyd arguments (e.g. --usage-report PATH)."""
        Tally.runs += 1
        self.prefix = "tally-pool-%d-%d" % (os.getpid(), Tally.runs)
        eal = ("--no-huge -m 256 --no-pci -l 0-1 --file-prefix %s --vdev=net_pcap0,rx_pcap=%s%s "
               "--vdev=net_null0,no-rx=1" % (self.prefix, pcap, ",infinite_rx=1" if infinite else ""))
        self.log = self.dir / ("run%d.log" % Tally.runs)
        self.out = self.dir / ("run%d.out" % Tally.runs)
        cmd = [self.args.tallyd, "--config", str(self.cfg_path), "--exit-when-idle", str(idle_ms),
               "--eal-args", eal] + list(extra)
        self.proc = subprocess.Popen(cmd, stdout=open(self.out, "w"), stderr=open(self.log, "w"),
                                     stdin=subprocess.DEVNULL)
        if wait_socket:
            sock = self.cfg["control"]["socket"]
            wait_for(lambda: self.proc.poll() is not None or (
                os.path.exists(sock) and self.ctl("display", "local-bill", "information")[0] == 0),
                60, "tallyd's control socket")
            if self.proc.poll() is not None:
                raise TestError("tallyd exited %d at start: %s" % (self.proc.returncode,
                                                                  self.log_text()[-1500:]))
        return self

    def ctl(self, *words):
        r = subprocess.run([self.args.tallyctl, "--config", str(self.cfg_path)] + list(words),
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def json(self, *words):
        rc, out, err = self.ctl(*(list(words) + ["--json"]))
        if rc != 0:
            raise TestError("tallyctl %s: rc %d %s" % (" ".join(words), rc, err.strip()))
        return json.loads(out)

    def info(self):
        return self.json("display", "local-bill", "information")

    def stats(self):
        return self.json("display", "statistics")

    def wait_rx(self, frames):
        wait_for(lambda: self.stats()["rx_packets"] >= frames, 60, "%d frames received" % frames)

    def stop(self, sig=signal.SIGTERM, timeout_s=60):
        """Stops the daemon (SIGTERM: a clean stop; SIGKILL: a crash); returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise TestError("tallyd did not stop within %d s" % timeout_s)
        finally:
            subprocess.run(["rm", "-rf", dpdk_runtime_dir(self.prefix)])
        self.proc = None
        return rc

    def wait_exit(self, timeout_s=120):
        rc = self.proc.wait(timeout=timeout_s)
        subprocess.run(["rm", "-rf", dpdk_runtime_dir(self.prefix)])
        self.proc = None
        return rc

    def log_text(self):
        return self.log.read_text() if self.log and self.log.exists() else ""

    def out_text(self):
        return self.out.read_text() if self.out.exists() else ""


def decode(tallyctl, files):
    """Every record of the files (tallyctl decode: JSON Lines)."""
    if not files:
        return []
    r = subprocess.run([tallyctl, "decode"] + [str(f) for f in files], capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise TestError("tallyctl decode failed: %s" % r.stderr.strip()[-500:])
    return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]


def record_octets(rec):
    return sum(v.get("dataVolumeGPRSUplink", 0) + v.get("dataVolumeGPRSDownlink", 0)
               for v in rec.get("listOfTrafficVolumes", []))


def lsn_check(records, what, expect_from_1=True):
    """localSequenceNumbers: each exactly once and without a gap."""
    lsns = [r["localSequenceNumber"] for r in records]
    dup = [n for n, c in collections.Counter(lsns).items() if c > 1]
    ok = check(not dup, "%s: every localSequenceNumber once" % what, "duplicated: %s" % dup[:10])
    if lsns:
        lo = 1 if expect_from_1 else min(lsns)
        missing = sorted(set(range(lo, max(lsns) + 1)) - set(lsns))
        ok &= check(not missing, "%s: localSequenceNumbers %d..%d without a gap" % (
            what, lo, max(lsns)), "missing: %s" % missing[:10])
    return ok


def attributed_truth(pcap, cfg_path, out):
    """Octets the independent truth attributes to subscribers (uplink + downlink)."""
    rep = truth(pcap, cfg_path, out)
    return sum(f["uplink_octets"] + f["downlink_octets"] for f in rep.flows.values())


def encrypt_password(tallyctl, key_file, password):
    r = subprocess.run([tallyctl, "encrypt-password", "--key-file", str(key_file)],
                       input=password + "\n", capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise TestError("encrypt-password: %s" % r.stderr.strip())
    out = r.stdout.strip()
    # Printed as the config value {cipher: "v1:..."}; take the token.
    token = out.split('"')[1] if '"' in out else out.split("cipher:")[-1].strip(" }")
    return token


def sftp_server(cfg, sshd, auth, known_hosts=None, timeout_ms=1500, key_file=None):
    bs = {"address": "127.0.0.1", "port": sshd.port if hasattr(sshd, "port") else sshd,
          "filename": "tallytest", "user_name": servers.SFTP_USER,
          "known_hosts": str(known_hosts or sshd.known_hosts), "timeout_ms": timeout_ms}
    bs.update(auth)
    if key_file:
        bs["key_file"] = str(key_file)
    cfg["local_aaa_server"]["bill_server"] = bs


def make_pcaps(work):
    pcaps = {}
    varied = work / "varied.pcap"
    subprocess.run([PY, str(GEN), "--out", str(varied), "--seed", "9", "--packets", "3000",
                    "--subscribers", "40", "--no-malformed"], check=True, capture_output=True)
    pcaps["varied"] = varied
    # Many subscribers, few frames each: one final record per subscriber at its session's end.
    many = work / "many.pcap"
    subprocess.run([PY, str(GEN), "--bench", "--out", str(many), "--packets", "32000",
                    "--subscribers", "8000", "--seed", "3"], check=True, capture_output=True)
    pcaps["many"] = many
    # No subscriber traffic at all (one ARP frame): a daemon that only serves its bills.
    quiet = work / "quiet.pcap"
    subprocess.run([PY, "-c", "from scapy.all import Ether, ARP, wrpcap; "
                    "wrpcap(%r, [Ether(dst='ff:ff:ff:ff:ff:ff')/ARP()])" % str(quiet)], check=True)
    pcaps["quiet"] = quiet
    return pcaps


def frames_in(pcap):
    r = subprocess.run([PY, "-c", "from scapy.all import RawPcapReader; import sys; "
                        "print(sum(1 for _ in RawPcapReader(sys.argv[1])))", str(pcap)],
                       capture_output=True, text=True, check=True)
    return int(r.stdout)


def card_settled(t, timeout_s=30):
    """Waits until the pool is empty and the CF card's accounting holds every file on it."""
    def settled():
        i = t.info()
        return (i["pool"]["bills"] == 0 and i["cfcard"]["files"] > 0
                and i["cfcard"]["files"] == len(bill_files(t.cfcard)))
    wait_for(settled, timeout_s, "the pool written to the CF card")


def refused(t, words, reason_part, what):
    rc, out, err = t.ctl(*words)
    check(rc != 0 and reason_part in (out + err), "refused: %s" % what,
          "rc %d out %r err %r" % (rc, out.strip()[:200], err.strip()[:200]))


# --------------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------------

def scenario_sftp_password(args, work, pcaps):
    with servers.Sshd() as sshd:
        key_file = work / "sftp_password.key"
        cipher = encrypt_password(args.tallyctl, key_file, sshd.password)
        check(sshd.password not in cipher, "encrypt-password: the cipher does not hold the password")

        def edit(cfg):
            cfg["local_aaa_server"]["local_bill_pool"] = {"enable": True, "capacity": 5000,
                                                          "checkpoint_interval": 2}
            cfg["local_aaa_server"]["local_bill"]["cache"] = {"backup_mode": "cfcard",
                                                             "backup_interval": 600}
            cfg["local_aaa_server"]["local_bill"]["cfcard"].update(
                {"backup_mode": "sftp", "backup_interval": 600, "capacity": "64MiB"})
            cfg["accounting"]["cdr"] = {"format": "3gpp", "file_max_records": 25}
            sftp_server(cfg, sshd, {"password": {"cipher": cipher}}, key_file=key_file)
        t = Tally(args, work, "sftp_password", edit)
        truth_octets = attributed_truth(pcaps["varied"], t.cfg_path, t.dir / "truth.jsonl")
        nframes = frames_in(pcaps["varied"])

        # Run 1: the traffic; bills are closed while it runs (volume thresholds, hot billing).
        t.start(pcaps["varied"])
        t.wait_rx(nframes)
        wait_for(lambda: t.info()["pool"]["bills"] > 0, 30, "bills in the pool")
        info = t.info()
        check(info["pool"]["enabled"] and info["pool"]["max"] == 5000,
              "display local-bill information --json: pool enabled, max 5000", json.dumps(info["pool"]))
        cfg_json = t.json("display", "local-bill", "configuration")
        text = json.dumps(cfg_json)
        check(cipher not in text and sshd.password not in text and str(key_file) in text,
              "display local-bill configuration: names the key file, shows no password or cipher",
              text[:400])
        for words in (["display", "local-bill", "configuration"], ["display", "local-bill", "information"],
                      ["display", "local-bill", "cache", "1", "2"]):
            rc, out, err = t.ctl(*words)
            check(rc == 0 and out.strip() and sshd.password not in out,
                  "%s (text)" % " ".join(words), "rc %d %s" % (rc, err))
        pool_bills = t.info()["pool"]["bills"]
        cache = t.json("display", "local-bill", "cache", "1", str(min(pool_bills, 5)))
        check(len(cache) == min(pool_bills, 5) and all(
            set(b) >= {"number", "session_id", "user_name", "start", "stop", "elapsed_s", "ip",
                       "ul_octets", "dl_octets", "ul_packets", "dl_packets", "status"} for b in cache),
              "display local-bill cache 1 N --json: N bills with every field", json.dumps(cache)[:300])
        # Bad arguments, each refused with its reason; nothing changes.
        refused(t, ["display", "local-bill", "cache", "0", "1"], "a bill position from 1", "cache START 0")
        refused(t, ["display", "local-bill", "cache", "x", "1"], "a bill position from 1", "cache START x")
        refused(t, ["display", "local-bill", "cache", "1", "0"], "allowed 1-", "cache COUNT 0")
        refused(t, ["display", "local-bill", "cache", "1", "999999999"], "allowed 1-", "cache COUNT huge")
        refused(t, ["display", "local-bill", "cache", str(pool_bills + 100), "1"], "beyond the pool",
                "cache START beyond the pool")
        refused(t, ["display", "local-bill", "cache"], "usage", "cache without START COUNT")
        refused(t, ["display", "local-bill", "information", "extra"], "takes no argument",
                "information with an argument")
        refused(t, ["local-bill", "cache", "backup", "ftp"], "allowed cfcard, sftp or tftp",
                "cache backup to an unknown target")
        refused(t, ["local-bill", "cache", "backup", "tftp"], "", "cache backup by TFTP to an SFTP server")
        refused(t, ["local-bill", "cfcard", "reset"], "--confirm", "cfcard reset without --confirm")
        refused(t, ["local-bill", "cfcard", "backup", "a/b"], "", "cfcard backup NAME with a '/'")
        refused(t, ["local-bill", "cfcard", "backup", "x" * 31], "", "cfcard backup NAME of 31 characters")
        refused(t, ["local-bill", "frobnicate"], "local-bill:", "unknown local-bill command")
        check(t.info()["pool"]["bills"] >= pool_bills and not bill_files(sshd.upload_dir),
              "refusals changed nothing (pool kept, nothing sent)")

        # Pool -> CF card by hand, then the CF card -> the server by hand.
        rc, out, err = t.ctl("local-bill", "cache", "backup")
        check(rc == 0, "local-bill cache backup (mode cfcard)", err)
        card_settled(t)
        snapshot = {sha(f): f.name for f in bill_files(t.cfcard)}
        rc, out, err = t.ctl("local-bill", "cfcard", "backup")
        check(rc == 0, "local-bill cfcard backup", err)
        wait_for(lambda: t.info()["cfcard"]["files"] == 0, 60, "the CF card delivered")
        info = t.info()
        check(info["transfer"] and info["transfer"]["delivered_files"] >= len(snapshot)
              and not info["alarms"]["transfer"]["raised"],
              "display: the transfer delivered the files, no transfer alarm", json.dumps(info["transfer"]))
        rc_stop = t.stop()
        check(rc_stop == 0, "tallyd stopped cleanly (bill balance ok)", t.log_text()[-800:])
        # The records closed at the stop stay journaled in the pool.
        t.start(pcaps["quiet"])
        after = t.info()
        check(after["pool"]["bills"] > 0, "after the restart the bills closed at the stop are pooled "
              "again (%d)" % after["pool"]["bills"], json.dumps(after["pool"]))
        t.ctl("local-bill", "cache", "backup")
        card_settled(t)
        check(len(bill_files(t.cfcard)) >= 2, "the bills are cut into files of at most 25 "
              "(file_max_records): %d files" % len(bill_files(t.cfcard)))
        for f in bill_files(t.cfcard):
            snapshot[sha(f)] = f.name
        t.ctl("local-bill", "cfcard", "backup", "manual")
        wait_for(lambda: t.info()["cfcard"]["files"] == 0, 60, "the CF card delivered")
        check(t.stop() == 0, "second run stopped cleanly")

        got = bill_files(sshd.upload_dir)
        names_ok = all(f.name.startswith(("tallytest-", "manual-")) and len(f.stem.split("-")[-1]) == 17
                       for f in got)
        check(names_ok and any(f.name.startswith("manual-") for f in got),
              "server file names NAME-YYYYMMDDhhmmssNNN.ext (default stem and the backup's NAME)",
              [f.name for f in got])
        check(sorted(sha(f) for f in got) == sorted(snapshot),
              "the server holds exactly the CF card's files, byte for byte (%d files)" % len(got),
              "server %d files, card had %d" % (len(got), len(snapshot)))
        check(not list(Path(sshd.upload_dir).glob("*.part")), "no .part file left on the server")
        recs = decode(args.tallyctl, got)
        lsn_check(recs, "sftp_password")
        octets = sum(record_octets(r) for r in recs)
        check(octets == truth_octets, "records on the server carry exactly the truth's octets",
              "records %d, truth %d" % (octets, truth_octets))


def scenario_sftp_refusals(args, work, pcaps):
    with servers.Sshd() as sshd:
        key_file = work / "refusals.key"
        good = encrypt_password(args.tallyctl, key_file, sshd.password)
        bad = encrypt_password(args.tallyctl, key_file, sshd.password + "x")
        other_key = work / "otherhost"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)],
                       check=True)
        wrong_kh = work / "wrong_known_hosts"
        wrong_kh.write_text(sshd.known_hosts_line(key=" ".join(
            open(str(other_key) + ".pub").read().split()[:2])))
        base = {}

        def edit(auth, kh=None):
            def f(cfg):
                cfg["accounting"]["cdr"] = {"format": "3gpp", "file_max_records": 20}
                cfg["local_aaa_server"]["local_bill"]["cfcard"].update({"backup_mode": "sftp"})
                sftp_server(cfg, sshd, auth, known_hosts=kh, timeout_ms=1500, key_file=key_file)
            return f

        # Fill the CF card: the traffic, then the stop closes every record into files.
        t = Tally(args, work, "refusals", edit({"password": {"cipher": good}}))
        t.start(pcaps["varied"], idle_ms=1500, wait_socket=False)
        check(t.wait_exit() == 0, "run with traffic exited cleanly")
        card = {sha(f) for f in bill_files(t.cfcard)}
        check(len(card) >= 2, "%d files on the CF card" % len(card))
        base["cfg"] = copy.deepcopy(t.cfg)

        def attempt(name, auth, kh, expect):
            r = Tally(args, work, "refusals", edit(auth, kh))
            r.start(pcaps["quiet"])
            r.ctl("local-bill", "cfcard", "backup")
            try:
                wait_for(lambda: r.info()["alarms"]["transfer"]["raised"], 30, "the transfer alarm")
                info = r.info()
                text = info["alarms"]["transfer"]["text"]
                check(expect in text.lower() and sshd.password not in text,
                      "%s: transfer refused, alarm says %r" % (name, text[:120]), text)
                check(not os.listdir(sshd.upload_dir) and {sha(f) for f in bill_files(r.cfcard)} == card,
                      "%s: nothing sent, every file kept on the CF card" % name,
                      os.listdir(sshd.upload_dir))
                check(info["alarms"]["transfer"]["times_raised"] == 1,
                      "%s: the alarm raised once, not per retry" % name, info["alarms"]["transfer"])
                rc, out, _ = r.ctl("display", "local-bill", "information")
                check("transfer" in out.lower() and sshd.password not in out,
                      "%s: display local-bill information shows it" % name)
            finally:
                r.stop()
            log = r.log_text()
            check(sshd.password not in log, "%s: the password is not in the log" % name)

        attempt("changed host key", {"password": {"cipher": good}}, wrong_kh, "host key")
        attempt("wrong password", {"password": {"cipher": bad}}, None, "auth")

        # A hung server: the transfer fails within its deadline and is retried; resumed, the
        # retry delivers every file exactly once.
        r = Tally(args, work, "refusals", edit({"password": {"cipher": good}}))
        r.start(pcaps["quiet"])
        sshd.pause()
        try:
            t0 = time.monotonic()
            r.ctl("local-bill", "cfcard", "backup")
            wait_for(lambda: r.info()["alarms"]["transfer"]["raised"], 30, "the transfer alarm (hung)")
            took = time.monotonic() - t0
            check(took < 1.5 * 6 + 5, "hung server: the transfer gave up within its deadlines "
                  "(%.1f s)" % took)
            rc, _, _ = r.ctl("display", "local-bill", "information")
            check(rc == 0, "hung server: the control socket still answers")
            check(r.stats()["polls"] > 0, "hung server: polling goes on")
        finally:
            sshd.resume()
        wait_for(lambda: r.info()["cfcard"]["files"] == 0, 90, "delivery after the server resumed")
        info = r.info()
        check(not info["alarms"]["transfer"]["raised"], "hung server resumed: the alarm cleared")
        r.stop()
        got = bill_files(sshd.upload_dir)
        check(sorted(sha(f) for f in got) == sorted(card),
              "hung server resumed: every file on the server once, byte for byte",
              "%d on the server, %d were on the card" % (len(got), len(card)))
        lsn_check(decode(args.tallyctl, got), "hung server resumed")

        # Key authentication (ed25519): a second round of files.
        for f in got:
            os.unlink(f)
        k = Tally(args, work, "refusals_key", edit({"private_key": sshd.client_key}))
        k.start(pcaps["varied"], idle_ms=1500, wait_socket=False)
        k.wait_exit()
        kcard = {sha(f) for f in bill_files(k.cfcard)}
        k.start(pcaps["quiet"])
        k.ctl("local-bill", "cfcard", "backup")
        wait_for(lambda: k.info()["cfcard"]["files"] == 0, 60, "key-authenticated delivery")
        k.stop()
        check(sorted(sha(f) for f in bill_files(sshd.upload_dir)) == sorted(kcard),
              "ed25519 key authentication: the files delivered byte for byte")


def scenario_tftp(args, work, pcaps):
    port = servers.free_port("udp")

    def edit(cfg):
        cfg["accounting"]["cdr"] = {"format": "3gpp", "file_max_records": 20}
        cfg["local_aaa_server"]["local_bill"]["cfcard"].update({"backup_mode": "tftp"})
        cfg["local_aaa_server"]["bill_server"] = {"address": "127.0.0.1", "port": port,
                                                  "filename": "tftptest", "timeout_ms": 1000}
    t = Tally(args, work, "tftp", edit)
    t.start(pcaps["varied"], idle_ms=1500, wait_socket=False)
    check(t.wait_exit() == 0, "tftp: run with traffic exited cleanly")
    card = sorted(sha(f) for f in bill_files(t.cfcard))
    t.start(pcaps["quiet"])
    try:
        t.ctl("local-bill", "cfcard", "backup")
        wait_for(lambda: t.info()["alarms"]["transfer"]["raised"], 30, "the TFTP transfer alarm")
        info = t.info()
        check(info["transfer"]["failures"] >= 1 and info["cfcard"]["files"] == len(card),
              "tftp: server absent -> timeout, alarm, files kept (%s)"
              % info["alarms"]["transfer"]["text"][:100], json.dumps(info["transfer"]))
        tftpd = servers.Tftpd().start(port=port)
        try:
            t.ctl("local-bill", "cfcard", "backup")
            wait_for(lambda: t.info()["cfcard"]["files"] == 0, 90, "TFTP delivery")
            info = t.info()
            check(not info["alarms"]["transfer"]["raised"] and info["transfer"]["failures"] >= 1,
                  "tftp: the server up -> retried, delivered, alarm cleared")
            got = sorted(sha(f) for f in bill_files(tftpd.root))
            check(got == card, "tftp: the server holds the CF card's files byte for byte",
                  "%d vs %d" % (len(got), len(card)))
            lsn_check(decode(args.tallyctl, bill_files(tftpd.root)), "tftp")
        finally:
            tftpd.stop()
    finally:
        t.stop()


def mount_tmpfs(path, size):
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0750" % size, "tmpfs", str(path)],
                   check=True)


def umount(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def scenario_cfcard_full(args, work, pcaps):
    port = servers.free_port("tcp")
    key_file = work / "full.key"
    cipher = encrypt_password(args.tallyctl, key_file, servers.SFTP_PASSWORD)
    kh = work / "full_known_hosts"
    kh.write_text("")   # filled in once the server exists

    def edit(cfg):
        cfg["subscribers"]["idle_timeout"] = 10
        cfg["accounting"]["cdr"] = {"format": "3gpp", "file_max_records": 50, "file_max_age": 2}
        cfg["local_aaa_server"]["local_bill"]["cfcard"].update(
            {"backup_mode": "sftp", "capacity": "1MiB", "alarm_threshold": 90})
        sftp_server(cfg, port, {"password": {"cipher": cipher}}, known_hosts=kh, timeout_ms=1000,
                    key_file=key_file)
    t = Tally(args, work, "cfcard_full", edit)
    mount_tmpfs(t.cfcard, "8m")
    sshd = None
    try:
        truth_octets = (attributed_truth(pcaps["varied"], t.cfg_path, t.dir / "truth0.jsonl")
                        + attributed_truth(pcaps["many"], t.cfg_path, t.dir / "truth.jsonl"))
        # A first run leaves files on the CF card (the server was never tried: no trigger).
        t.start(pcaps["varied"], idle_ms=1500, wait_socket=False)
        check(t.wait_exit() == 0, "cfcard_full: first run exited cleanly")
        t.start(pcaps["many"])
        # The server is found down: bills closed from now on find it unreachable. (Bills closed
        # while it was not yet known to be down wait in the journal for the transfer instead.)
        t.ctl("local-bill", "cfcard", "backup")
        wait_for(lambda: t.info()["alarms"]["transfer"]["raised"], 30, "the transfer alarm")
        t.wait_rx(frames_in(pcaps["many"]))
        # Every session ends by its idle timeout (10 s): ~6000 bills, more than 1 MiB.
        wait_for(lambda: t.stats()["sessions_active"] == 0, 60, "the sessions' idle ends")
        wait_for(lambda: t.info()["pool"]["bills"] == 0 or t.info()["dropped"]["cfcard-full"]["bills"] > 0,
                 30, "drops", show=lambda: json.dumps({k: t.info()[k] for k in ("pool", "cfcard", "dropped")}))
        time.sleep(1)
        info = t.info()
        d = info["dropped"]["cfcard-full"]
        check(d["bills"] > 0 and d["ul_octets"] + d["dl_octets"] > 0,
              "cfcard_full: new bills dropped and counted (%d bills, %d octets)"
              % (d["bills"], d["ul_octets"] + d["dl_octets"]), json.dumps(info["dropped"]))
        check(info["alarms"]["full"]["times_raised"] == 1,
              "cfcard_full: the full alarm raised once, not per bill", json.dumps(info["alarms"]["full"]))
        check(info["cfcard"]["bytes_used"] <= info["cfcard"]["max_bytes"],
              "cfcard_full: the CF card never exceeds its capacity (%d of %d)"
              % (info["cfcard"]["bytes_used"], info["cfcard"]["max_bytes"]))
        check(info["octets_closed"] == info["octets_kept"] + d["ul_octets"] + d["dl_octets"],
              "cfcard_full: closed octets = kept + dropped", json.dumps(
                  {k: info[k] for k in ("octets_closed", "octets_kept")}))
        log = t.log_text()
        full_lines = [ln for ln in log.splitlines() if "ALARM" in ln and "being dropped" in ln]
        check(len(full_lines) == 1, "cfcard_full: one full-alarm line in the log, not one per bill",
              full_lines[:3])
        dropped_octets = d["ul_octets"] + d["dl_octets"]
        stored = {sha(f) for f in bill_files(t.cfcard)}
        # The server comes up: the backlog drains to zero.
        sshd = servers.Sshd().start(port=port)
        kh.write_text(sshd.known_hosts_line())
        t.ctl("local-bill", "cfcard", "backup")

        def drained():
            i = t.info()
            if i["pool"]["bills"] == 0 and i["cfcard"]["files"] == 0:
                return True
            if i["cfcard"]["files"] and not i["transfer"]["queued_files"]:
                # Bills that waited in the pool reach the card after the backlog made room:
                # the operator's next backup sends them too.
                t.ctl("local-bill", "cfcard", "backup")
            return False
        wait_for(drained, 120, "the backlog drained", every_s=0.5, show=lambda: json.dumps(
            {k: t.info()[k] for k in ("pool", "cfcard", "transfer")}))
        info = t.info()
        check(info["cfcard"]["bytes_used"] == 0 and info["pool"]["bills"] == 0,
              "cfcard_full: server back -> CF card and pool drained to zero")
        check(not info["alarms"]["full"]["raised"], "cfcard_full: the full alarm cleared")
        rc = t.stop()
        out = t.out_text()
        bal = [ln for ln in out.splitlines() if ln.startswith("Bill balance")]
        check(bal and bal[0].split(":")[1].strip().startswith("closed") and "): ok" in bal[0],
              "cfcard_full: the summary's bill balance holds with the dropped octets", bal)
        check(rc == 1 and "dropped" in t.log_text(), "cfcard_full: tallyd's exit status says bills "
              "were dropped (1)", "rc %s" % rc)
        got = bill_files(sshd.upload_dir)
        check(stored <= {sha(f) for f in got}, "cfcard_full: every stored file reached the server")
        recs = decode(args.tallyctl, got)
        lsn_check(recs, "cfcard_full delivered", expect_from_1=False)
        octets = sum(record_octets(r) for r in recs)
        check(octets + dropped_octets == truth_octets,
              "cfcard_full: delivered %d + dropped %d octets = the truth %d"
              % (octets, dropped_octets, truth_octets))
    finally:
        if t.proc:
            t.stop(signal.SIGKILL)
        if sshd:
            sshd.stop()
        umount(t.cfcard)


def scenario_write_failures(args, work, pcaps):
    def edit(cfg):
        cfg["local_aaa_server"]["local_bill_pool"] = {"enable": True, "capacity": 10000}
        cfg["local_aaa_server"]["local_bill"]["cache"] = {"backup_mode": "none"}
        cfg["local_aaa_server"]["local_bill"]["cfcard"]["capacity"] = "16MiB"
    t = Tally(args, work, "write_failures", edit)
    mount_tmpfs(t.cfcard, "16m")
    try:
        truth_octets = attributed_truth(pcaps["varied"], t.cfg_path, t.dir / "truth.jsonl")
        t.start(pcaps["varied"])
        t.wait_rx(frames_in(pcaps["varied"]))
        # Bills while the daemon runs: half the subscribers log out (normalRelease).
        rep = truth(pcaps["varied"], t.cfg_path, t.dir / "truth.jsonl")
        v4 = sorted({k[0] for k in rep.flows if "." in k[0] and "/" not in k[0]})
        for a in v4[: len(v4) // 2]:
            rc, out, err = t.ctl("session", "logout", a)
            if rc != 0:
                raise TestError("session logout %s: %s" % (a, err.strip()))
        wait_for(lambda: t.info()["bills_closed"] >= len(v4) // 2, 30, "the logouts' bills",
                 show=lambda: json.dumps(t.info()["pool"]))
        # A second daemon on the same CF card and state directory is refused.
        second = Tally(args, work, "write_failures_second", lambda c: None)
        second.cfg = copy.deepcopy(t.cfg)
        second.cfg["control"]["socket"] = t.cfg["control"]["socket"] + "2"
        write_config(second.cfg_path, second.cfg)
        second.start(pcaps["quiet"], wait_socket=False)
        rc2 = second.wait_exit(60)
        err2 = second.log_text()
        check(rc2 != 0 and "in use by another tallyd (pid %d" % t.proc.pid in err2,
              "a second tallyd on the same directories is refused, naming the holder's PID",
              "rc %s: %s" % (rc2, err2.strip()[-300:]))
        check(t.proc.poll() is None and t.info()["pool"]["bills"] > 0,
              "the first daemon is untouched by the refused second one")

        # Read-only: the write alarm in the same poll as the failure; nothing lost.
        subprocess.run(["mount", "-o", "remount,ro", str(t.cfcard)], check=True)
        pooled = t.info()["pool"]["bills"]
        t0 = time.monotonic()
        rc, out, err = t.ctl("local-bill", "cache", "backup", "cfcard")
        wait_for(lambda: t.info()["alarms"]["write"]["raised"], 10, "the write alarm")
        took = time.monotonic() - t0
        info = t.info()
        print("  write alarm %.0f ms after the backup command (poll interval %d ms)"
              % (took * 1000, POLL_MS), flush=True)
        check(took <= 3 * POLL_MS / 1000 + 1.0, "read-only CF card: the write alarm within a poll "
              "or two of the write (%.0f ms)" % (took * 1000))
        text = info["alarms"]["write"]["text"]
        check("read-only" in text.lower() or "erofs" in text.lower(),
              "read-only CF card: the alarm names the cause (%s)" % text[:120], text)
        check(info["pool"]["bills"] == pooled and info["write_errors"] >= 1,
              "read-only CF card: the bills stay in the pool (%d)" % pooled, json.dumps(info["pool"]))
        subprocess.run(["mount", "-o", "remount,rw", str(t.cfcard)], check=True)
        # The write is tried again (docs/storage.md) and the alarm clears.
        wait_for(lambda: not t.info()["alarms"]["write"]["raised"], 40, "the write alarm cleared")
        card_settled(t)
        info = t.info()
        check(info["cfcard"]["bills"] >= pooled, "writable again: the bills written to the card by "
              "the retry (%d)" % info["cfcard"]["bills"], json.dumps(info["cfcard"]))

        # Too small (ENOSPC): a tmpfs of 16 KiB under a configured capacity of 16 MiB.
        rc = t.stop()
        check(rc == 0, "write_failures: clean stop")
        kept = [(f.name, f.read_bytes()) for f in bill_files(t.cfcard)]
        umount(t.cfcard)
        mount_tmpfs(t.cfcard, "16k")
        t.start(pcaps["quiet"])    # the records closed at the stop are pooled again
        pooled = t.info()["pool"]["bills"]
        check(pooled > 0, "ENOSPC: %d bills pooled again after the restart" % pooled)
        t.ctl("local-bill", "cache", "backup", "cfcard")
        wait_for(lambda: t.info()["alarms"]["write"]["raised"], 10, "the ENOSPC write alarm")
        info = t.info()
        text = info["alarms"]["write"]["text"]
        check("no space" in text.lower() or "enospc" in text.lower(),
              "ENOSPC: the write alarm names the cause (%s)" % text[:120], text)
        check(info["pool"]["bills"] == pooled, "ENOSPC: no bill lost, all still pooled")
        check(not list(t.cfcard.glob("*.tmp")), "ENOSPC: no temporary file left on the card")
        rc = t.stop()
        umount(t.cfcard)
        mount_tmpfs(t.cfcard, "16m")
        for name, data in kept:
            (t.cfcard / name).write_bytes(data)
        t.start(pcaps["quiet"])
        refused(t, ["local-bill", "cache", "backup"], "give a target",
                "cache backup with backup_mode none and no target")
        t.ctl("local-bill", "cache", "backup", "cfcard")
        wait_for(lambda: t.info()["pool"]["bills"] == 0, 30, "the pool written after ENOSPC")
        files = bill_files(t.cfcard)
        recs = decode(args.tallyctl, files)
        lsn_check(recs, "write_failures")
        octets = sum(record_octets(r) for r in recs)
        check(octets == truth_octets, "write_failures: the card's records carry the truth's octets",
              "%d vs %d" % (octets, truth_octets))
        # reset: only with --confirm; says what it deleted; the journal and numbers stay.
        state_before = sorted(p.name for p in (t.dir / "state").rglob("*"))
        nbytes = sum(f.stat().st_size for f in files)
        rc, out, err = t.ctl("local-bill", "cfcard", "reset", "--confirm")
        check(rc == 0 and str(len(recs)) in out and str(nbytes) in out,
              "cfcard reset --confirm: says it deleted %d bills, %d bytes (%s)"
              % (len(recs), nbytes, out.strip()[:120]), out + err)
        check(not bill_files(t.cfcard) and t.info()["cfcard"]["files"] == 0,
              "cfcard reset: the card is empty")
        check(sorted(p.name for p in (t.dir / "state").rglob("*")) == state_before,
              "cfcard reset: the journal and the sequence state untouched")
        t.stop()
    finally:
        if t.proc:
            t.stop(signal.SIGKILL)
        umount(t.cfcard)


SCENARIOS = collections.OrderedDict([
    ("sftp_password", scenario_sftp_password),
    ("sftp_refusals", scenario_sftp_refusals),
    ("tftp", scenario_tftp),
    ("cfcard_full", scenario_cfcard_full),
    ("write_failures", scenario_write_failures),
])


def script_args(doc):
    """The command line of the scripts that drive tallyd (pool_it, accounting_it)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--tallyd", required=True)
    ap.add_argument("--tallyctl", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    return ap.parse_args()


def main():
    args = script_args(__doc__)
    if os.geteuid() != 0:
        sys.exit("pool_it.py needs root (mount, the SFTP system user)")
    work = Path(args.workdir).resolve()
    prepare_workdir(work, ".pool_it")
    pcaps = make_pcaps(work)
    return run_scenarios("pool_it", SCENARIOS, args.only, lambda fn: fn(args, work, pcaps))


def run_scenarios(tag, scenarios, only_text, call):
    """Runs the scenarios named in only_text (comma-separated; all when empty), each through
    call(fn); a scenario's exception is its failure. Returns the exit code (1 on any FAIL)."""
    only = [s for s in only_text.split(",") if s]
    for name, fn in scenarios.items():
        if only and name not in only:
            continue
        print("== %s" % name, flush=True)
        t0 = time.monotonic()
        try:
            call(fn)
        except Exception as e:  # noqa: BLE001 - a scenario's error is its failure
            check(False, name, "%s: %s" % (type(e).__name__, e))
        print("   (%s: %.1f s)" % (name, time.monotonic() - t0), flush=True)
    print("%s: %d checks passed, %d failed" % (tag, len(PASSES), len(FAILS)))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
