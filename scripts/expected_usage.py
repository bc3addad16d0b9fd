#!/usr/bin/python3
"""The independent truth: what tally must bill for a pcap under a config.

  expected_usage.py --pcap FILE --config CONFIG.yaml --out EXPECTED.jsonl
                    [--max-sessions-model first-seen|ignore] [--summary]
  expected_usage.py --pcap FILE --fuzz-self-check N [--seed S]
                    classify N random mutations of the pcap's frames; exit 1 if any raises

Reads the pcap back with scapy (RawPcapReader + the Ether / Dot1Q / IP / IPv6 / UDP / TCP /
SCTP / GTP_U_Header dissectors) and the config with PyYAML, applies the counting rules of
semantics §1 (written here from the spec, never from tally's code) and writes JSON Lines:

  {"type":"flow","subscriber":"10.1.2.3","rating_group":1,"uplink_octets":N,
   "downlink_octets":N,"uplink_packets":N,"downlink_packets":N}      one per flow, sorted
  {"type":"totals", "rx_packets":..., "non_ip":..., ...}              last line

Rules implemented:
  * octets = IPv4 Total Length / IPv6 Payload Length + 40; for a GTP-U G-PDU (UDP destination
    port 2152, GTPv1, PT=1, message type 255, optional S/PN/E fields and the extension-header
    chain of TS 29.281 §5.2) the inner packet's length.
  * source in a pool -> uplink for the source's subscriber; destination in a pool ->
    downlink for the destination's; both -> both (counted twice); neither -> transit.
  * subscriber key: IPv4 address, IPv6 prefix of subscribers.ipv6_prefix_length (default 64).
  * rating group: first rule whose protocol, remote prefix (the other side's address) and
    remote port range (the other side's port: destination port for uplink, source port for
    downlink) all match; a packet without ports (non-first IPv4 fragment, IPv6 fragment with
    offset != 0, ICMP, anything but TCP/UDP/SCTP) never matches a rule with a port
    condition; no match -> services.default_rating_group.
  * GTP-U payload: the UDP datagram ends at its UDP length (RFC 768) or at the end of the IP
    packet, whichever comes first. The extension-header walk of TS 29.281 decides where the
    inner packet starts; when scapy's own GTP dissection sees it elsewhere (fuzzed or
    malformed extension headers), the walk holds and the frame is classified by it.
  * never billed, counted by kind: non_ip, l2_truncated, bad_ip_version, bad_ip_header,
    ip_length_exceeds_frame, gtpu_malformed, gtpu_not_gpdu.
  * sessions: static subscribers always have one; with learn: true every other subscriber
    gets one when first seen, while fewer than dataplane.max_sessions exist
    (--max-sessions-model first-seen; 'ignore' = no limit). Octets of a subscriber without a
    session are counted (counted_*) but go to unattributed_octets and get no flow line.
"""

import argparse
import ipaddress
import json
import logging
import sys

import yaml

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.config import conf  # noqa: E402
from scapy.layers.l2 import Ether, Dot1Q, Dot1AD  # noqa: E402
from scapy.layers.inet import IP, UDP, TCP, ICMP  # noqa: E402
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,  # noqa: E402
                                IPv6ExtHdrRouting, IPv6ExtHdrFragment)
from scapy.layers.sctp import SCTP  # noqa: E402
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer  # noqa: E402
from scapy.utils import RawPcapReader  # noqa: E402

# The largest frame libpcap reads from an Ethernet capture (its snapshot length limit).
MAX_CAPLEN = 262144


def pcap_frames(pcap):
    """Every frame of the pcap whole. (Iterating a RawPcapReader cuts each frame at scapy's MTU,
    65535 octets: larger frames, which a port receives, would look truncated.)"""
    reader = RawPcapReader(pcap)
    try:
        while True:
            try:
                raw, meta = reader._read_packet(size=MAX_CAPLEN)
            except EOFError:
                return
            if len(raw) != meta.caplen:
                sys.exit("%s: frame of %d octets cut to %d" % (pcap, meta.caplen, len(raw)))
            yield raw
    finally:
        reader.close()

# Only the dissectors the truth needs: application payloads stay Raw (faster, and a random
# payload on port 53 cannot upset a DNS dissector).
conf.layers.filter([Ether, Dot1Q, Dot1AD, IP, IPv6, UDP, TCP, ICMP, SCTP, IPv6ExtHdrHopByHop,
                    IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment, GTP_U_Header,
                    GTPPDUSessionContainer])

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132}
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
V6_EXT = (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment)
GTPU_PORT = 2152
# A G-PDU whose inner packet has a version nibble other than 4 or 6 does not carry IP at all:
# the tunnel payload is malformed (dataplane/parser.h kGtpMalformed, docs/counting.md).
INNER_BAD_VERSION_COUNTER = "gtpu_malformed"
ERROR_KINDS = ["non_ip", "l2_truncated", "bad_ip_version", "bad_ip_header",
               "ip_length_exceeds_frame", "gtpu_malformed", "gtpu_not_gpdu"]


class Bad(Exception):
    """A frame that is not billed; .kind is the counter name."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class Pkt:
    """The billable view of one packet."""
    __slots__ = ("src", "dst", "proto", "has_ports", "sport", "dport", "octets", "tunneled")


# --------------------------------------------------------------------------------------
# dissection
# --------------------------------------------------------------------------------------

def dissect_frame(raw):
    """Returns a Pkt or raises Bad(kind)."""
    if len(raw) < 14:
        raise Bad("l2_truncated")
    # The EtherType is read from the octets: scapy's Ether() turns a type field <= 1500 into an
    # IEEE 802.3 length (class Dot3, no .type), which is a non-IP frame here like any other.
    etype = int.from_bytes(raw[12:14], "big")
    rest = raw[14:]
    while etype in VLAN_TPIDS:
        if len(rest) < 4:
            raise Bad("l2_truncated")
        etype = int.from_bytes(rest[2:4], "big")   # TCI + the next type, whatever the TPID was
        rest = rest[4:]
    if etype == 0x0800:
        return dissect_ip4(rest, outer=True)
    if etype == 0x86DD:
        return dissect_ip6(rest, outer=True)
    raise Bad("non_ip")


def dissect_ip4(b, outer):
    if not b:
        raise Bad("bad_ip_header")
    if IP(b[:20].ljust(20, b"\0")).version != 4:    # scapy needs 20 octets to dissect at all
        raise Bad("bad_ip_version")
    if len(b) < 20:
        raise Bad("bad_ip_header")
    ip = IP(b)
    if ip.ihl < 5 or ip.ihl * 4 > len(b):
        raise Bad("bad_ip_header")
    if ip.len > len(b) or ip.len < ip.ihl * 4:
        raise Bad("ip_length_exceeds_frame")
    p = Pkt()
    p.src, p.dst = ipaddress.IPv4Address(ip.src), ipaddress.IPv4Address(ip.dst)
    p.proto = ip.proto
    p.octets = ip.len
    p.tunneled = False
    p.has_ports, p.sport, p.dport = False, 0, 0
    non_first = ip.frag != 0
    l4 = ip.payload
    if not non_first and isinstance(l4, (TCP, UDP, SCTP)) and len(l4.original) >= 4:
        p.has_ports, p.sport, p.dport = True, l4.sport, l4.dport
    if outer and not non_first and isinstance(l4, UDP) and l4.dport == GTPU_PORT:
        return gtp(l4, p)
    return p


def dissect_ip6(b, outer):
    if not b:
        raise Bad("bad_ip_header")
    if IPv6(b[:40].ljust(40, b"\0")).version != 6:
        raise Bad("bad_ip_version")
    if len(b) < 40:
        raise Bad("bad_ip_header")
    ip6 = IPv6(b)
    if ip6.plen + 40 > len(b):
        raise Bad("ip_length_exceeds_frame")
    p = Pkt()
    p.src, p.dst = ipaddress.IPv6Address(ip6.src), ipaddress.IPv6Address(ip6.dst)
    p.octets = ip6.plen + 40
    p.tunneled = False
    p.has_ports, p.sport, p.dport = False, 0, 0
    nh = ip6.nh
    layer = ip6.payload
    non_first = False
    while isinstance(layer, V6_EXT):
        if isinstance(layer, IPv6ExtHdrFragment) and layer.offset != 0:
            non_first = True
        nh = layer.nh
        layer = layer.payload
    p.proto = nh
    if not non_first and isinstance(layer, (TCP, UDP, SCTP)) and len(layer.original) >= 4:
        p.has_ports, p.sport, p.dport = True, layer.sport, layer.dport
    if outer and not non_first and isinstance(layer, UDP) and layer.dport == GTPU_PORT:
        return gtp(layer, p)
    return p


# G-PDUs where scapy's GTP dissection placed the inner packet elsewhere than the TS 29.281 walk
# (the walk decides); reported by --summary.
DISAGREEMENTS = {"gtp_inner": 0}


def gtp(udp, outer):
    """GTP-U on UDP destination port 2152 (TS 29.281). Returns the inner packet's Pkt."""
    raw = bytes(udp.original)           # the UDP datagram as far as the IP packet holds it
    udp_len = min(udp.len if udp.len is not None else len(raw), len(raw))   # RFC 768 length
    if udp_len < 8 + 8:
        raise Bad("gtpu_malformed")
    g = raw[8:udp_len]                  # the UDP payload: the GTP-U message
    h = GTP_U_Header(g)
    if h.version != 1 or h.PT != 1:
        raise Bad("gtpu_malformed")
    if h.length is not None and h.length > len(g) - 8:
        raise Bad("gtpu_malformed")
    if h.gtp_type != 255:
        raise Bad("gtpu_not_gpdu")
    g = g[:8 + h.length]
    pos = 8
    if h.E or h.S or h.PN:
        if len(g) < 12:
            raise Bad("gtpu_malformed")
        pos = 12
        nxt = h.next_ex if h.E else 0
        # extension headers: length in 4-octet units (>= 1), content, next type (last octet)
        while nxt != 0:
            if pos >= len(g):
                raise Bad("gtpu_malformed")
            n = g[pos] * 4
            if n == 0 or pos + n > len(g):
                raise Bad("gtpu_malformed")
            nxt = g[pos + n - 1]
            pos += n
    inner = g[pos:]
    if not inner:
        raise Bad("gtpu_malformed")
    # Cross-check with scapy's own view of the same header when it decodes the inner packet. On
    # well-formed G-PDUs they agree; on malformed extension chains scapy guesses (its PDU
    # session container parses its own length rules), so the walk classifies the frame.
    try:
        for cls in (IP, IPv6):
            lay = h.getlayer(cls)
            if lay is not None and isinstance(lay.underlayer, (GTP_U_Header, GTPPDUSessionContainer)):
                if bytes(lay.original) != inner:
                    DISAGREEMENTS["gtp_inner"] += 1
                break
    except Exception:                   # noqa: BLE001 - scapy's view is advisory only
        DISAGREEMENTS["gtp_inner"] += 1
    version = IP(inner[:20].ljust(20, b"\0")).version   # the version nibble, as scapy reads it
    if version == 4:
        p = dissect_ip4(inner, outer=False)
    elif version == 6:
        p = dissect_ip6(inner, outer=False)
    else:
        raise Bad(INNER_BAD_VERSION_COUNTER)
    p.tunneled = True
    return p


# --------------------------------------------------------------------------------------
# config and rules
# --------------------------------------------------------------------------------------

class Rule:
    def __init__(self, d):
        self.rg = int(d["rating_group"])
        m = d.get("match") or {}
        self.proto = None
        if "protocol" in m:
            v = m["protocol"]
            self.proto = PROTOCOLS[v.lower()] if isinstance(v, str) and not v.isdigit() else int(v)
        self.prefix = ipaddress.ip_network(str(m["remote_prefix"]), strict=False) \
            if "remote_prefix" in m else None
        self.ports = None
        if "remote_port" in m:
            v = str(m["remote_port"])
            lo, _, hi = v.partition("-")
            self.ports = (int(lo), int(hi or lo))

    def matches(self, proto, remote, has_ports, port):
        if self.proto is not None and self.proto != proto:
            return False
        if self.prefix is not None and (remote.version != self.prefix.version or remote not in self.prefix):
            return False
        if self.ports is not None and (not has_ports or not self.ports[0] <= port <= self.ports[1]):
            return False
        return True


class Model:
    def __init__(self, cfg, max_sessions_model="first-seen"):
        subs = cfg.get("subscribers") or {}
        self.pools = [ipaddress.ip_network(str(p)) for p in subs.get("pools", [])]
        self.v6len = int(subs.get("ipv6_prefix_length", 64))
        self.learn = bool(subs.get("learn", True))
        self.statics = [self.key(ipaddress.ip_address(str(s["address"]))) for s in (subs.get("static") or [])]
        dp = cfg.get("dataplane") or {}
        self.max_sessions = int(dp.get("max_sessions", 262144))
        if max_sessions_model == "ignore":
            self.max_sessions = 1 << 62
        svc = cfg.get("services") or {}
        self.rules = [Rule(r) for r in (svc.get("rules") or [])]
        self.default_rg = int(svc.get("default_rating_group", 1))

    def in_pool(self, a):
        return any(a.version == p.version and a in p for p in self.pools)

    def key(self, a):
        if a.version == 4:
            return str(a)
        return str(ipaddress.ip_network("%s/%d" % (a, self.v6len), strict=False))

    def rating_group(self, proto, remote, has_ports, port):
        for r in self.rules:
            if r.matches(proto, remote, has_ports, port):
                return r.rg
        return self.default_rg


def sort_key(k):
    a = ipaddress.ip_network(k, strict=False)
    return (a.version, int(a.network_address), a.prefixlen)


def compute(pcap, cfg, max_sessions_model="first-seen"):
    m = Model(cfg, max_sessions_model)
    t = {k: 0 for k in ["rx_packets"] + ERROR_KINDS + ["transit_packets", "transit_octets",
                                                       "counted_packets", "counted_octets",
                                                       "attributed_octets", "unattributed_octets"]}
    t["bytes"] = 0
    t["gpdu_packets"] = 0
    t["unattributed_packets"] = 0
    sessions = {}
    for k in m.statics:
        sessions.setdefault(k, True)
    flows = {}

    def bill(key, direction, rg, octets):
        t["counted_packets"] += 1
        t["counted_octets"] += octets
        if key not in sessions:
            if m.learn and len(sessions) < m.max_sessions:
                sessions[key] = True
            else:
                t["unattributed_octets"] += octets
                t["unattributed_packets"] += 1
                return
        t["attributed_octets"] += octets
        f = flows.setdefault((key, rg), [0, 0, 0, 0])
        i = 0 if direction == "up" else 1
        f[i] += octets
        f[i + 2] += 1

    for raw in pcap_frames(pcap):
        t["rx_packets"] += 1
        t["bytes"] += len(raw)
        try:
            p = dissect_frame(raw)
        except Bad as e:
            t[e.kind] += 1
            continue
        if p.tunneled:
            t["gpdu_packets"] += 1
        s_in, d_in = m.in_pool(p.src), m.in_pool(p.dst)
        if not s_in and not d_in:
            t["transit_packets"] += 1
            t["transit_octets"] += p.octets
            continue
        if s_in:
            bill(m.key(p.src), "up", m.rating_group(p.proto, p.dst, p.has_ports, p.dport), p.octets)
        if d_in:
            bill(m.key(p.dst), "down", m.rating_group(p.proto, p.src, p.has_ports, p.sport), p.octets)
    t["conservation"] = "ok" if t["counted_octets"] == t["attributed_octets"] + t["unattributed_octets"] \
        else "violated"
    t["sessions"] = len(sessions)
    out = []
    for (key, rg) in sorted(flows, key=lambda kr: (sort_key(kr[0]), kr[1])):
        uo, do, up, dp = flows[(key, rg)]
        out.append({"type": "flow", "subscriber": key, "rating_group": rg,
                    "uplink_octets": uo, "downlink_octets": do,
                    "uplink_packets": up, "downlink_packets": dp})
    return out, t


def gtp_offset(frame):
    """Where the GTP-U header of an untagged IPv4 UDP/2152 frame starts (else None)."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00" or frame[14 + 9] != 17:
        return None
    ip_end = 14 + (frame[14] & 15) * 4
    if len(frame) < ip_end + 8 or int.from_bytes(frame[ip_end + 2:ip_end + 4], "big") != GTPU_PORT:
        return None
    return ip_end + 8


def fuzz_self_check(pcap, n, seed):
    """Classify n random mutations (bytes flipped, set to 0x00/0xff, cut) of the pcap's
    frames. Every frame must come out as a Pkt or a Bad kind: an exception is a bug of the
    truth. Returns the number of frames that raised."""
    import random
    import traceback
    rnd = random.Random(seed)
    frames = [bytes(raw) for raw in pcap_frames(pcap)]
    kinds = {}
    raised = 0
    for i in range(n):
        b = bytearray(rnd.choice(frames))
        gtp_at = gtp_offset(b)
        for _ in range(rnd.randint(1, 4)):
            if not b:
                break
            # half of the G-PDU mutations hit the GTP-U header and its extension headers
            if gtp_at is not None and gtp_at + 16 < len(b) and rnd.random() < 0.5:
                at = gtp_at + rnd.randrange(16)
            else:
                at = rnd.randrange(len(b))
            r = rnd.random()
            if r < 0.5:
                b[at] ^= 1 << rnd.randrange(8)
            elif r < 0.8:
                b[at] = rnd.choice((0x00, 0xff, rnd.randrange(256)))
            else:
                del b[at:]
        try:
            p = dissect_frame(bytes(b))
            k = "gpdu" if p.tunneled else "ip"
        except Bad as e:
            k = e.kind
        except Exception:               # noqa: BLE001
            raised += 1
            if raised <= 3:
                print("frame %d (%s) raised:\n%s" % (i, bytes(b).hex(), traceback.format_exc()),
                      file=sys.stderr)
            continue
        kinds[k] = kinds.get(k, 0) + 1
    print("fuzz self-check: %d frames, %d raised; %s; scapy/walk disagreements %d"
          % (n, raised, ", ".join("%s=%d" % kv for kv in sorted(kinds.items())),
             DISAGREEMENTS["gtp_inner"]), file=sys.stderr)
    return raised


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--fuzz-self-check", type=int, metavar="N",
                    help="classify N random mutations of the pcap's frames instead; exit 1 if any raises")
    ap.add_argument("--seed", type=int, default=1, help="seed of --fuzz-self-check")
    ap.add_argument("--config")
    ap.add_argument("--out", help="expected usage, JSON Lines ('-' = stdout)")
    ap.add_argument("--max-sessions-model", choices=["first-seen", "ignore"], default="first-seen")
    ap.add_argument("--summary", action="store_true", help="print a short summary on stderr")
    args = ap.parse_args()
    if args.fuzz_self_check is not None:
        sys.exit(1 if fuzz_self_check(args.pcap, args.fuzz_self_check, args.seed) else 0)
    if not args.config or not args.out:
        ap.error("--config and --out are required (unless --fuzz-self-check)")
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    flows, totals = compute(args.pcap, cfg, args.max_sessions_model)
    lines = [json.dumps(fl) for fl in flows] + [json.dumps(dict(type="totals", **totals))]
    text = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
    if args.summary:
        print("%d frames, %d flows, counted %d octets (%d attributed, %d unattributed), transit %d"
              % (totals["rx_packets"], len(flows), totals["counted_octets"], totals["attributed_octets"],
                 totals["unattributed_octets"], totals["transit_octets"]), file=sys.stderr)
        print("not billed: " + ", ".join("%s=%d" % (k, totals[k]) for k in ERROR_KINDS), file=sys.stderr)
        if DISAGREEMENTS["gtp_inner"]:
            print("G-PDUs where scapy's GTP view differed from the TS 29.281 walk (the walk held): %d"
                  % DISAGREEMENTS["gtp_inner"], file=sys.stderr)


if __name__ == "__main__":
    main()
