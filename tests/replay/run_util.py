"""Small pieces the tallyd-driving test scripts share."""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"


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


class LiveTallyd:
    """A tallyd on the demo configuration replaying a pcap (net_pcap -> net_null, one worker),
    driven over its control socket; stopped by PID."""

    def __init__(self, tallyd, tallyctl, work, name):
        self.tallyd_bin, self.tallyctl, self.work = tallyd, tallyctl, Path(work)
        self.sock = self.work / "ctl.sock"
        if len(str(self.sock)) > 100:  # sun_path limit
            self.sock = Path("/tmp/tally-%s-%d.sock" % (name, os.getpid()))
        self.prefix = "tally-%s-%d" % (name, os.getpid())
        self.proc = None
        self.stderr = None

    def ctl(self, *words, stdin=None, timeout_ms=5000, timeout_s=300):
        return subprocess.run([self.tallyctl, "--socket", str(self.sock), "--timeout",
                               str(timeout_ms)] + list(words), input=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout_s)

    def statistics(self):
        r = self.ctl("display", "statistics", "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def start(self, pcap, sessions, edit=None, stderr_mode="a+"):
        """Starts it on `pcap` (edit(cfg) may change the configuration) and waits until
        `sessions` sessions are active. Returns None, or why it did not come up."""
        import yaml  # only the scripts that start a tallyd need it
        with open(DEMO_CONFIG) as f:
            cfg = yaml.safe_load(f)
        cfg["node"]["state_dir"] = str(self.work / "state")
        cfg["dataplane"]["eal"] = ["--replaced-by-eal-args"]
        cfg["dataplane"]["ports"] = [
            {"name": "net_pcap0", "role": "access", "forward_to": "net_null0"},
            {"name": "net_null0", "role": "core"}]
        cfg["dataplane"]["workers"] = 1
        cfg["dataplane"]["max_sessions"] = 65536
        cfg["subscribers"]["idle_timeout"] = 3600
        cfg["control"] = {"socket": str(self.sock)}
        cfg["local_aaa_server"] = {"local_bill": {"cfcard": {"path": str(self.work / "cdr")}}}
        if edit:
            edit(cfg)
        cfg_path = self.work / "tally.yaml"
        with open(cfg_path, "w") as f:
            yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
        eal = ("--no-huge -m 512 --no-pci -l 0-1 --file-prefix %s --vdev=net_pcap0,rx_pcap=%s "
               "--vdev=net_null0,no-rx=1" % (self.prefix, pcap))
        self.stderr = open(self.work / "tallyd.stderr", stderr_mode)
        self.proc = subprocess.Popen([self.tallyd_bin, "--config", str(cfg_path), "--eal-args",
                                      eal, "--no-summary"], stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        end = time.monotonic() + 90
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return "tallyd exited %d at start" % self.proc.returncode
            st = self.statistics() if self.sock.exists() else None
            if st is not None and st.get("sessions_active", 0) >= sessions:
                return None
            time.sleep(0.2)
        return "tallyd did not bring up %d sessions within 90 s" % sessions

    def stop(self):
        """SIGTERM, then SIGKILL after 60 s. Returns (exit code, stopped in time), or None when
        it was not running."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            result = (self.proc.wait(timeout=60), True)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            result = (self.proc.wait(), False)
        shutil.rmtree(dpdk_runtime_dir(self.prefix), ignore_errors=True)
        return result
