#!/usr/bin/python3
"""tallyd refuses to start, clearly, when it cannot do its job.

  startup_errors_test.py --tallyd build/tallyd --workdir DIR

Cases (each: exit status != 0 within the time limit, and stderr says what is wrong):
  port_missing        ports name net_pcap9, EAL creates only net_pcap0/net_null0 -> names net_pcap9
  bad_value           dataplane.workers: 0 -> FILE:LINE:COL of that line, names the key
  bad_forward_to      forward_to names no configured port -> FILE:LINE:COL, names the value
  bad_value_check     the same bad file through --check-config -> exit 1, FILE:LINE:COL
  bad_eal_args        --eal-args "--no-such-eal-option" -> mentions EAL / the option
  pcap_missing        rx_pcap names a file that does not exist -> exit != 0, names the port or file
  missing_config      --check-config on a file that does not exist -> exit 1, names the file
  demo_config_valid   --check-config config/demo.yaml -> exit 0
  eal_args_replace    a config whose dataplane.eal is nonsense runs fine when --eal-args replaces it
Paths and devices (shared/config_check.h): each refused by --check-config (exit 1, FILE:LINE:COL
of the key, the reason) and by start-up (exit != 0, the same reason, before EAL starts):
  cfcard_is_file          local_bill.cfcard.path names a regular file
  cfcard_below_file       ... a path below a regular file
  cfcard_not_writable     ... a directory of mode 0555 (skipped as root: root writes there)
  sequence_file_is_dir    the CF card's .tally-sequence is a directory
  socket_dir_missing      control.socket in a directory whose parent does not exist
  socket_not_socket       control.socket names a regular file
  rx_pcap_missing         dataplane.eal --vdev rx_pcap= names a missing file
  tx_pcap_dir_missing     dataplane.eal --vdev tx_pcap= in a missing directory
  vdev_port_missing       a net_* port that no --vdev in dataplane.eal creates
  too_few_lcores          workers: 2 with -l 0-1
  usage_report_dir_missing  --usage-report in a missing directory (command line: no position)
  node_id_hidden          node.id: .hidden (refused by the loader)
  nul_byte                a raw NUL byte in the file -> "control character 0x00" at its position
Prints PASS/FAIL/SKIP per case; exits 1 on any failure.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_util import dpdk_runtime_dir, prepare_workdir  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "config" / "demo.yaml"
DEMO_PCAP = REPO / "tests" / "data" / "demo.pcap"
TIMEOUT_S = 60


def run(cmd, cwd=None):
    try:
        r = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=TIMEOUT_S, cwd=cwd)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or ""


def tail(s, n=4):
    if isinstance(s, bytes):
        s = s.decode(errors="replace")
    lines = [ln for ln in s.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) if lines else "(empty)"


class Case:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.n = 0
        self.prefixes = []

    def eal(self, pcap=DEMO_PCAP):
        self.n += 1
        prefix = "tally-startup-%d-%d" % (os.getpid(), self.n)
        self.prefixes.append(prefix)
        return ("--no-huge -m 256 --no-pci -l 0-1 --file-prefix %s "
                "--vdev=net_pcap0,rx_pcap=%s --vdev=net_null0,no-rx=1" % (prefix, pcap))

    def cleanup(self):
        for prefix in self.prefixes:
            shutil.rmtree(dpdk_runtime_dir(prefix), ignore_errors=True)

    def config(self, name, mutate=None):
        """A valid config (the demo's, with a private socket), optionally changed by mutate(cfg)."""
        with open(DEMO_CONFIG) as f:
            cfg = yaml.safe_load(f)
        cfg["control"]["socket"] = "/tmp/tally-startup-%d-%s.sock" % (os.getpid(), name)
        cfg["local_aaa_server"] = {"local_bill": {"cfcard": {"path": str(self.work / "cdr")}}}
        # The runs follow one another and share one CF card: they share its state directory
        # too, so file numbers never repeat on that card (never the default /var/lib/tally).
        cfg["node"]["state_dir"] = str(self.work / "state")
        if mutate:
            mutate(cfg)
        path = self.work / ("%s.yaml" % name)
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
        return path

    def tallyd(self, cfg, eal=None):
        cmd = [self.args.tallyd, "--config", cfg, "--exit-when-idle", "300", "--no-summary",
               "--usage-report", self.work / "usage.jsonl"]
        if eal is not None:
            cmd += ["--eal-args", eal]
        return run(cmd)


def line_col_of(path, needle):
    """1-based line of the first line containing needle, and the columns of the key and value."""
    for i, ln in enumerate(Path(path).read_text().splitlines(), 1):
        if needle in ln:
            key_col = len(ln) - len(ln.lstrip(" -")) + 1
            value_col = ln.index(needle) + len(needle.split(":")[0]) + 2 + 1 if ":" in needle else None
            return i, key_col, value_col
    raise AssertionError("%s not in %s" % (needle, path))


def expect_location(err, path, line, cols):
    """stderr must contain PATH:LINE:COL with that line and one of the accepted columns."""
    m = re.search(re.escape(str(path)) + r":(\d+):(\d+)", err)
    if not m:
        return "stderr has no '%s:LINE:COL': %s" % (path, tail(err))
    ln, col = int(m.group(1)), int(m.group(2))
    if ln != line:
        return "stderr points at line %d, the bad value is on line %d: %s" % (ln, line, tail(err))
    if col not in cols:
        return "stderr points at column %d, expected one of %s: %s" % (col, sorted(cols), tail(err))
    return None


def case_port_missing(c):
    def m(cfg):
        cfg["dataplane"]["ports"] = [{"name": "net_pcap9", "role": "access", "forward_to": "net_null0"},
                                     {"name": "net_null0", "role": "core"}]
    rc, out, err = c.tallyd(c.config("port_missing", m), c.eal())
    if rc is None:
        return "did not exit within %d s" % TIMEOUT_S
    if rc == 0:
        return "exit status 0 with a port that does not exist"
    if "net_pcap9" not in err:
        return "exit %d but stderr does not name net_pcap9: %s" % (rc, tail(err))
    return None


def bad_workers_config(c, name):
    def m(cfg):
        cfg["dataplane"]["workers"] = 0
    return c.config(name, m)


def case_bad_value(c):
    cfg = bad_workers_config(c, "bad_value")
    line, kc, vc = line_col_of(cfg, "workers: 0")
    rc, out, err = c.tallyd(cfg, c.eal())
    if rc is None:
        return "did not exit within %d s" % TIMEOUT_S
    if rc == 0:
        return "exit status 0 with dataplane.workers: 0"
    problem = expect_location(err, cfg, line, {kc, vc})
    if problem:
        return problem
    if "workers" not in err:
        return "stderr does not name the key workers: %s" % tail(err)
    return None


def case_bad_forward_to(c):
    def m(cfg):
        cfg["dataplane"]["ports"][0]["forward_to"] = "net_nowhere"
    cfg = c.config("bad_forward_to", m)
    line, kc, vc = line_col_of(cfg, "forward_to: net_nowhere")
    rc, out, err = c.tallyd(cfg, c.eal())
    if rc is None:
        return "did not exit within %d s" % TIMEOUT_S
    if rc == 0:
        return "exit status 0 with forward_to: net_nowhere"
    problem = expect_location(err, cfg, line, {kc, vc})
    if problem:
        return problem
    if "net_nowhere" not in err:
        return "stderr does not name the value net_nowhere: %s" % tail(err)
    return None


def case_bad_value_check(c):
    cfg = bad_workers_config(c, "bad_value_check")
    line, kc, vc = line_col_of(cfg, "workers: 0")
    rc, out, err = run([c.args.tallyd, "--check-config", cfg])
    if rc != 1:
        return "--check-config on a bad file: exit %s, expected 1" % rc
    return expect_location(err + out, cfg, line, {kc, vc})


def case_bad_eal_args(c):
    # The devices are there (else the port check refuses first): EAL itself must refuse.
    rc, out, err = c.tallyd(c.config("bad_eal_args"), c.eal() + " --no-such-eal-option")
    if rc is None:
        return "did not exit within %d s" % TIMEOUT_S
    if rc == 0:
        return "exit status 0 with --no-such-eal-option"
    if "eal" not in err.lower() or "--no-such-eal-option" not in err:
        return "exit %d but stderr neither says EAL nor names the option: %s" % (rc, tail(err))
    return None


def case_pcap_missing(c):
    rc, out, err = c.tallyd(c.config("pcap_missing"), c.eal(pcap=c.work / "no-such-file.pcap"))
    if rc is None:
        return "did not exit within %d s" % TIMEOUT_S
    if rc == 0:
        return "exit status 0 although net_pcap0 cannot open its pcap"
    if "net_pcap0" not in err and "no-such-file.pcap" not in err:
        return "exit %d but stderr names neither the port nor the file: %s" % (rc, tail(err))
    return None


def case_missing_config(c):
    path = c.work / "no-such-config.yaml"
    rc, out, err = run([c.args.tallyd, "--check-config", path])
    if rc != 1:
        return "--check-config on a missing file: exit %s, expected 1" % rc
    if str(path) not in err + out:
        return "the message does not name the file: %s" % tail(err + out)
    return None


def case_demo_config_valid(c):
    rc, out, err = run([c.args.tallyd, "--check-config", "config/demo.yaml"], cwd=REPO)
    if rc != 0:
        return "--check-config config/demo.yaml: exit %s: %s" % (rc, tail(err + out))
    if "not checked without starting:" not in out:
        return "--check-config does not say what it cannot check: %s" % tail(out)
    return None


# ---- paths and devices: --check-config and start-up refuse the same files ----

def with_eal(c, extra=()):
    """dataplane.eal = the test's EAL arguments (absolute pcap path, private prefix) + extra."""
    args = c.eal().split() + list(extra)

    def m(cfg):
        cfg["dataplane"]["eal"] = args
    return m


def refused(c, cfg, needle, words, check_args=(), start_args=()):
    """--check-config exits 1 pointing at the line of `needle` (key or value column) and
    saying every word; start-up (the config's own EAL arguments) exits != 0 saying them too."""
    rc, out, err = run([c.args.tallyd, "--check-config", cfg] + list(check_args))
    if rc != 1:
        return "--check-config: exit %s, expected 1: %s" % (rc, tail(err + out))
    if needle is not None:
        line, kc, vc = line_col_of(cfg, needle)
        ln = Path(cfg).read_text().splitlines()[line - 1]
        if ln.lstrip().startswith("- ") and ":" not in needle:  # an EAL argument: its column
            kc = vc = ln.index("- ") + 3
        problem = expect_location(err, cfg, line, {kc, vc} - {None})
        if problem:
            return "--check-config: " + problem
    for w in words:
        if w not in err:
            return "--check-config does not say %r: %s" % (w, tail(err))
    rc, out, err = run([c.args.tallyd, "--config", cfg, "--exit-when-idle", "300", "--no-summary"]
                       + list(start_args))
    if rc is None:
        return "start-up did not exit within %d s" % TIMEOUT_S
    if rc == 0:
        return "--check-config refused it but start-up ran: exit 0"
    for w in words:
        if w not in err:
            return "start-up exit %d does not say %r: %s" % (rc, w, tail(err))
    return None


CFCARD = ("local_aaa_server", "local_bill", "cfcard", "path")
SOCKET = ("control", "socket")


def refused_with(c, name, keys, value, words):
    """A config with the test's EAL arguments and cfg[keys...] = value, refused (see refused())
    at the line of that value."""
    def m(cfg):
        with_eal(c)(cfg)
        d = cfg
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = str(value)
    return refused(c, c.config(name, m), "%s: %s" % (keys[-1], value), words)


def case_cfcard_is_file(c):
    f = c.work / "cfcard-file"
    f.write_text("x")
    return refused_with(c, "cfcard_is_file", CFCARD, f,
                        ["local_bill.cfcard.path", "exists and is not a directory"])


def case_cfcard_below_file(c):
    f = c.work / "cfcard-file2"
    f.write_text("x")
    return refused_with(c, "cfcard_below_file", CFCARD, f / "cdr",
                        ["local_bill.cfcard.path", "Not a directory"])


def case_cfcard_not_writable(c):
    if os.geteuid() == 0:
        return "SKIP: root writes into a mode 0555 directory (and so does tallyd)"
    d = c.work / "cfcard-ro"
    d.mkdir(mode=0o555)
    return refused_with(c, "cfcard_not_writable", CFCARD, d,
                        ["local_bill.cfcard.path", "is not writable"])


def case_sequence_file_is_dir(c):
    d = c.work / "cfcard-seqdir"
    (d / ".tally-sequence").mkdir(parents=True)
    return refused_with(c, "sequence_file_is_dir", CFCARD, d,
                        [".tally-sequence", "is not a regular file"])


def case_socket_dir_missing(c):
    return refused_with(c, "socket_dir_missing", SOCKET, c.work / "no" / "such" / "t.sock",
                        ["control.socket", "does not exist and cannot be created"])


def case_socket_not_socket(c):
    sock = c.work / "plain-file.sock"
    sock.write_text("x")
    return refused_with(c, "socket_not_socket", SOCKET, sock,
                        ["control.socket", "exists and is not a socket"])


def case_rx_pcap_missing(c):
    missing = c.work / "no-such-input.pcap"
    cfg = c.config("rx_pcap_missing", with_eal(c))
    text = cfg.read_text().replace(str(DEMO_PCAP), str(missing))
    cfg.write_text(text)
    return refused(c, cfg, "rx_pcap=%s" % missing, ["dataplane.eal[", "net_pcap0 rx_pcap file",
                                                    str(missing)])


def case_tx_pcap_dir_missing(c):
    out = c.work / "no-dir" / "out.pcap"
    cfg = c.config("tx_pcap_dir_missing", with_eal(c, ["--vdev=net_pcap1,tx_pcap=%s" % out]))
    return refused(c, cfg, "tx_pcap=%s" % out, ["net_pcap1 tx_pcap file", "does not exist"])


def case_vdev_port_missing(c):
    def m(cfg):
        with_eal(c)(cfg)
        cfg["dataplane"]["ports"] = [{"name": "net_pcap9", "role": "access", "forward_to": "net_null0"},
                                     {"name": "net_null0", "role": "core"}]
    return refused(c, c.config("vdev_port_missing", m), "name: net_pcap9",
                   ["dataplane.ports[0].name", "no --vdev EAL argument creates"])


def case_too_few_lcores(c):
    def m(cfg):
        with_eal(c)(cfg)
        cfg["dataplane"]["workers"] = 2
    cfg = c.config("too_few_lcores", m)
    return refused(c, cfg, None, ["dataplane.workers 2 needs workers + 1"])


def case_usage_report_dir_missing(c):
    report = c.work / "no-report-dir" / "usage.jsonl"
    cfg = c.config("usage_report_dir_missing", with_eal(c))
    return refused(c, cfg, None, ["--usage-report", "does not exist"],
                   check_args=["--usage-report", report], start_args=["--usage-report", report])


def case_node_id_hidden(c):
    def m(cfg):
        cfg["node"]["id"] = ".hidden"
    return refused(c, c.config("node_id_hidden", m), "id: .hidden", ["node.id", "not starting with '.'"])


def case_nul_byte(c):
    cfg = c.config("nul_byte", with_eal(c))
    text = cfg.read_bytes()
    at = text.index(b"address: ") + len(b"address: ")
    cfg.write_bytes(text[:at] + b"\0" + text[at:])
    line = text[:at].count(b"\n") + 1
    col = at - (text.rfind(b"\n", 0, at) + 1) + 1
    rc, out, err = run([c.args.tallyd, "--check-config", cfg])
    if rc != 1:
        return "--check-config: exit %s, expected 1: %s" % (rc, tail(err + out))
    problem = expect_location(err, cfg, line, {col})
    if problem:
        return problem
    if "control character 0x00" not in err:
        return "the message does not name the NUL: %s" % tail(err)
    return None


def case_eal_args_replace(c):
    def m(cfg):
        cfg["dataplane"]["eal"] = ["--no-such-eal-option", "--vdev=net_pcap0,rx_pcap=/nonexistent.pcap"]
    rc, out, err = c.tallyd(c.config("eal_args_replace", m), c.eal())
    if rc is None:
        return "did not exit within %d s" % TIMEOUT_S
    if rc != 0:
        return "--eal-args did not replace dataplane.eal: exit %d: %s" % (rc, tail(err))
    return None


CASES = [
    ("port_missing", case_port_missing),
    ("bad_value", case_bad_value),
    ("bad_forward_to", case_bad_forward_to),
    ("bad_value_check", case_bad_value_check),
    ("bad_eal_args", case_bad_eal_args),
    ("pcap_missing", case_pcap_missing),
    ("missing_config", case_missing_config),
    ("demo_config_valid", case_demo_config_valid),
    ("eal_args_replace", case_eal_args_replace),
    ("cfcard_is_file", case_cfcard_is_file),
    ("cfcard_below_file", case_cfcard_below_file),
    ("cfcard_not_writable", case_cfcard_not_writable),
    ("sequence_file_is_dir", case_sequence_file_is_dir),
    ("socket_dir_missing", case_socket_dir_missing),
    ("socket_not_socket", case_socket_not_socket),
    ("rx_pcap_missing", case_rx_pcap_missing),
    ("tx_pcap_dir_missing", case_tx_pcap_dir_missing),
    ("vdev_port_missing", case_vdev_port_missing),
    ("too_few_lcores", case_too_few_lcores),
    ("usage_report_dir_missing", case_usage_report_dir_missing),
    ("node_id_hidden", case_node_id_hidden),
    ("nul_byte", case_nul_byte),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tallyd", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    args.tallyd = str(Path(args.tallyd).resolve())
    work = Path(args.workdir).resolve()
    prepare_workdir(work, ".startup_errors_workdir")
    c = Case(args, work)
    failed = 0
    for name, fn in CASES:
        try:
            problem = fn(c)
        except Exception as e:   # noqa: BLE001
            problem = "%s: %s" % (type(e).__name__, e)
        if problem and problem.startswith("SKIP: "):
            print("SKIP %s: %s" % (name, problem[6:]), flush=True)
        elif problem:
            failed += 1
            print("FAIL %s: %s" % (name, problem), flush=True)
        else:
            print("PASS %s" % name, flush=True)
    c.cleanup()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
