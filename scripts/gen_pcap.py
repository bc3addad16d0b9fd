#!/usr/bin/python3
"""Deterministic test-traffic generator for tally (pcap, Ethernet link type).

Two modes:

* varied (default): a seeded mix of everything the biller must handle — IPv4 and IPv6
  subscribers (10.0.0.0/8, 2001:db8::/32 with several addresses per /64), uplink and
  downlink, DNS, traffic to 198.51.100.0/24, TCP/UDP to other hosts, port-range and
  prefix rules, ICMP/ICMPv6, SCTP, GRE, 802.1Q / QinQ / 0x9100 tags, Ethernet padding,
  IPv4 options, IPv4 and IPv6 fragments (first and non-first), IPv6 extension headers,
  subscriber-to-subscriber, transit, GTP-U G-PDUs (S/PN flags, extension headers, inner
  IPv4 and IPv6, outer IPv4 and IPv6), GTP-U signalling, ARP/LLDP/MPLS and malformed
  frames of every kind the data plane has a counter for.

  --manifest FILE writes what the generator *intended* (per-frame category counts and the
  per-flow usage under the STANDARD_SERVICES rules, learn mode, /64 keys). It is an
  independent second opinion for scripts/expected_usage.py, which reads the pcap back
  with scapy's dissectors.

* --bench: N minimum-size IPv4/UDP frames spread uniformly (seeded random) over S
  subscribers of 10.0.0.0/8, written with struct (fast: ~1M frames in a few seconds).
  Frames are 60 bytes in the file, i.e. 64 bytes on the wire with the FCS
  (--frame-size to change).

Usage:
  gen_pcap.py --out F.pcap [--seed N] [--packets N] [--subscribers N]
              [--family 4|6|both] [--intro] [--no-malformed] [--manifest F.json]
  gen_pcap.py --bench --out F.pcap --packets 1000000 --subscribers 10000
"""

import argparse
import ipaddress
import json
import random
import struct
import sys

# Rules used by config/demo.yaml and by the replay tests. The generator's intents below
# (rating groups per traffic kind) are written by hand for exactly these rules.
STANDARD_SERVICES = {
    "rules": [
        {"rating_group": 10, "match": {"protocol": "udp", "remote_port": 53}},
        {"rating_group": 20, "match": {"remote_prefix": "198.51.100.0/24"}},
        {"rating_group": 30, "match": {"protocol": "udp", "remote_prefix": "203.0.113.0/24"}},
        {"rating_group": 40, "match": {"protocol": "tcp", "remote_port": "8000-8080"}},
        {"rating_group": 50, "match": {"remote_prefix": "2001:4860::/32"}},
        {"rating_group": 60, "match": {"protocol": "icmp"}},
        {"rating_group": 61, "match": {"protocol": "icmpv6"}},
        {"rating_group": 70, "match": {"protocol": "sctp"}},
        {"rating_group": 71, "match": {"protocol": 47}},
        {"rating_group": 80, "match": {"remote_port": "5000-5100"}},
    ],
    "default_rating_group": 1,
}
RG_DEFAULT = 1

V4_POOL = ipaddress.ip_network("10.0.0.0/8")
V6_POOL = ipaddress.ip_network("2001:db8::/32")
V6_KEY_LEN = 64

GW4 = "192.0.2.1"          # the gateway (GTP-U endpoint)
GW6 = "fd00:2::1"          # outer IPv6 GTP-U endpoint (not in a pool)

LINKTYPE_ETHERNET = 1
T0 = 1700000000            # fixed capture start time: the file is byte-for-byte reproducible

MAC_GW = bytes.fromhex("020000000001")
MAC_PEER = bytes.fromhex("020000000002")


def write_pcap(path, frames, t0=T0, step_us=50, snaplen=65535):
    """Classic pcap (microsecond) with link type Ethernet; frames: iterable of bytes.

    snaplen: the file's snapshot length. libpcap cuts a frame longer than it when reading, so
    files with frames over 65535 octets need more (262144 is libpcap's limit for Ethernet)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))
        us = 0
        for fr in frames:
            f.write(struct.pack("<IIII", t0 + us // 1000000, us % 1000000, len(fr), len(fr)))
            f.write(fr)
            us += step_us


# --------------------------------------------------------------------------------------
# bench mode: raw bytes, no scapy
# --------------------------------------------------------------------------------------

def _csum16(hdr):
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def bench(args):
    rng = random.Random(args.seed)
    frame_size = args.frame_size
    if frame_size < 42:
        sys.exit("--frame-size must be >= 42 (Ethernet + IPv4 + UDP headers)")
    nsubs = args.subscribers
    if nsubs < 1 or nsubs > (1 << 24) - 2:
        sys.exit("--subscribers must be 1..16777214 in bench mode")
    host_ids = rng.sample(range(1, (1 << 24) - 1), nsubs)
    subs = [int(V4_POOL.network_address) + h for h in host_ids]
    server = int(ipaddress.IPv4Address("203.0.113.10"))
    ip_len = frame_size - 14
    udp_len = ip_len - 20
    eth = MAC_GW + MAC_PEER + b"\x08\x00"
    payload = bytes(udp_len - 8)
    down_pct = args.bench_downlink
    rec = struct.Struct("<IIII")
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        buf = bytearray()
        for k in range(args.packets):
            sub = subs[rng.randrange(nsubs)]
            sport = 1024 + (k & 0x7FFF)
            if down_pct and rng.randrange(100) < down_pct:
                src, dst, sp, dp = server, sub, 5001, sport
            else:
                src, dst, sp, dp = sub, server, sport, 5001
            hdr = struct.pack("!BBHHHBBHII", 0x45, 0, ip_len, k & 0xFFFF, 0, 64, 17, 0, src, dst)
            hdr = hdr[:10] + struct.pack("!H", _csum16(hdr)) + hdr[12:]
            us = k * 10
            buf += rec.pack(T0 + us // 1000000, us % 1000000, frame_size, frame_size)
            buf += eth + hdr + struct.pack("!HHHH", sp, dp, udp_len, 0) + payload
            if len(buf) > (1 << 20):
                f.write(buf)
                buf = bytearray()
        f.write(buf)
    print("wrote %s: %d frames of %d bytes over %d subscribers"
          % (args.out, args.packets, frame_size, nsubs))


# --------------------------------------------------------------------------------------
# jumbo mode (scapy): frames of every size a port may receive
# --------------------------------------------------------------------------------------

# Frame sizes (octets, without FCS) around every boundary that matters: the minimum, the
# standard MTU, DPDK's 2048-octet buffer (and its 128-octet headroom), common jumbo MTUs, the
# 16 KiB the old copy scratch held, and the largest IP packets.
JUMBO_SIZES = [64, 128, 1514, 1518, 1920, 2048, 2049, 2100, 2176, 3000, 4000, 4096, 8192,
               9000, 9018, 9216, 12000, 16384, 16400, 32768, 65000, 65549, 65589]


def jumbo(args):
    """Frames of JUMBO_SIZES for every kind of billed packet, uplink and downlink."""
    _import_scapy()
    from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer  # noqa: F401
    rng = random.Random(args.seed)
    subs4 = ["10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), 1 + rng.randrange(254))
             for _ in range(6)]
    subs6 = ["2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536), 1 + k)
             for k in range(4)]
    def l2(tags, payload):
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        return eth / Dot1Q(vlan=100) / payload if tags else eth / payload

    def l4(kind, n, uplink):
        """kind: udp53, tcp8080, udp_any, prefix; n payload octets."""
        pay = Raw(bytes(rng.randrange(256) for _ in range(min(n, 16))) + bytes(max(0, n - 16)))
        if kind == "udp53":
            return (UDP(sport=40000, dport=53) if uplink else UDP(sport=53, dport=40000)) / pay
        if kind == "tcp8080":
            return (TCP(sport=40001, dport=8080) if uplink else TCP(sport=8080, dport=40001)) / pay
        return (UDP(sport=40002, dport=9999) if uplink else UDP(sport=9999, dport=40002)) / pay

    def peer4(kind):
        return "198.51.100.7" if kind == "prefix" else "203.0.113.99"

    def frame_of(size, family, kind, tunnel, gtp_ext, uplink, tags, sub):
        """The frame of exactly `size` octets, or None if no such packet exists."""
        def build(n):
            if family == 4:
                ip = (IP(src=sub, dst=peer4(kind)) if uplink else IP(src=peer4(kind), dst=sub))
            else:
                peer = "2001:4860::8888" if kind == "prefix" else "2001:db8:ffff::1"
                ip = (IPv6(src=sub, dst=peer) if uplink else IPv6(src=peer, dst=sub))
                ip = ip / IPv6ExtHdrDestOpt()
            inner = ip / l4(kind, n, uplink)
            if tunnel:
                gtp = GTP_U_Header(teid=0x1000 + rng.randrange(1000), gtp_type=255)
                if gtp_ext:
                    gtp = GTP_U_Header(teid=0x2000, gtp_type=255, E=1, next_ex=0x85) / \
                        GTPPDUSessionContainer(type=1, QFI=9)
                inner = (IP(src="192.0.2.77", dst=GW4) / UDP(sport=2152, dport=2152) / gtp / inner)
            return l2(tags, inner)
        base = len(bytes(build(0)))
        if size < base:
            return None
        try:
            f = bytes(build(size - base))
        except struct.error:  # an IP/UDP length field would exceed 65535: no such packet
            return None
        if len(f) != size:
            return None
        return f

    frames = []
    kinds = ["udp53", "tcp8080", "udp_any", "prefix"]
    for size in JUMBO_SIZES:
        for family in (4, 6):
            for tunnel, gtp_ext in ((False, False), (True, False), (True, True)):
                for uplink in (True, False):
                    kind = kinds[rng.randrange(len(kinds))]
                    tags = rng.randrange(3) == 0
                    sub = rng.choice(subs4 if family == 4 else subs6)
                    f = frame_of(size, family, kind, tunnel, gtp_ext, uplink, tags, sub)
                    if f is not None:
                        frames.append(f)
    rng.shuffle(frames)
    write_pcap(args.out, frames, snaplen=262144)
    print("wrote %s: %d frames, %d bytes, largest %d" % (args.out, len(frames),
                                                          sum(len(f) for f in frames),
                                                          max(len(f) for f in frames)))


# --------------------------------------------------------------------------------------
# varied mode (scapy)
# --------------------------------------------------------------------------------------

def _import_scapy():
    global Ether, Dot1Q, Dot1AD, ARP, IP, IPv6, UDP, TCP, ICMP, Raw
    global IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, ICMPv6EchoRequest
    global ICMPv6EchoReply, SCTP, IPOption_RR, IPOption_Router_Alert, IPOption_NOP
    global fragment, fragment6, DNS, DNSQR, DNSRR, SCTPChunkData
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.layers.l2 import Ether, Dot1Q, Dot1AD, ARP  # noqa: F401
    from scapy.layers.inet import (IP, UDP, TCP, ICMP, IPOption_RR,  # noqa: F401
                                   IPOption_Router_Alert, IPOption_NOP, fragment)
    from scapy.layers.inet6 import (IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,  # noqa: F401
                                    IPv6ExtHdrFragment, ICMPv6EchoRequest, ICMPv6EchoReply,
                                    fragment6)
    from scapy.layers.sctp import SCTP, SCTPChunkData  # noqa: F401
    from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: F401
    from scapy.packet import Raw  # noqa: F401


def v6key(addr):
    return str(ipaddress.ip_network("%s/%d" % (addr, V6_KEY_LEN), strict=False))


def skey(addr):
    a = ipaddress.ip_address(addr)
    return str(a) if a.version == 4 else v6key(a)


class Gen:
    """Builds frames and records, per frame, what it is meant to be."""

    CATEGORIES = ["billed", "transit", "non_ip", "l2_truncated", "bad_ip_version",
                  "bad_ip_header", "ip_length_exceeds_frame", "gtpu_malformed",
                  "gtpu_not_gpdu"]

    def __init__(self, rng, nsubs, family, tag_pct=20):
        self.rng = rng
        self.family = family
        self.tag_pct = tag_pct
        self.frames = []
        self.cats = {c: 0 for c in self.CATEGORIES}
        self.gpdu_frames = 0
        self.transit_octets = 0
        self.flows = {}      # (key, rg) -> [up_oct, down_oct, up_pk, down_pk]
        self.counted_packets = 0
        self.counted_octets = 0
        self.kind_counts = {}
        self.v4subs = []
        self.v6subs = []     # list of lists of addresses sharing one /64
        if family in ("4", "both"):
            self.v4subs.append("10.0.0.1")     # the demo's static subscriber (alice)
            seen = {1}
            while len(self.v4subs) < nsubs:
                h = rng.randrange(2, (1 << 24) - 1)
                if h not in seen:
                    seen.add(h)
                    self.v4subs.append(str(V4_POOL.network_address + h))
        if family in ("6", "both"):
            n6 = nsubs if family == "6" else max(2, nsubs // 2)
            seen = set()
            while len(self.v6subs) < n6:
                hi = rng.getrandbits(32)
                if hi in seen:
                    continue
                seen.add(hi)
                net = (int(V6_POOL.network_address) | (hi << 64))
                naddr = 1 + (len(self.v6subs) % 3)   # 1, 2 or 3 addresses in this /64
                addrs = [str(ipaddress.IPv6Address(net | rng.getrandbits(64) | 1))
                         for _ in range(naddr)]
                self.v6subs.append(addrs)
        self.teid = {}

    # ---- helpers -------------------------------------------------------------------
    def payload(self, lo=0, hi=None):
        r = self.rng.randrange(100)
        if hi is not None:
            n = self.rng.randint(lo, hi)
        elif r < 80:
            n = self.rng.randint(0, 32)
        elif r < 98:
            n = self.rng.randint(32, 160)
        else:
            n = self.rng.randint(200, 1000)
        return Raw(self.rng.randbytes(n)) if n else Raw(b"")

    NAMES = ["example.com.", "www.example.org.", "mail.example.net.", "cdn.example.com.",
             "api.example.org."]

    def dns(self, response, qtype=1):
        """A real DNS message (the octets are what matter, but tshark should read it cleanly)."""
        name = self.rng.choice(self.NAMES)
        d = DNS(id=self.rng.getrandbits(16), rd=1, qd=DNSQR(qname=name, qtype=qtype))
        if response:
            d.qr, d.ra = 1, 1
            rdata = ("93.184.216.%d" % self.rng.randint(1, 254)) if qtype == 1 else "2606:2800:220:1::%x" % \
                self.rng.randint(1, 0xffff)
            d.an = DNSRR(rrname=name, type=qtype, ttl=300, rdata=rdata)
        return d

    def sub4(self):
        return self.rng.choice(self.v4subs)

    def sub6(self):
        return self.rng.choice(self.rng.choice(self.v6subs))

    def eport(self):
        return self.rng.randint(32768, 60999)

    def l2(self, l3bytes, ethertype, tags=None, pad=True):
        """Ethernet (+ random VLAN tags) around raw L3 bytes; padded to 60 bytes."""
        if tags is None:
            r = self.rng.randrange(100)
            if r < self.tag_pct // 2:
                tags = [(0x8100, self.rng.randint(1, 4094))]
            elif r < self.tag_pct * 9 // 10:
                tags = [(0x88A8, self.rng.randint(1, 4094)), (0x8100, self.rng.randint(1, 4094))]
            elif r < self.tag_pct:
                tags = [(0x9100, self.rng.randint(1, 4094)), (0x8100, self.rng.randint(1, 4094))]
            else:
                tags = []
        if self.rng.randrange(2):
            dst, src = MAC_GW, MAC_PEER
        else:
            dst, src = MAC_PEER, MAC_GW
        hdr = bytearray(dst + src)
        for tpid, vid in tags:
            hdr += struct.pack("!H", tpid)
            hdr += struct.pack("!H", (self.rng.randrange(8) << 13) | vid)
        hdr += struct.pack("!H", ethertype)
        fr = bytes(hdr) + l3bytes
        if pad and len(fr) < 60:
            fr += bytes(60 - len(fr))
        return fr

    def fix_dns(self, pkt):
        """Random bytes on port 53 look broken in tshark: put a real DNS message there."""
        udp = pkt.getlayer(UDP)
        if udp is None or not isinstance(udp.payload, Raw) or 53 not in (udp.sport, udp.dport):
            return
        if pkt.haslayer(IPv6ExtHdrFragment) and (pkt[IPv6ExtHdrFragment].offset or pkt[IPv6ExtHdrFragment].m):
            return
        if pkt.haslayer(IP) and (pkt[IP].flags.MF or pkt[IP].frag):
            return
        udp.remove_payload()
        udp.add_payload(self.dns(udp.sport == 53))

    @staticmethod
    def check_len(b):
        """The generator's own sanity check: the IP length field covers exactly the packet."""
        if b[0] >> 4 == 4:
            assert struct.unpack("!H", b[2:4])[0] == len(b), "IPv4 total length mismatch"
        else:
            assert struct.unpack("!H", b[4:6])[0] + 40 == len(b), "IPv6 payload length mismatch"

    def add_frame(self, fr, category, kind):
        self.frames.append(fr)
        self.cats[category] += 1
        self.kind_counts[kind] = self.kind_counts.get(kind, 0) + 1

    def bill(self, key, direction, rg, octets):
        f = self.flows.setdefault((key, rg), [0, 0, 0, 0])
        if direction == "up":
            f[0] += octets
            f[2] += 1
        else:
            f[1] += octets
            f[3] += 1
        self.counted_packets += 1
        self.counted_octets += octets

    def emit_ip(self, pkt, kind, up=None, down=None, tags=None):
        """pkt: scapy IP/IPv6 packet. up/down: (address, rg) of the billed sides."""
        self.fix_dns(pkt)
        b = bytes(pkt)
        self.check_len(b)
        et = 0x0800 if (b[0] >> 4) == 4 else 0x86DD
        self.add_frame(self.l2(b, et, tags), "billed" if (up or down) else "transit", kind)
        octets = len(b)
        if up:
            self.bill(skey(up[0]), "up", up[1], octets)
        if down:
            self.bill(skey(down[0]), "down", down[1], octets)
        if not up and not down:
            self.transit_octets += octets

    # ---- the billed L3 packets: each returns (scapy packet, up, down) ------------------
    # Kinds return a list of (pkt, up, down) because fragmenting produces several packets.
    def k_dns4(self):
        s, res, p = self.sub4(), self.rng.choice(["8.8.8.8", "9.9.9.9", "1.1.1.1"]), self.eport()
        if self.rng.randrange(2):
            return [(IP(src=s, dst=res) / UDP(sport=p, dport=53) / self.dns(False), (s, 10), None)]
        return [(IP(src=res, dst=s) / UDP(sport=53, dport=p) / self.dns(True), None, (s, 10))]

    def k_rg20(self):
        s, h = self.sub4(), "198.51.100.%d" % self.rng.randint(1, 254)
        r = self.rng.randrange(4)
        if r == 0:
            l4 = TCP(sport=self.eport(), dport=self.rng.choice([80, 443, 53]), flags="PA")
        elif r == 1:
            l4 = UDP(sport=self.eport(), dport=self.rng.choice([53, 443, 5060]))  # 53: rule 10 first!
        elif r == 2:
            l4 = ICMP(type=8, id=7, seq=self.rng.randint(1, 999))
        else:
            l4 = TCP(sport=self.eport(), dport=8080, flags="A")                   # rule 20 before 40
        rg = 10 if (isinstance(l4, UDP) and l4.dport == 53) else 20
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h) / l4 / self.payload(), (s, rg), None)]
        # downlink: swap ports
        if isinstance(l4, (TCP, UDP)):
            l4.sport, l4.dport = l4.dport, l4.sport
        return [(IP(src=h, dst=s) / l4 / self.payload(), None, (s, rg))]

    def k_tcp_default4(self):
        s = self.sub4()
        h = self.rng.choice(["93.184.216.34", "151.101.1.69", "140.82.112.3"])
        port = self.rng.choice([443, 80, 22, 25, 7999, 8081, 4999, 5101, 2152])
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h) / TCP(sport=self.eport(), dport=port, flags="PA") /
                     self.payload(), (s, RG_DEFAULT), None)]
        return [(IP(src=h, dst=s) / TCP(sport=port, dport=self.eport(), flags="PA") /
                 self.payload(), None, (s, RG_DEFAULT))]

    def k_tcp_8000(self):
        s, h = self.sub4(), self.rng.choice(["93.184.216.34", "203.0.113.77"])
        port = self.rng.choice([8000, 8080, 8042])
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h) / TCP(sport=self.eport(), dport=port) / self.payload(),
                     (s, 40), None)]
        return [(IP(src=h, dst=s) / TCP(sport=port, dport=self.eport()) / self.payload(),
                 None, (s, 40))]

    def k_udp203(self):
        s, h = self.sub4(), "203.0.113.%d" % self.rng.randint(1, 254)
        port = self.rng.choice([4500, 443, 5000, 9999, 53])
        rg = 10 if port == 53 else 30
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h) / UDP(sport=self.eport(), dport=port) / self.payload(),
                     (s, rg), None)]
        return [(IP(src=h, dst=s) / UDP(sport=port, dport=self.eport()) / self.payload(),
                 None, (s, rg))]

    def k_port5000(self):
        s, h = self.sub4(), "93.184.216.34"
        port = self.rng.choice([5000, 5050, 5100])
        l4 = self.rng.choice([TCP, UDP])
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h) / l4(sport=self.eport(), dport=port) / self.payload(),
                     (s, 80), None)]
        return [(IP(src=h, dst=s) / l4(sport=port, dport=self.eport()) / self.payload(),
                 None, (s, 80))]

    def k_udp_sport2152(self):
        # UDP *source* port 2152 is not GTP-U (only destination 2152 is): an ordinary packet
        s, h = self.sub4(), "93.184.216.34"
        return [(IP(src=s, dst=h) / UDP(sport=2152, dport=9999) / self.payload(), (s, RG_DEFAULT), None)]

    def k_icmp4(self):
        s, h = self.sub4(), self.rng.choice(["8.8.8.8", "93.184.216.34"])
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h) / ICMP(type=8, id=3, seq=1) / self.payload(0, 56), (s, 60), None)]
        return [(IP(src=h, dst=s) / ICMP(type=0, id=3, seq=1) / self.payload(0, 56), None, (s, 60))]

    def k_sctp(self):
        s, h = self.sub4(), "93.184.216.34"
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h) / SCTP(sport=36412, dport=36412, tag=7) /
                     SCTPChunkData(tsn=self.rng.getrandbits(32), data=self.rng.randbytes(self.rng.randint(1, 64))),
                     (s, 70), None)]
        return [(IP(src=h, dst=s) / SCTP(sport=36412, dport=36412, tag=7) /
                 SCTPChunkData(tsn=self.rng.getrandbits(32), data=self.rng.randbytes(self.rng.randint(1, 64))),
                 None, (s, 70))]

    def k_gre(self):
        s, h = self.sub4(), "93.184.216.34"
        gre = Raw(b"\x00\x00\x08\x00" + bytes(IP(src="172.16.0.1", dst="172.16.0.2") / ICMP() /
                                                 self.payload(0, 40)))
        return [(IP(src=s, dst=h, proto=47) / gre, (s, 71), None)]

    def k_options4(self):
        s, h = self.sub4(), self.rng.choice(["8.8.8.8", "198.51.100.9", "93.184.216.34"])
        opts = self.rng.choice([[IPOption_Router_Alert()], [IPOption_RR(routers=["0.0.0.0"] * 2)],
                                [IPOption_NOP(), IPOption_Router_Alert()]])
        if h == "8.8.8.8":
            l4, rg = UDP(sport=self.eport(), dport=53), 10
        elif h.startswith("198.51.100."):
            l4, rg = TCP(sport=self.eport(), dport=443), 20
        else:
            l4, rg = TCP(sport=self.eport(), dport=443), RG_DEFAULT
        if self.rng.randrange(2):
            return [(IP(src=s, dst=h, options=opts) / l4 / self.payload(), (s, rg), None)]
        l4.sport, l4.dport = l4.dport, l4.sport
        return [(IP(src=h, dst=s, options=opts) / l4 / self.payload(), None, (s, rg))]

    def k_frag4(self):
        """Fragmented datagrams: only the first fragment carries ports."""
        s = self.sub4()
        r = self.rng.randrange(3)
        size = self.rng.randint(300, 900)
        ipid = self.rng.randint(1, 65535)
        if r == 0:     # UDP/53: first fragment -> 10, the rest -> default (no ports)
            up = self.rng.randrange(2)
            h, p = "8.8.4.4", self.eport()
            if up:
                pkt = IP(src=s, dst=h, id=ipid) / UDP(sport=p, dport=53) / self.payload(size, size)
            else:
                pkt = IP(src=h, dst=s, id=ipid) / UDP(sport=53, dport=p) / self.payload(size, size)
            rg_first, rg_rest = 10, RG_DEFAULT
        elif r == 1:   # UDP to 203.0.113.0/24: rule without port -> 30 for every fragment
            up = self.rng.randrange(2)
            h, p = "203.0.113.50", self.eport()
            if up:
                pkt = IP(src=s, dst=h, id=ipid) / UDP(sport=p, dport=4500) / self.payload(size, size)
            else:
                pkt = IP(src=h, dst=s, id=ipid) / UDP(sport=4500, dport=p) / self.payload(size, size)
            rg_first, rg_rest = 30, 30
        else:          # TCP to port 8080: first -> 40, rest -> default
            up = 1
            pkt = IP(src=s, dst="93.184.216.34", id=ipid) / TCP(sport=self.eport(), dport=8080) / \
                self.payload(size, size)
            rg_first, rg_rest = 40, RG_DEFAULT
        frags = fragment(pkt, fragsize=self.rng.choice([128, 256]))
        out = []
        for i, f in enumerate(frags):
            rg = rg_first if i == 0 else rg_rest
            out.append((f, (s, rg) if up else None, None if up else (s, rg)))
        if self.rng.randrange(3) == 0:
            self.rng.shuffle(out)    # out-of-order arrival: the non-first ones still have no ports
        return out

    # ---- IPv6 -------------------------------------------------------------------------
    def k_dns6(self):
        s, res, p = self.sub6(), "2001:4860:4860::8888", self.eport()
        if self.rng.randrange(2):
            return [(IPv6(src=s, dst=res) / UDP(sport=p, dport=53) / self.dns(False, 28), (s, 10), None)]
        return [(IPv6(src=res, dst=s) / UDP(sport=53, dport=p) / self.dns(True, 28), None, (s, 10))]

    def k_tcp6(self):
        s = self.sub6()
        h = self.rng.choice(["2001:4860::200e", "2606:4700::1111", "2a00:1450:4001::64"])
        port = self.rng.choice([443, 80, 8080])
        # rule 40 (tcp 8000-8080) comes before rule 50 (2001:4860::/32)
        rg = 40 if port == 8080 else 50 if h.startswith("2001:4860") else RG_DEFAULT
        if self.rng.randrange(2):
            return [(IPv6(src=s, dst=h) / TCP(sport=self.eport(), dport=port) / self.payload(), (s, rg), None)]
        return [(IPv6(src=h, dst=s) / TCP(sport=port, dport=self.eport()) / self.payload(), None, (s, rg))]

    def k_icmp6(self):
        s = self.sub6()
        h = self.rng.choice(["2606:4700::1111", "2001:4860::1"])
        rg = 50 if h.startswith("2001:4860") else 61
        if self.rng.randrange(2):
            return [(IPv6(src=s, dst=h) / ICMPv6EchoRequest(id=1, seq=2) / self.payload(0, 56), (s, rg), None)]
        return [(IPv6(src=h, dst=s) / ICMPv6EchoReply(id=1, seq=2) / self.payload(0, 56), None, (s, rg))]

    def k_ext6(self):
        """Extension headers before the upper layer: ports are still found."""
        s = self.sub6()
        chain = self.rng.choice([[IPv6ExtHdrHopByHop()], [IPv6ExtHdrDestOpt()],
                                 [IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt()],
                                 [IPv6ExtHdrHopByHop(), IPv6ExtHdrFragment(offset=0, m=0, id=9)]])
        ext = chain[0]
        for e in chain[1:]:
            ext = ext / e
        r = self.rng.randrange(3)
        if r == 0:
            h, l4, rg = "2606:4700::1111", UDP(sport=self.eport(), dport=53), 10
        elif r == 1:
            h, l4, rg = "2606:4700::1111", TCP(sport=self.eport(), dport=5050), 80
        else:
            h, l4, rg = "2606:4700::1111", ICMPv6EchoRequest(), 61
        if self.rng.randrange(2) or r == 2:
            return [(IPv6(src=s, dst=h) / ext / l4 / self.payload(), (s, rg), None)]
        l4.sport, l4.dport = l4.dport, l4.sport
        return [(IPv6(src=h, dst=s) / ext / l4 / self.payload(), None, (s, rg))]

    def k_frag6(self):
        s = self.sub6()
        size = self.rng.randint(300, 800)
        fid = self.rng.getrandbits(32)
        r = self.rng.randrange(2)
        pre = IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(id=fid) if self.rng.randrange(2) \
            else IPv6ExtHdrFragment(id=fid)
        if r == 0:   # UDP/53 to a non-4860 host: first -> 10, rest -> default
            h = "2606:4700::1111"
            up = self.rng.randrange(2)
            if up:
                pkt = IPv6(src=s, dst=h) / pre / UDP(sport=self.eport(), dport=53) / self.payload(size, size)
            else:
                pkt = IPv6(src=h, dst=s) / pre / UDP(sport=53, dport=self.eport()) / self.payload(size, size)
            rg_first, rg_rest = 10, RG_DEFAULT
        else:        # UDP to 2001:4860::/32 (prefix rule, no port): 50 for every fragment
            h = "2001:4860::53"
            up = 1
            pkt = IPv6(src=s, dst=h) / pre / UDP(sport=self.eport(), dport=443) / self.payload(size, size)
            rg_first, rg_rest = 50, 50
        frags = fragment6(pkt, self.rng.choice([200, 320]))
        out = []
        for i, f in enumerate(frags):
            rg = rg_first if i == 0 else rg_rest
            out.append((f, (s, rg) if up else None, None if up else (s, rg)))
        return out

    # ---- subscriber to subscriber, transit ----------------------------------------------
    def k_s2s(self):
        fams = []
        if len(self.v4subs) >= 2:
            fams.append(4)
        if self.v6subs:
            fams.append(6)
        fam = self.rng.choice(fams)
        if fam == 4:
            a, b = self.rng.sample(self.v4subs, 2)
            mk = IP
            icmp = ICMP(type=8)
            icmp_rg = 60
        else:
            pa = self.rng.choice(self.v6subs)
            if len(pa) >= 2 and self.rng.randrange(3) == 0:
                a, b = self.rng.sample(pa, 2)        # two addresses of the same /64
            else:
                a = b = self.sub6()
                while a == b:
                    b = self.sub6()
            mk = IPv6
            icmp = ICMPv6EchoRequest()
            icmp_rg = 61
        r = self.rng.randrange(4)
        if r == 0:    # a:40000 -> b:53  up(a)=10 (remote port 53), down(b)=default (remote port 40000)
            l4, ur, dr = UDP(sport=40000, dport=53), 10, RG_DEFAULT
        elif r == 1:  # a:53 -> b:40000
            l4, ur, dr = UDP(sport=53, dport=40000), RG_DEFAULT, 10
        elif r == 2:  # tcp a:5050 -> b:8080   up=40, down: remote port 5050 -> rule 80
            l4, ur, dr = TCP(sport=5050, dport=8080), 40, 80
        else:
            l4, ur, dr = icmp, icmp_rg, icmp_rg
        return [(mk(src=a, dst=b) / l4 / self.payload(), (a, ur), (b, dr))]

    def transit(self):
        fam = self.pick_family()
        if fam == 4:
            src, dst = self.rng.choice([("192.168.1.10", "172.16.5.5"), ("11.0.0.1", "9.255.255.254"),
                                        ("192.0.2.10", "192.0.2.1")])
            l4 = self.rng.choice([UDP(sport=1234, dport=53), TCP(sport=1, dport=2), ICMP()])
            pkt = IP(src=src, dst=dst) / l4 / self.payload()
        else:
            src, dst = self.rng.choice([("2001:db9::1", "2606:4700::1"), ("2001:db7:ffff::1", "fd00::5")])
            pkt = IPv6(src=src, dst=dst) / UDP(sport=1234, dport=53) / self.payload()
        self.emit_ip(pkt, "transit")

    def pick_family(self):
        if self.family == "4":
            return 4
        if self.family == "6":
            return 6
        return self.rng.choice([4, 4, 6])

    # ---- GTP-U --------------------------------------------------------------------------
    @staticmethod
    def gtp_bytes(msg_type, teid, body, seq=None, npdu=None, exts=(), flags=None, length=None):
        """GTPv1-U header built by hand (TS 29.281 §5.1/5.2). exts: [(type, content)]."""
        e, s, pn = bool(exts), seq is not None, npdu is not None
        opt = b""
        if e or s or pn:
            opt = struct.pack("!HBB", seq or 0, npdu or 0, exts[0][0] if exts else 0)
        extb = b""
        for i, (t, content) in enumerate(exts):
            nxt = exts[i + 1][0] if i + 1 < len(exts) else 0
            total = len(content) + 2
            assert total % 4 == 0
            extb += bytes([total // 4]) + content + bytes([nxt])
        rest = opt + extb + body
        if flags is None:
            flags = 0x30 | (e << 2) | (s << 1) | pn
        return struct.pack("!BBHI", flags, msg_type, len(rest) if length is None else length, teid) + rest

    def gtp_outer(self, up, gtp, fam=None):
        """Outer IP/UDP between a serving node and the gateway around GTP bytes."""
        fam = fam or (6 if self.family == "6" else self.rng.choice([4, 4, 4, 6]) if self.family == "both" else 4)
        sn = self.rng.randint(10, 19)
        if fam == 4:
            a, b = "192.0.2.%d" % sn, GW4
            mk = IP
        else:
            a, b = "fd00:2::%x" % sn, GW6
            mk = IPv6
        src, dst = (a, b) if up else (b, a)
        sport = 2152 if self.rng.randrange(3) else self.eport()
        return mk(src=src, dst=dst) / UDP(sport=sport, dport=2152) / Raw(gtp)

    def gtp_inner_kinds(self):
        ks = []
        if self.v4subs:
            ks += [self.k_dns4, self.k_rg20, self.k_tcp_default4, self.k_icmp4, self.k_udp203]
        if self.v6subs:
            ks += [self.k_dns6, self.k_tcp6, self.k_icmp6, self.k_ext6]
        return ks

    def k_gpdu(self):
        inner, up, down = self.rng.choice(self.gtp_inner_kinds())()[0]
        self.fix_dns(inner)
        ib = bytes(inner)
        self.check_len(ib)
        subject = up[0] if up else down[0]
        teid = self.teid.setdefault(skey(subject), self.rng.getrandbits(32) or 1)
        v = self.rng.randrange(6)
        is_up = up is not None
        if v == 0:
            g = self.gtp_bytes(255, teid, ib)
        elif v == 1:
            g = self.gtp_bytes(255, teid, ib, seq=self.rng.getrandbits(16))
        elif v == 2:   # PDU Session Container (UL PDU type 1 / DL type 0), QFI 9
            g = self.gtp_bytes(255, teid, ib, exts=[(0x85, bytes([0x10 if is_up else 0x00, 9]))])
        elif v == 3:
            g = self.gtp_bytes(255, teid, ib, npdu=self.rng.getrandbits(8))
        elif v == 4:   # two extension headers: UDP Port (0x40) then PDU Session Container
            g = self.gtp_bytes(255, teid, ib, seq=7,
                               exts=[(0x40, struct.pack("!H", 2152)),
                                     (0x85, bytes([0x10 if is_up else 0x00, 5]))])
        else:          # a longer (8-octet) extension header: PDU session container with padding
            g = self.gtp_bytes(255, teid, ib, exts=[(0x85, bytes([0x10 if is_up else 0x00, 1, 0, 0, 0, 0]))])
        outer = self.gtp_outer(is_up, g)
        b = bytes(outer)
        et = 0x0800 if (b[0] >> 4) == 4 else 0x86DD
        self.add_frame(self.l2(b, et), "billed", "gtpu_gpdu")
        self.gpdu_frames += 1
        octets = len(ib)
        if up:
            self.bill(skey(up[0]), "up", up[1], octets)
        if down:
            self.bill(skey(down[0]), "down", down[1], octets)

    def gtp_signalling(self):
        t = self.rng.choice([1, 2, 26, 254])
        if t == 1:
            g = self.gtp_bytes(1, 0, b"", seq=self.rng.getrandbits(16))
        elif t == 2:
            g = self.gtp_bytes(2, 0, b"\x0e\x00", seq=self.rng.getrandbits(16))   # Recovery IE
        elif t == 26:
            g = self.gtp_bytes(26, 0, b"\x10" + struct.pack("!I", 1234) +
                               b"\x85\x00\x04\xc0\x00\x02\x0a", seq=0)
        else:
            g = self.gtp_bytes(254, self.rng.getrandbits(32), b"")
        b = bytes(self.gtp_outer(self.rng.randrange(2), g))
        self.add_frame(self.l2(b, 0x0800 if (b[0] >> 4) == 4 else 0x86DD), "gtpu_not_gpdu", "gtpu_sig_%d" % t)

    def gtp_malformed(self, variant):
        inner = bytes(IP(src="10.0.0.1", dst="8.8.8.8") / UDP(sport=1000, dport=53) / Raw(b"q" * 20)) \
            if self.v4subs else \
            bytes(IPv6(src=self.sub6(), dst="2606:4700::1") / UDP(sport=1000, dport=53) / Raw(b"q" * 20))
        if variant == 0:     # version 2 in the flags
            g = self.gtp_bytes(255, 1, inner, flags=0x50)
        elif variant == 1:   # PT = 0 (GTP')
            g = self.gtp_bytes(255, 1, inner, flags=0x20)
        elif variant == 2:   # extension header with length 0
            g = self.gtp_bytes(255, 1, b"", seq=0, exts=[])
            g = bytearray(g)
            g[0] |= 0x04                 # E
            g[11] = 0x85                 # next extension header type
            g += b"\x00\x00\x00\x00" + inner
            struct.pack_into("!H", g, 2, len(g) - 8)
            g = bytes(g)
        else:                # truncated: 5 octets of GTP header only
            g = bytes([0x30, 255, 0, 0, 0])
        b = bytes(self.gtp_outer(1, g))
        self.add_frame(self.l2(b, 0x0800 if (b[0] >> 4) == 4 else 0x86DD), "gtpu_malformed",
                       "gtpu_malformed_%d" % variant)

    def gtp_inner_bad_version(self):
        g = self.gtp_bytes(255, 1, bytes([0x55]) + bytes(39))
        b = bytes(self.gtp_outer(1, g))
        # Not IP inside the tunnel: the G-PDU itself is malformed (parser.h kGtpMalformed).
        self.add_frame(self.l2(b, 0x0800 if (b[0] >> 4) == 4 else 0x86DD), "gtpu_malformed",
                       "gtpu_inner_bad_version")

    def gtp_inner_bad_header(self):
        """A G-PDU whose inner IPv4 header says IHL 4: not billed (bad_ip_header)."""
        inner = bytearray(bytes(IP(src=self.v4subs[0] if self.v4subs else "10.0.0.1", dst="8.8.8.8") /
                                UDP(sport=1000, dport=53) / Raw(b"h" * 20)))
        inner[0] = 0x44
        g = self.gtp_bytes(255, 1, bytes(inner), seq=3)
        b = bytes(self.gtp_outer(1, g))
        self.add_frame(self.l2(b, 0x0800 if (b[0] >> 4) == 4 else 0x86DD), "bad_ip_header",
                       "gtpu_inner_bad_header")

    # ---- not IP / malformed ------------------------------------------------------------
    def non_ip(self, variant):
        if variant == 0:
            arp = ARP(op=1, hwsrc="02:00:00:00:00:02", psrc="10.0.0.1", pdst="10.0.0.254")
            self.add_frame(self.l2(bytes(arp), 0x0806), "non_ip", "arp")
        elif variant == 1:
            arp = ARP(op=2, hwsrc="02:00:00:00:00:01", psrc="10.0.0.254", pdst="10.0.0.1")
            self.add_frame(self.l2(bytes(arp), 0x0806, tags=[(0x8100, 10)]), "non_ip", "arp_vlan")
        elif variant == 2:
            lldp = bytes.fromhex("020704020000000002040305303a31060200780000")
            self.add_frame(self.l2(lldp, 0x88CC, tags=[]), "non_ip", "lldp")
        else:   # MPLS with an IPv4 packet inside: not parsed past the label stack
            mpls = struct.pack("!I", (1000 << 12) | (1 << 8) | 64) + \
                bytes(IP(src="10.0.0.1", dst="8.8.8.8") / UDP(dport=53))
            self.add_frame(self.l2(mpls, 0x8847), "non_ip", "mpls")

    def l2_truncated(self, variant):
        if variant == 0:
            fr = MAC_GW + MAC_PEER[:4]                              # 10 octets
        elif variant == 1:
            fr = MAC_GW + MAC_PEER + b"\x81\x00\x00"                # VLAN tag cut short
        else:
            fr = MAC_GW + MAC_PEER + b"\x88\xa8\x00\x05\x81\x00"    # QinQ: inner tag missing
        self.add_frame(fr, "l2_truncated", "l2_truncated_%d" % variant)

    def malformed_ip(self, what, variant):
        v4ok = self.family != "6"
        v6ok = self.family != "4"
        s4 = self.v4subs[0] if self.v4subs else "10.0.0.1"
        s6 = self.v6subs[0][0] if self.v6subs else "2001:db8::1"
        ip4 = bytes(IP(src=s4, dst="8.8.8.8") / UDP(sport=1111, dport=53) / Raw(b"m" * 30))
        ip6 = bytes(IPv6(src=s6, dst="2606:4700::1") / UDP(sport=1111, dport=53) / Raw(b"m" * 30))
        if what == "bad_ip_version":
            choices = ([(ip6, 0x0800)] if v4ok else []) + ([(ip4, 0x86DD)] if v6ok else [])
            if v4ok:
                choices.append((bytes([0x55]) + ip4[1:], 0x0800))    # version 5
            l3, et = choices[variant % len(choices)]
            fr = self.l2(l3, et)
        elif what == "bad_ip_header":
            choices = []
            if v4ok:
                b = bytearray(ip4)
                b[0] = 0x44                                        # IHL 4
                choices.append((bytes(b), 0x0800, True))
                big = bytes(IP(src=s4, dst="8.8.8.8", options=[IPOption_NOP()] * 40))  # IHL 15 = 60 octets
                choices.append((big[:40], 0x0800, True))           # header longer than the frame
                choices.append((ip4[:16], 0x0800, False))          # not even 20 octets
            if v6ok:
                choices.append((ip6[:30], 0x86DD, False))          # IPv6 header cut short
            l3, et, pad = choices[variant % len(choices)]
            fr = self.l2(l3, et, pad=pad)
        else:   # ip_length_exceeds_frame
            choices = []
            if v4ok:
                b = bytearray(ip4)
                struct.pack_into("!H", b, 2, 1500)                 # total length 1500, frame ~72
                choices.append(bytes(b))
                b = bytearray(ip4)
                struct.pack_into("!H", b, 2, 12)                   # total length < header length
                choices.append(bytes(b))
            if v6ok:
                b = bytearray(ip6)
                struct.pack_into("!H", b, 4, 1000)                 # payload length 1000
                choices.append(bytes(b))
            l3 = choices[variant % len(choices)]
            fr = self.l2(l3, 0x0800 if (l3[0] >> 4) == 4 else 0x86DD)
        self.add_frame(fr, what, "%s_%d" % (what, variant))

    # ---- driver ----------------------------------------------------------------------
    def billed_kinds(self):
        ks = []
        if self.v4subs:
            ks += [(self.k_dns4, 12), (self.k_rg20, 10), (self.k_tcp_default4, 12), (self.k_tcp_8000, 4),
                   (self.k_udp203, 5), (self.k_port5000, 4), (self.k_udp_sport2152, 1), (self.k_icmp4, 4),
                   (self.k_sctp, 2), (self.k_gre, 1), (self.k_options4, 3), (self.k_frag4, 2)]
        if self.v6subs:
            w = 3 if self.family == "6" else 1
            ks += [(self.k_dns6, 6 * w), (self.k_tcp6, 8 * w), (self.k_icmp6, 3 * w), (self.k_ext6, 3 * w),
                   (self.k_frag6, 1 * w)]
        ks += [(self.k_s2s, 4)]
        return ks

    def run_intro(self):
        """One uplink packet per subscriber, in order: fixes the order of first appearance."""
        for s in self.v4subs:
            self.emit_ip(IP(src=s, dst="203.0.113.5") / UDP(sport=40000, dport=9) / Raw(b"hello"),
                         "intro", up=(s, 30))
        for addrs in self.v6subs:
            s = addrs[0]
            self.emit_ip(IPv6(src=s, dst="2001:4860::5") / UDP(sport=40000, dport=9) / Raw(b"hello"),
                         "intro", up=(s, 50))

    def run(self, npackets, malformed=True, intro=False):
        if intro:
            self.run_intro()
        kinds = self.billed_kinds()
        funcs = [k for k, _ in kinds]
        weights = [w for _, w in kinds]
        specials = []   # callables, shuffled in among the ordinary packets
        n_each = max(2, npackets // 400)
        if malformed:
            for i in range(n_each):
                specials += [lambda i=i: self.gtp_signalling(), lambda i=i: self.gtp_malformed(i % 4),
                             lambda i=i: self.malformed_ip("bad_ip_version", i),
                             lambda i=i: self.malformed_ip("bad_ip_header", i),
                             lambda i=i: self.malformed_ip("ip_length_exceeds_frame", i),
                             lambda i=i: self.l2_truncated(i % 3)]
                if self.family != "6":
                    specials.append(lambda i=i: self.non_ip(i % 4))
                specials.append(self.gtp_inner_bad_version)
                specials.append(self.gtp_inner_bad_header)
        specials += [self.transit] * max(3, npackets // 40)
        specials += [self.k_gpdu] * max(4, npackets // 12)
        tasks = specials + [None] * max(0, npackets - len(specials))
        self.rng.shuffle(tasks)
        for t in tasks:
            if t is not None:
                t()
                continue
            f = self.rng.choices(funcs, weights)[0]
            for pkt, up, down in f():
                self.emit_ip(pkt, f.__name__[2:], up=up, down=down)

    def manifest(self):
        flows = []
        for (key, rg), (uo, do, up, dp) in sorted(self.flows.items()):
            flows.append({"type": "flow", "subscriber": key, "rating_group": rg,
                          "uplink_octets": uo, "downlink_octets": do,
                          "uplink_packets": up, "downlink_packets": dp})
        return {
            "frames": len(self.frames),
            "bytes": sum(len(f) for f in self.frames),
            "categories": self.cats,
            "gpdu_frames": self.gpdu_frames,
            "transit_packets": self.cats["transit"],
            "transit_octets": self.transit_octets,
            "counted_packets": self.counted_packets,
            "counted_octets": self.counted_octets,
            "kinds": dict(sorted(self.kind_counts.items())),
            "v4_subscribers": self.v4subs,
            "v6_subscribers": self.v6subs,
            "flows": flows,
            "services": STANDARD_SERVICES,
            "ipv6_prefix_length": V6_KEY_LEN,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="pcap file to write")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--packets", type=int, default=2000, help="approximate number of frames (scale)")
    ap.add_argument("--subscribers", type=int, default=24,
                    help="IPv4 subscribers (and half as many IPv6 /64s); with --family 6: IPv6 /64s")
    ap.add_argument("--family", choices=["4", "6", "both"], default="both")
    ap.add_argument("--intro", action="store_true",
                    help="start with one uplink packet per subscriber in a fixed order")
    ap.add_argument("--no-malformed", action="store_true", help="no malformed / non-IP / GTP signalling")
    ap.add_argument("--manifest", help="write the generator's intent (JSON) here")
    ap.add_argument("--bench", action="store_true", help="minimum-size IPv4/UDP frames for benchmarks")
    ap.add_argument("--frame-size", type=int, default=60, help="bench: frame size in the file (no FCS)")
    ap.add_argument("--bench-downlink", type=int, default=0, metavar="PCT",
                    help="bench: percentage of downlink frames (default 0: all uplink)")
    ap.add_argument("--jumbo", action="store_true",
                    help="frames of 64 to 65589 octets: IPv4, IPv6, GTP-U, VLAN, both directions")
    args = ap.parse_args()
    if args.bench:
        bench(args)
        return
    if args.jumbo:
        jumbo(args)
        return
    if args.subscribers < 2:
        sys.exit("--subscribers must be >= 2")
    _import_scapy()
    rng = random.Random(args.seed)
    g = Gen(rng, args.subscribers, args.family)
    g.run(args.packets, malformed=not args.no_malformed, intro=args.intro)
    write_pcap(args.out, g.frames)
    if args.manifest:
        with open(args.manifest, "w") as f:
            json.dump(g.manifest(), f, indent=1)
            f.write("\n")
    print("wrote %s: %d frames, %d bytes" % (args.out, len(g.frames), sum(len(f) for f in g.frames)))


if __name__ == "__main__":
    main()
