"""Small pieces the tallyd-driving test scripts share (stdlib only)."""

import os
import shutil
import struct
import sys


def dpdk_runtime_dir(prefix):
    """Where EAL keeps the runtime files of --file-prefix PREFIX (removed after each run)."""
    base = "/var/run/dpdk" if os.geteuid() == 0 else os.path.join(
        os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
    return os.path.join(base, prefix)


def prepare_workdir(work, marker):
    """Empties a work directory this test made before (marked); never deletes anything else."""
    if work.exists() and any(work.iterdir()):
        if not (work / marker).exists():
            sys.exit("refusing to empty %s: not a work directory of this test (no %s)" % (work, marker))
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / marker).touch()


def write_dns_pcap(path, addresses):
    """A pcap with one UDP/53 packet (46 IP octets) from each IPv4 address to 8.8.8.8."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        payload = b"\0" * 18
        for n, a in enumerate(addresses):
            o = [int(x) for x in a.split(".")]
            src = (o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]
            udp = struct.pack("!HHHH", 4000, 53, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src,
                             0x08080808)
            s = sum(struct.unpack("!10H", ip))
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
            frame = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip + udp
            f.write(struct.pack("<IIII", 1, n, len(frame), len(frame)) + frame)
