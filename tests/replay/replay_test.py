#!/usr/bin/python3
"""End-to-end replay tests: tallyd's usage report against the independent truth.

  replay_test.py --tallyd build/tallyd --tallyctl build/tallyctl --workdir DIR
                 [--only NAME[,NAME]] [--self-check] [--keep-going]

For every scenario: generate a pcap (scripts/gen_pcap.py) and a config into DIR, run
  tallyd --config CFG --exit-when-idle 2000 --usage-report REPORT --eal-args "... net_pcap0
         reading the pcap ... net_null0 (no-rx) ..."
compute the truth with scripts/expected_usage.py, and require the report to match flow by
flow exactly (same flows, every field) and the totals counters to match. Prints
`PASS name` / `FAIL name: reason` per scenario (with a readable diff) and exits 1 on any
failure.

Every comparison is also shown to be able to fail: after a scenario passes, the report is
mutated (one octet more in one flow, one flow removed, one counter off by one) and the same
comparison must reject each mutation. --self-check runs only that part, with the truth
itself standing in for tallyd's report (no tallyd needed).

Scenarios:
  demo_pcap          tests/data/demo.pcap with config/demo.yaml's subscribers and services
  varied             a fresh varied pcap (other seed, more subscribers, 3000+ frames)
  ipv6_only          only IPv6 (inner and outer), /64 subscriber keys
  ipv6_prefix_56     the IPv6-only pcap with ipv6_prefix_length 56 (keys printed as /56)
  rules_reordered    the varied pcap with the rules in another order and default RG 99
  max_sessions       max_sessions: 5, 20 IPv4 subscribers: 5 get sessions (flows exact),
                     the others' octets are unattributed, conservation holds
  learn_off_statics  learn: false, one IPv4 and one IPv6 static subscriber: only they get
                     flows, the others' octets are unattributed
  bench_frames       gen_pcap.py --bench frames (20000 over 2000 subscribers, 30 % downlink)
  jumbo              gen_pcap.py --jumbo: frames of 64 to 65589 octets (IPv4, IPv6, GTP-U with
                     and without extension header, inner IPv4/IPv6, VLAN, both directions);
                     default max_frame_size 9216: whole frames up to 9216 in one buffer,
                     larger ones chained by net_pcap
  jumbo_chained      the same frames with max_frame_size 1518 (2048-octet buffers): every
                     frame over 2048 octets arrives in several chained buffers
  truth_crosscheck   no tallyd: tshark reads the same frames (count, sizes, in order) as
                     scapy, and the truth agrees with the generator's recorded intent
"""

import argparse
import copy
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "scripts" / "gen_pcap.py"
TRUTH = REPO / "scripts" / "expected_usage.py"
DEMO_PCAP = REPO / "tests" / "data" / "demo.pcap"
DEMO_CONFIG = REPO / "config" / "demo.yaml"
PY = "/usr/bin/python3"

sys.path.insert(0, str(REPO / "scripts"))
from gen_pcap import STANDARD_SERVICES  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_util import dpdk_runtime_dir, prepare_workdir  # noqa: E402,F401 (also used by tests/bill)

FLOW_FIELDS = ["uplink_octets", "downlink_octets", "uplink_packets", "downlink_packets"]
TOTAL_KEYS = ["rx_packets", "non_ip", "l2_truncated", "bad_ip_version", "bad_ip_header",
              "ip_length_exceeds_frame", "gtpu_malformed", "gtpu_not_gpdu", "transit_packets",
              "transit_octets", "counted_packets", "counted_octets", "attributed_octets",
              "unattributed_octets"]
# named "unattributed" counters: together they must make up unattributed_octets
NAMED_UNATTRIBUTED = ("learn_queue_full_octets", "slot_table_full_octets")
ACCESS_PORT, CORE_PORT = "net_pcap0", "net_null0"
IDLE_MS = 2000  # --exit-when-idle of every replay run (Runner.tallyd)
RUN_TIMEOUT_S = 120
MAX_DIFF_LINES = 25


# --------------------------------------------------------------------------------------
# reading and comparing reports
# --------------------------------------------------------------------------------------

class Report:
    def __init__(self, flows, totals):
        self.flows = flows      # {(subscriber, rg): flow dict}
        self.totals = totals    # dict


def load_report(path):
    """Parses a JSONL usage report; raises ValueError with a precise reason on bad shape."""
    flows, totals = {}, None
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    if not lines:
        raise ValueError("%s is empty" % path)
    for n, ln in enumerate(lines, 1):
        try:
            o = json.loads(ln)
        except json.JSONDecodeError as e:
            raise ValueError("%s:%d: not JSON: %s" % (path, n, e))
        t = o.get("type")
        if t == "flow":
            if totals is not None:
                raise ValueError("%s:%d: flow line after the totals line" % (path, n))
            for k in ["subscriber", "rating_group"] + FLOW_FIELDS:
                if k not in o:
                    raise ValueError("%s:%d: flow without '%s'" % (path, n, k))
            key = (o["subscriber"], o["rating_group"])
            if key in flows:
                raise ValueError("%s:%d: flow %s rg %s listed twice" % (path, n, key[0], key[1]))
            flows[key] = o
        elif t == "totals":
            if totals is not None:
                raise ValueError("%s:%d: second totals line" % (path, n))
            if n != len(lines):
                raise ValueError("%s:%d: totals line is not the last line" % (path, n))
            totals = o
        else:
            raise ValueError("%s:%d: unknown line type %r" % (path, n, t))
    if totals is None:
        raise ValueError("%s: no totals line" % path)
    return Report(flows, totals)


def canonical_subscriber(s):
    """The spelling the report must use: Python's ipaddress form (address / compressed prefix)."""
    if "/" in s:
        return str(ipaddress.ip_network(s, strict=True))
    return str(ipaddress.ip_address(s))


def fmt_flow(f):
    return " ".join("%s=%s" % (k.replace("_octets", "_oct").replace("_packets", "_pk"), f[k])
                    for k in FLOW_FIELDS)


def compare_flows(exp_flows, got_flows, errors, only_subscribers=None):
    """Flow-by-flow, every field. only_subscribers: restrict the expected side."""
    for key, g in got_flows.items():
        try:
            canon = canonical_subscriber(key[0])
        except ValueError:
            errors.append("flow subscriber %r is not an address or prefix" % key[0])
            continue
        if canon != key[0]:
            errors.append("flow subscriber %r is not in canonical form (expected %r)" % (key[0], canon))
    keys = set(got_flows)
    keys |= {k for k in exp_flows if only_subscribers is None or k[0] in only_subscribers}
    for key in sorted(keys, key=lambda k: (str(k[0]), k[1])):
        e, g = exp_flows.get(key), got_flows.get(key)
        name = "flow %s rg %s" % key
        if e is None:
            errors.append("%s: unexpected in the report (%s)" % (name, fmt_flow(g)))
        elif g is None:
            errors.append("%s: missing from the report (expected %s)" % (name, fmt_flow(e)))
        else:
            for k in FLOW_FIELDS:
                if e[k] != g[k]:
                    errors.append("%s: %s expected %d got %d (diff %+d)" % (name, k, e[k], g[k], g[k] - e[k]))


def check_internal(got, nframes, errors, strict_zero_named=True):
    """Report self-consistency: conservation, named unattributed counters, ports."""
    t = got.totals
    for k in ("counted_octets", "attributed_octets", "unattributed_octets"):
        if k not in t:
            errors.append("totals: '%s' missing" % k)
            return
    if t.get("conservation") != "ok":
        errors.append("totals: conservation is %r, not 'ok'" % t.get("conservation"))
    if t.get("mbufs_in_use_at_exit") != 0:
        errors.append("totals: mbufs_in_use_at_exit is %r, not 0 (packet buffers leaked)"
                      % t.get("mbufs_in_use_at_exit"))
    if t["counted_octets"] != t["attributed_octets"] + t["unattributed_octets"]:
        errors.append("totals: counted_octets %d != attributed_octets %d + unattributed_octets %d"
                      % (t["counted_octets"], t["attributed_octets"], t["unattributed_octets"]))
    flow_sum = sum(f["uplink_octets"] + f["downlink_octets"] for f in got.flows.values())
    if flow_sum != t["attributed_octets"]:
        errors.append("totals: attributed_octets %d != sum of the flow lines %d"
                      % (t["attributed_octets"], flow_sum))
    if "attributed_packets" in t:
        pk = sum(f["uplink_packets"] + f["downlink_packets"] for f in got.flows.values())
        if pk != t["attributed_packets"]:
            errors.append("totals: attributed_packets %d != sum of the flow lines %d" % (t["attributed_packets"], pk))
    named = [k for k in t if k.startswith("unattributed_") and k.endswith("_octets") and k != "unattributed_octets"]
    named += [k for k in NAMED_UNATTRIBUTED if k in t]
    if named:
        s = sum(t[k] for k in named)
        if s != t["unattributed_octets"]:
            errors.append("totals: the named unattributed counters (%s) add up to %d, unattributed_octets is %d"
                          % (", ".join("%s=%d" % (k, t[k]) for k in named), s, t["unattributed_octets"]))
    if t.get("headers_split", 0) != 0:
        errors.append("totals: headers_split = %d: frames in several buffers not billed"
                      % t["headers_split"])
    if strict_zero_named:
        for k in NAMED_UNATTRIBUTED:
            if t.get(k, 0) != 0:
                errors.append("totals: %s = %d, expected 0 (nothing should be lost here)" % (k, t[k]))
    ports = {p.get("name"): p for p in t.get("ports", [])}
    a, c = ports.get(ACCESS_PORT), ports.get(CORE_PORT)
    if a is None or c is None:
        errors.append("totals: ports must list %s and %s (got %s)" % (ACCESS_PORT, CORE_PORT, sorted(ports)))
        return
    if a.get("rx_packets") != nframes:
        errors.append("ports: %s rx_packets %s, the pcap has %d frames" % (ACCESS_PORT, a.get("rx_packets"), nframes))
    if c.get("tx_packets") != nframes:
        errors.append("ports: %s tx_packets %s, expected every frame forwarded: %d"
                      % (CORE_PORT, c.get("tx_packets"), nframes))
    for p in (a, c):
        for k in ("tx_drops", "tap_drops"):
            if p.get(k, 0) != 0:
                errors.append("ports: %s %s = %s, expected 0" % (p["name"], k, p.get(k)))


def compare_exact(exp, got, nframes):
    errors = []
    rx = got.totals.get("rx_packets")
    if rx is not None and rx < nframes:
        # First, so that it is seen above the differences that follow from it.
        errors.append("replay incomplete: tallyd received %d of the pcap's %d frames before it "
                      "stopped (no packet for %d ms); the differences below follow from that"
                      % (rx, nframes, IDLE_MS))
    compare_flows(exp.flows, got.flows, errors)
    for k in TOTAL_KEYS:
        if k not in got.totals:
            errors.append("totals: '%s' missing" % k)
        elif got.totals[k] != exp.totals[k]:
            errors.append("totals: %s expected %d got %d (diff %+d)"
                          % (k, exp.totals[k], got.totals[k], got.totals[k] - exp.totals[k]))
    check_internal(got, nframes, errors, strict_zero_named=(exp.totals["unattributed_octets"] == 0))
    hint_inner_version(exp.totals, got.totals, errors)
    return errors


def hint_inner_version(exp, got, errors):
    """A known point of disagreement gets a hint rather than a bare number."""
    dv = got.get("bad_ip_version", 0) - exp["bad_ip_version"]
    dm = got.get("gtpu_malformed", 0) - exp["gtpu_malformed"]
    if dv and dv == -dm:
        errors.append("hint: %d frame(s) moved between bad_ip_version and gtpu_malformed: G-PDUs whose inner "
                      "packet has a version nibble other than 4/6? The truth follows dataplane/parser.h "
                      "(kGtpMalformed for a non-IP inner packet); see INNER_BAD_VERSION_COUNTER in "
                      "scripts/expected_usage.py" % abs(dv))


def compare_sessions_limited(exp_all, exp_first_seen, got, nframes, max_sessions, notes):
    """max_sessions scenario: whoever got a session is billed exactly; the rest is unattributed.

    exp_all: the truth without a session limit. exp_first_seen: the truth if the first
    max_sessions subscribers seen got the sessions (only used for a note)."""
    errors = []
    subs_all = {k[0] for k in exp_all.flows}
    subs_got = {k[0] for k in got.flows}
    compare_flows(exp_all.flows, got.flows, errors, only_subscribers=subs_got)
    want = min(max_sessions, len(subs_all))
    if len(subs_got) != want:
        errors.append("%d subscribers have flows, expected %d (max_sessions %d, %d subscribers in the traffic)"
                      % (len(subs_got), want, max_sessions, len(subs_all)))
    attributed = sum(f["uplink_octets"] + f["downlink_octets"] for k, f in exp_all.flows.items() if k[0] in subs_got)
    unattributed = exp_all.totals["counted_octets"] - attributed
    expect = dict(exp_all.totals, attributed_octets=attributed, unattributed_octets=unattributed)
    for k in TOTAL_KEYS:
        if k not in got.totals:
            errors.append("totals: '%s' missing" % k)
        elif got.totals[k] != expect[k]:
            errors.append("totals: %s expected %d got %d (diff %+d)" % (k, expect[k], got.totals[k], got.totals[k] - expect[k]))
    if unattributed == 0:
        errors.append("scenario is void: no octet is unattributed")
    hint_inner_version(exp_all.totals, got.totals, errors)
    check_internal(got, nframes, errors, strict_zero_named=False)
    first = {k[0] for k in exp_first_seen.flows}
    if subs_got != first:
        notes.append("note: the sessions went to %s; the first %d seen were %s"
                     % (sorted(subs_got), max_sessions, sorted(first)))
    return errors


# --------------------------------------------------------------------------------------
# mutations: every comparison must be able to fail
# --------------------------------------------------------------------------------------

def mutations(rep):
    """Yields (description, mutated report)."""
    keys = sorted(rep.flows, key=lambda k: (str(k[0]), k[1]))
    if keys:
        k = keys[len(keys) // 2]
        m = copy.deepcopy(rep)
        m.flows[k]["uplink_octets"] += 1
        yield "one more uplink octet in flow %s rg %s" % k, m
        m = copy.deepcopy(rep)
        m.flows[k]["downlink_packets"] += 1
        yield "one more downlink packet in flow %s rg %s" % k, m
        m = copy.deepcopy(rep)
        f = m.flows.pop(k)
        m.flows[(k[0], k[1] + 1000)] = dict(f, rating_group=k[1] + 1000)
        yield "flow %s rg %s reported under rg %d" % (k[0], k[1], k[1] + 1000), m
        m = copy.deepcopy(rep)
        del m.flows[keys[-1]]
        yield "flow %s rg %s dropped" % keys[-1], m
    for counter in ("gtpu_malformed", "transit_octets", "rx_packets"):
        m = copy.deepcopy(rep)
        m.totals[counter] = m.totals.get(counter, 0) + 1
        yield "%s off by one" % counter, m


def synthetic_report(exp, nframes):
    """The truth dressed up as a tallyd report (for --self-check)."""
    t = dict(exp.totals)
    t["ports"] = [{"name": ACCESS_PORT, "rx_packets": nframes, "tx_packets": 0, "tx_drops": 0, "tap_drops": 0},
                  {"name": CORE_PORT, "rx_packets": 0, "tx_packets": nframes, "tx_drops": 0, "tap_drops": 0}]
    return Report(copy.deepcopy(exp.flows), t)


# --------------------------------------------------------------------------------------
# running things
# --------------------------------------------------------------------------------------

def run(cmd, timeout=300, **kw):
    return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, **kw)


def gen(out, *args, manifest=None):
    cmd = [PY, GEN, "--out", out] + list(args)
    if manifest:
        cmd += ["--manifest", manifest]
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError("gen_pcap.py failed: %s" % r.stderr.strip())


def truth(pcap, cfg, out, model="first-seen"):
    r = run([PY, TRUTH, "--pcap", pcap, "--config", cfg, "--out", out, "--max-sessions-model", model])
    if r.returncode != 0:
        raise RuntimeError("expected_usage.py failed: %s" % r.stderr.strip())
    return load_report(out)


def base_config(sock):
    with open(DEMO_CONFIG) as f:
        cfg = yaml.safe_load(f)
    cfg["dataplane"]["eal"] = ["--replaced-by-eal-args"]
    cfg["dataplane"]["ports"] = [{"name": ACCESS_PORT, "role": "access", "forward_to": CORE_PORT},
                                 {"name": CORE_PORT, "role": "core"}]
    cfg["dataplane"]["workers"] = 1
    cfg["control"] = {"socket": str(sock)}
    cfg["services"] = copy.deepcopy(STANDARD_SERVICES)
    # Each scenario writes its CDR files to its own "CF card" directory and keeps its sequence
    # numbers in its own state directory (never the default /var/lib/tally).
    cfg["local_aaa_server"] = {"local_bill": {"cfcard": {"path": str(sock) + ".cdr"}}}
    cfg["node"]["state_dir"] = str(sock) + ".state"
    return cfg


def write_config(path, cfg):
    with open(path, "w") as f:
        f.write("# generated by tests/replay/replay_test.py\n")
        yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)


class Runner:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.workdir).resolve()
        self.counter = 0

    def sock_path(self, name):
        p = self.work / ("%s.sock" % name)
        if len(str(p)) > 100:    # sun_path limit
            p = Path("/tmp/tally-test-%d-%s.sock" % (os.getpid(), name))
        return p

    def tallyd(self, name, cfg_path, pcap):
        """Runs tallyd on the pcap; returns (report path, stdout, stderr) or raises."""
        self.counter += 1
        report = self.work / ("%s.usage.jsonl" % name)
        if report.exists():
            report.unlink()
        prefix = "tally-test-%d-%d" % (os.getpid(), self.counter)
        eal = ("--no-huge -m 256 --no-pci -l 0-1 --file-prefix %s "
               "--vdev=%s,rx_pcap=%s --vdev=%s,no-rx=1" % (prefix, ACCESS_PORT, pcap, CORE_PORT))
        if " " in str(pcap):
            raise RuntimeError("the pcap path must not contain spaces (--eal-args is split on spaces)")
        # tallyd stops once no packet arrived for IDLE_MS: then the pcap is through. A stall of
        # the replay (net_pcap reads the file in the worker's receive call) as long as that ended a
        # run early: 96 of 20,000 frames once in CI with 500 ms, on a shared guest (2026-12-07).
        cmd = [self.args.tallyd, "--config", cfg_path, "--exit-when-idle", str(IDLE_MS),
               "--usage-report", report, "--eal-args", eal]
        with open(self.work / ("%s.cmd" % name), "w") as f:
            f.write(" ".join("'%s'" % c if " " in str(c) else str(c) for c in cmd) + "\n")
        t0 = time.monotonic()
        p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            shutil.rmtree(dpdk_runtime_dir(prefix), ignore_errors=True)
            raise RuntimeError("tallyd did not exit within %d s (net_null rx? idle detection?); stderr tail: %s"
                               % (RUN_TIMEOUT_S, tail(err)))
        shutil.rmtree(dpdk_runtime_dir(prefix), ignore_errors=True)
        (self.work / ("%s.stdout" % name)).write_text(out)
        (self.work / ("%s.stderr" % name)).write_text(err)
        if p.returncode != 0:
            raise RuntimeError("tallyd exited %d after %.1f s; stderr tail: %s"
                               % (p.returncode, time.monotonic() - t0, tail(err)))
        if not report.exists():
            raise RuntimeError("tallyd exited 0 but wrote no usage report %s" % report)
        return report


def tail(s, n=6):
    lines = [ln for ln in s.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) if lines else "(empty)"


# --------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------

class Skip(Exception):
    pass


def scenario_exact(r, name, pcap, cfg, model="first-seen"):
    """Generic exact scenario. Returns (errors, notes)."""
    cfg_path = r.work / ("%s.yaml" % name)
    write_config(cfg_path, cfg)
    exp = truth(pcap, cfg_path, r.work / ("%s.expected.jsonl" % name), model)
    nframes = exp.totals["rx_packets"]
    notes = ["%d frames, %d flows, %d octets counted" % (nframes, len(exp.flows), exp.totals["counted_octets"])]
    return exp, nframes, cfg_path, notes


def check_mutations(compare, rep, errors):
    """compare(report) -> list of errors; each mutation of a passing report must be caught."""
    for what, m in mutations(rep):
        if not compare(m):
            errors.append("self-check: the comparison did not notice: %s" % what)


def run_exact(r, name, pcap, cfg, model="first-seen"):
    exp, nframes, cfg_path, notes = scenario_exact(r, name, pcap, cfg, model)
    if r.args.self_check:
        got = synthetic_report(exp, nframes)
    else:
        got = load_report(r.tallyd(name, cfg_path, pcap))
    errors = compare_exact(exp, got, nframes)
    if not errors:
        check_mutations(lambda m: compare_exact(exp, m, nframes), got, errors)
    return errors, notes


def sc_demo_pcap(r):
    cfg = base_config(r.sock_path("demo_pcap"))
    with open(DEMO_CONFIG) as f:
        demo = yaml.safe_load(f)
    cfg["subscribers"] = demo["subscribers"]
    cfg["services"] = demo["services"]
    return run_exact(r, "demo_pcap", DEMO_PCAP, cfg)


def varied_pcap(r):
    pcap = r.work / "varied.pcap"
    if not pcap.exists():
        gen(pcap, "--seed", "7", "--packets", "3000", "--subscribers", "40", manifest=r.work / "varied.manifest.json")
    return pcap


def ipv6_pcap(r):
    pcap = r.work / "ipv6_only.pcap"
    if not pcap.exists():
        gen(pcap, "--seed", "11", "--packets", "1500", "--subscribers", "16", "--family", "6",
            manifest=r.work / "ipv6_only.manifest.json")
    return pcap


def sc_varied(r):
    return run_exact(r, "varied", varied_pcap(r), base_config(r.sock_path("varied")))


def sc_ipv6_only(r):
    pcap = ipv6_pcap(r)
    errors, notes = run_exact(r, "ipv6_only", pcap, base_config(r.sock_path("ipv6_only")))
    exp = load_report(r.work / "ipv6_only.expected.jsonl")
    if any(ipaddress.ip_network(k[0], strict=False).version != 6 for k in exp.flows):
        errors.append("scenario is void: the IPv6-only pcap produced IPv4 flows")
    return errors, notes


def sc_ipv6_prefix_56(r):
    pcap = ipv6_pcap(r)
    cfg = base_config(r.sock_path("ipv6_prefix_56"))
    cfg["subscribers"]["ipv6_prefix_length"] = 56
    errors, notes = run_exact(r, "ipv6_prefix_56", pcap, cfg)
    exp = load_report(r.work / "ipv6_prefix_56.expected.jsonl")
    if not all(k[0].endswith("/56") for k in exp.flows):
        errors.append("scenario is void: not every expected key is a /56")
    return errors, notes


def sc_rules_reordered(r):
    cfg = base_config(r.sock_path("rules_reordered"))
    rules = cfg["services"]["rules"]
    # port-range rule first: now UDP 5000 to 203.0.113.x is 80, not 30; the DNS rule last
    cfg["services"]["rules"] = [rules[-1]] + rules[1:-1] + [rules[0]]
    cfg["services"]["default_rating_group"] = 99
    return run_exact(r, "rules_reordered", varied_pcap(r), cfg)


def sc_max_sessions(r):
    name = "max_sessions"
    pcap = r.work / ("%s.pcap" % name)
    gen(pcap, "--seed", "5", "--packets", "800", "--subscribers", "20", "--family", "4", "--intro")
    cfg = base_config(r.sock_path(name))
    cfg["dataplane"]["max_sessions"] = 5
    cfg["subscribers"]["static"] = []
    cfg_path = r.work / ("%s.yaml" % name)
    write_config(cfg_path, cfg)
    exp_all = truth(pcap, cfg_path, r.work / ("%s.expected-unlimited.jsonl" % name), "ignore")
    exp_first = truth(pcap, cfg_path, r.work / ("%s.expected.jsonl" % name), "first-seen")
    nframes = exp_all.totals["rx_packets"]
    notes = ["%d frames, %d subscribers, max_sessions 5: %d of %d octets unattributed if the first 5 seen win"
             % (nframes, len({k[0] for k in exp_all.flows}), exp_first.totals["unattributed_octets"],
                exp_first.totals["counted_octets"])]
    got = synthetic_report(exp_first, nframes) if r.args.self_check else load_report(r.tallyd(name, cfg_path, pcap))
    errors = compare_sessions_limited(exp_all, exp_first, got, nframes, 5, notes)
    if not errors:
        check_mutations(lambda m: compare_sessions_limited(exp_all, exp_first, m, nframes, 5, []), got, errors)
    return errors, notes


def sc_learn_off_statics(r):
    name = "learn_off_statics"
    pcap = varied_pcap(r)
    man = json.load(open(r.work / "varied.manifest.json"))
    v6net = ipaddress.ip_network(man["v6_subscribers"][1][0] + "/64", strict=False)
    v6static = str(v6net.network_address + 0x1234)       # in the prefix, not an address in the traffic
    v4static = man["v4_subscribers"][3]
    cfg = base_config(r.sock_path(name))
    cfg["subscribers"]["learn"] = False
    cfg["subscribers"]["static"] = [{"address": v4static, "user_name": "bob"},
                                    {"address": v6static, "user_name": "carol", "imsi": "001010000000002"}]
    errors, notes = run_exact(r, name, pcap, cfg)
    exp = load_report(r.work / ("%s.expected.jsonl" % name))
    subs = {k[0] for k in exp.flows}
    if subs != {v4static, str(v6net)}:
        errors.append("scenario is void: expected flows for exactly %s and %s, truth has %s" % (v4static, v6net, sorted(subs)))
    if exp.totals["unattributed_octets"] == 0:
        errors.append("scenario is void: nothing unattributed")
    return errors, notes


def jumbo_pcap(r):
    pcap = r.work / "jumbo.pcap"
    if not pcap.exists():
        gen(pcap, "--jumbo", "--seed", "13")
    return pcap


def run_jumbo(r, name, max_frame_size, buffer_octets):
    cfg = base_config(r.sock_path(name))
    if max_frame_size is not None:
        cfg["dataplane"]["max_frame_size"] = max_frame_size
    errors, notes = run_exact(r, name, jumbo_pcap(r), cfg)
    exp = load_report(r.work / ("%s.expected.jsonl" % name))
    # The scenario must bill what it is about: frames beyond one buffer, tunneled or not.
    if exp.totals["counted_octets"] < 4 * 65000:
        errors.append("scenario is void: the truth bills only %d octets" % exp.totals["counted_octets"])
    if not r.args.self_check:
        log = (r.work / ("%s.stderr" % name)).read_text()
        want = "%d-octet buffers" % buffer_octets
        if want not in log:
            errors.append("scenario is void: tallyd did not set up %s (log: %s)" % (want, tail(log, 3)))
    return errors, notes


def sc_jumbo(r):
    return run_jumbo(r, "jumbo", None, 9216)


def sc_jumbo_chained(r):
    return run_jumbo(r, "jumbo_chained", 1518, 2048)


def sc_bench_frames(r):
    """The benchmark's pcap format (raw struct-built frames), many subscribers, both directions."""
    pcap = r.work / "bench.pcap"
    gen(pcap, "--bench", "--seed", "3", "--packets", "20000", "--subscribers", "2000", "--bench-downlink", "30")
    cfg = base_config(r.sock_path("bench_frames"))
    errors, notes = run_exact(r, "bench_frames", pcap, cfg)
    exp = load_report(r.work / "bench_frames.expected.jsonl")
    if len({k[0] for k in exp.flows}) < 1900:
        errors.append("scenario is void: fewer subscribers than expected")
    return errors, notes


def tshark_frames(pcap):
    r = run(["tshark", "-r", pcap, "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"])
    if r.returncode != 0:
        raise RuntimeError("tshark failed: %s" % tail(r.stderr))
    out = []
    for ln in r.stdout.splitlines():
        a, b = ln.split("\t")
        out.append((int(a), int(b)))
    return out


def crosscheck_errors(pcap, ts, sc_lens, exp, man):
    errors = []
    if len(ts) != len(sc_lens):
        errors.append("%s: tshark sees %d frames, scapy %d" % (pcap.name, len(ts), len(sc_lens)))
    elif [a for a, _ in ts] != sc_lens:
        i = next(i for i, (a, _) in enumerate(ts) if a != sc_lens[i])
        errors.append("%s: frame %d is %d octets for tshark, %d for scapy" % (pcap.name, i + 1, ts[i][0], sc_lens[i]))
    if any(a != b for a, b in ts):
        errors.append("%s: tshark reports truncated captures (cap_len < len)" % pcap.name)
    if exp.totals["rx_packets"] != len(ts):
        errors.append("%s: the truth counted %d frames, tshark %d" % (pcap.name, exp.totals["rx_packets"], len(ts)))
    if exp.totals["bytes"] != sum(a for a, _ in ts):
        errors.append("%s: the truth read %d octets of frames, tshark %d" % (pcap.name, exp.totals["bytes"], sum(a for a, _ in ts)))
    # the generator's intent (written while building the frames) against the truth (read back)
    for k, v in man["categories"].items():
        if k in exp.totals and exp.totals[k] != v:
            errors.append("%s: %s: generator made %d, truth counts %d" % (pcap.name, k, v, exp.totals[k]))
    for k in ("transit_packets", "transit_octets", "counted_packets", "counted_octets"):
        if man[k] != exp.totals[k]:
            errors.append("%s: %s: generator intended %d, truth %d" % (pcap.name, k, man[k], exp.totals[k]))
    if man["gpdu_frames"] != exp.totals["gpdu_packets"]:
        errors.append("%s: G-PDUs: generator made %d, truth decapsulated %d" % (pcap.name, man["gpdu_frames"], exp.totals["gpdu_packets"]))
    mflows = {(f["subscriber"], f["rating_group"]): f for f in man["flows"]}
    compare_flows(mflows, exp.flows, errors)
    return errors


def sc_truth_crosscheck(r):
    """No tallyd: tshark and scapy read the same frames; the truth matches the generator's intent."""
    if shutil.which("tshark") is None:
        raise Skip("tshark not installed")
    errors, notes = [], []
    cases = [(varied_pcap(r), r.work / "varied.manifest.json"),
             (ipv6_pcap(r), r.work / "ipv6_only.manifest.json")]
    demo_man = r.work / "demo.manifest.json"
    demo_copy = r.work / "demo-regenerated.pcap"
    gen(demo_copy, "--seed", "1", "--packets", "2000", manifest=demo_man)   # how demo.pcap was made
    if demo_copy.read_bytes() != DEMO_PCAP.read_bytes():
        errors.append("tests/data/demo.pcap is not what 'gen_pcap.py --seed 1 --packets 2000' makes "
                      "(regenerate it, or the generator is not deterministic)")
    cases.append((DEMO_PCAP, demo_man))
    from scapy.utils import RawPcapReader
    for pcap, man_path in cases:
        man = json.load(open(man_path))
        cfg = base_config("/tmp/unused.sock")   # standard rules, learn: true, /64: what the manifest assumes
        cfg["subscribers"]["static"] = []
        cfg_path = r.work / ("crosscheck-%s.yaml" % pcap.stem)
        write_config(cfg_path, cfg)
        exp = truth(pcap, cfg_path, r.work / ("crosscheck-%s.expected.jsonl" % pcap.stem))
        ts = tshark_frames(pcap)
        sc_lens = [len(raw) for raw, _ in RawPcapReader(str(pcap))]
        e = crosscheck_errors(pcap, ts, sc_lens, exp, man)
        errors += e
        notes.append("%s: %d frames (tshark = scapy), %d flows (truth = generator)" % (pcap.name, len(ts), len(exp.flows)))
        if not e:
            # each part of the cross-check must be able to fail
            bad = []
            if not crosscheck_errors(pcap, ts + [(60, 60)], sc_lens, exp, man):
                bad.append("an extra tshark frame")
            if not crosscheck_errors(pcap, ts, sc_lens[:-1] + [sc_lens[-1] + 1], exp, man):
                bad.append("a frame one octet longer")
            m2 = copy.deepcopy(man)
            m2["flows"][0]["downlink_octets"] += 1
            if not crosscheck_errors(pcap, ts, sc_lens, exp, m2):
                bad.append("a 1-octet difference between generator and truth")
            m2 = copy.deepcopy(man)
            m2["categories"]["gtpu_not_gpdu"] += 1
            if not crosscheck_errors(pcap, ts, sc_lens, exp, m2):
                bad.append("a counter difference between generator and truth")
            errors += ["self-check: the cross-check did not notice %s" % b for b in bad]
    return errors, notes


def cdr_records(r, cdr_dir):
    """Every record of every CDR file in cdr_dir, decoded by `tallyctl decode`."""
    files = sorted(str(p) for p in Path(cdr_dir).glob("*.cdr"))
    if not files:
        raise RuntimeError("no CDR files in %s" % cdr_dir)
    p = run([r.args.tallyctl, "decode"] + files)
    if p.returncode != 0:
        raise RuntimeError("tallyctl decode failed: %s" % tail(p.stderr))
    return files, [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def asn1c_check(r, files):
    """The same files through the asn1c-generated decoder (tests/asn1): every record decodes,
    is DER-canonical and within its constraints. Returns (records decoded, errors)."""
    asn1_dir = Path(__file__).resolve().parent.parent / "asn1"
    out = r.work.parent / "asn1dec"
    p = run(["bash", asn1_dir / "build_decoder.sh", out, asn1_dir], timeout=1800)
    if p.returncode != 0:
        return 0, ["asn1c decoder build failed: %s" % tail(p.stdout + p.stderr)]
    decoder = p.stdout.strip().splitlines()[-1]
    n, errors = 0, []
    for f in files:
        d = run([decoder, f])
        for line in d.stdout.splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            if "record" not in rec:
                continue
            n += 1
            for k, want in (("decode", "ok"), ("der_identical", True), ("constraints_ok", True),
                            ("integers_ok", True)):
                if rec.get(k) != want:
                    errors.append("asn1c: %s record %s: %s is %r" % (Path(f).name, rec["record"], k, rec.get(k)))
    return n, errors


def sc_cdr_volumes(r):
    """End to end: GTP-U traffic with changing serving nodes and enough volume for partial
    records -> CDR files on the CF card whose volumes, per subscriber and rating group, equal
    the independent scapy truth exactly; partial-record rules hold; asn1c decodes every record."""
    name = "cdr_volumes"
    one = r.work / "cdr_volumes.one.pcap"
    gen(one, "--seed", "5", "--packets", "6000", "--subscribers", "6")
    # The trace 40 times over, so that the replay spans many 10 ms polls: thresholds and
    # serving-node changes are seen poll by poll, as on a live link. The truth of a repeated
    # trace is the truth of one copy times the repetitions (sessions stay up: no idle timeout).
    reps = 40
    raw = one.read_bytes()
    pcap = r.work / "cdr_volumes.pcap"
    pcap.write_bytes(raw[:24] + raw[24:] * reps)
    cfg = base_config(r.sock_path(name))
    cfg["dataplane"]["poll_interval_ms"] = 10
    cfg["accounting"] = {"policy": {"cc_profiles": [
        {"index": 8, "volume": {"total": 100000}, "serving_nodes": 2, "buckets": 4},
        {"index": 1, "sdf_volume": {"uplink": 100000, "downlink": 100000}}]}}
    cdr_dir = Path(cfg["local_aaa_server"]["local_bill"]["cfcard"]["path"])
    shutil.rmtree(cdr_dir, ignore_errors=True)
    shutil.rmtree(cfg["node"]["state_dir"], ignore_errors=True)
    exp, nframes, cfg_path, notes = scenario_exact(r, name, one, cfg)
    if r.args.self_check:
        raise Skip("needs tallyd")
    for f in exp.flows.values():
        for k, v in f.items():
            if isinstance(v, int) and k != "rating_group":
                f[k] = v * reps
    for k in TOTAL_KEYS:
        exp.totals[k] *= reps
    nframes *= reps
    got = load_report(r.tallyd(name, cfg_path, pcap))
    errors = compare_exact(exp, got, nframes)
    files, recs = cdr_records(r, cdr_dir)
    plen = cfg["subscribers"].get("ipv6_prefix_length", 64)
    sums, per_charging, lsn = {}, {}, []
    causes = {}
    for rec in recs:
        sub = rec["servedPDPPDNAddress"]
        if ":" in sub:
            sub = "%s/%d" % (sub, plen)
        for sc in rec.get("listOfServiceData", []):
            k = (sub, sc["ratingGroup"])
            ul, dl = sums.get(k, (0, 0))
            sums[k] = (ul + sc.get("datavolumeFBCUplink", 0), dl + sc.get("datavolumeFBCDownlink", 0))
        tv = sum(c.get("dataVolumeGPRSUplink", 0) + c.get("dataVolumeGPRSDownlink", 0)
                 for c in rec.get("listOfTrafficVolumes", []))
        sv = sum(c.get("datavolumeFBCUplink", 0) + c.get("datavolumeFBCDownlink", 0)
                 for c in rec.get("listOfServiceData", []))
        if tv != sv:
            errors.append("record lsn %s: traffic containers %d octets, service containers %d"
                          % (rec.get("localSequenceNumber"), tv, sv))
        per_charging.setdefault(rec["chargingID"], []).append(rec.get("recordSequenceNumber"))
        lsn.append(rec["localSequenceNumber"])
        c = rec["causeForRecClosing"]
        causes[c] = causes.get(c, 0) + 1
    truth_flows = {(f["subscriber"], f["rating_group"]): (f["uplink_octets"], f["downlink_octets"])
                   for f in exp.flows.values()}
    for k in sorted(set(truth_flows) | set(sums), key=str):
        if truth_flows.get(k, (0, 0)) != sums.get(k, (0, 0)):
            errors.append("CDR volumes %s rating group %s: truth %s, CDRs %s"
                          % (k[0], k[1], truth_flows.get(k), sums.get(k)))
    if len(set(lsn)) != len(lsn):
        errors.append("localSequenceNumber repeats")
    for cid, seqs in per_charging.items():
        if len(seqs) == 1 and seqs[0] is not None:
            errors.append("chargingID %s: a single record carries recordSequenceNumber %s" % (cid, seqs[0]))
        if len(seqs) > 1 and sorted(seqs) != list(range(1, len(seqs) + 1)):
            errors.append("chargingID %s: recordSequenceNumbers %s, not 1..%d" % (cid, seqs, len(seqs)))
    for want in ("volumeLimit (16)", "servingNodeChange (18)", "managementIntervention (20)"):
        if not causes.get(want):
            errors.append("no record closed with %s (causes seen: %s)" % (want, causes))
    n, errs = asn1c_check(r, files)
    errors += errs
    notes.append("%d CDR files, %d records (%s); asn1c decoded %d" % (len(files), len(recs), causes, n))
    return errors, notes


SCENARIOS = [
    ("truth_crosscheck", sc_truth_crosscheck),
    ("demo_pcap", sc_demo_pcap),
    ("varied", sc_varied),
    ("jumbo", sc_jumbo),
    ("jumbo_chained", sc_jumbo_chained),
    ("ipv6_only", sc_ipv6_only),
    ("ipv6_prefix_56", sc_ipv6_prefix_56),
    ("rules_reordered", sc_rules_reordered),
    ("max_sessions", sc_max_sessions),
    ("learn_off_statics", sc_learn_off_statics),
    ("bench_frames", sc_bench_frames),
    ("cdr_volumes", sc_cdr_volumes),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tallyd", help="path of tallyd (not needed with --self-check)")
    ap.add_argument("--tallyctl", help="path of tallyctl (accepted for the meson test; unused)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--self-check", action="store_true",
                    help="no tallyd: use the truth as the report and show that every comparison catches "
                         "a 1-octet / 1-packet / missing-flow / counter difference")
    args = ap.parse_args()
    if not args.self_check and not args.tallyd:
        ap.error("--tallyd is required (or --self-check)")
    if args.tallyd:
        args.tallyd = str(Path(args.tallyd).resolve())
    work = Path(args.workdir)
    prepare_workdir(work, ".replay_test_workdir")
    r = Runner(args)
    names = set(args.only.split(",")) if args.only else None
    if names and not names <= {n for n, _ in SCENARIOS}:
        ap.error("unknown scenario(s): %s" % ", ".join(sorted(names - {n for n, _ in SCENARIOS})))
    failed = 0
    for name, fn in SCENARIOS:
        if names and name not in names:
            continue
        t0 = time.monotonic()
        try:
            errors, notes = fn(r)
        except Skip as e:
            print("SKIP %s: %s" % (name, e), flush=True)
            continue
        except Exception as e:   # noqa: BLE001 - a scenario that cannot run is a failure
            errors, notes = ["%s: %s" % (type(e).__name__, e)], []
        dt = time.monotonic() - t0
        if errors:
            failed += 1
            print("FAIL %s: %d difference(s) (%.1f s)" % (name, len(errors), dt), flush=True)
            for e in errors[:MAX_DIFF_LINES]:
                print("    " + e)
            if len(errors) > MAX_DIFF_LINES:
                print("    ... and %d more (files in %s)" % (len(errors) - MAX_DIFF_LINES, work))
            for n in notes:
                print("    " + n)
        else:
            print("PASS %s (%.1f s)%s" % (name, dt, (": " + "; ".join(notes)) if notes else ""), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
