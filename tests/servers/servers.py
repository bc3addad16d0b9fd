"""Real bill servers for tests: OpenSSH sshd (SFTP) and tftpd-hpa (TFTP), stdlib only.

Rules (see /work/shared/reference/real-servers.md for the measured facts behind them):
- every server listens on 127.0.0.1 (or ::1) only, on a port chosen free for this run (never 22
  or 69), from a configuration in a temporary directory of its own;
- readiness by probe: sshd's PidFile (written after bind+listen), in.tftpd's UDP port bound in
  /proc/net/udp{,6};
- each server is a direct child started in the foreground; it is stopped by the PID recorded at
  spawn (SIGTERM, SIGCONT in case it is stopped, SIGKILL after a grace period); per-connection
  sshd children are found by parent PID (pgrep -P PID), never by name;
- context managers: `with Sshd() as s:` / `with Tftpd() as t:` clean up on every path.

Needs root (useradd/chpasswd for the SFTP user, chown, sshd privilege separation).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SFTP_USER = "billsftp"
SFTP_PASSWORD = "billpass"
SSHD = "/usr/sbin/sshd"
TFTPD = "/usr/sbin/in.tftpd"
READY_TIMEOUT_S = 10.0
POLL_S = 0.02


class ServerError(RuntimeError):
    pass


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise ServerError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                  (r.stderr or r.stdout).strip()))
    return r.stdout


def free_port(kind="tcp", host="127.0.0.1"):
    """A port that is free on `host` right now (the kernel's choice), never 22 or 69."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    stype = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    while True:
        with socket.socket(family, stype) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in (22, 69):
            return port


def children(pid):
    """PIDs whose parent is `pid` (pgrep -P: by PID, not by name)."""
    r = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split()]


def descendants(pid):
    out = []
    todo = [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid):
    """Running (not gone, not a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_pid(proc_or_pid, grace_s=5.0):
    """SIGTERM (+SIGCONT for a stopped process), wait, SIGKILL; reaps a direct child."""
    proc = proc_or_pid if isinstance(proc_or_pid, subprocess.Popen) else None
    pid = proc.pid if proc else proc_or_pid
    _signal(pid, signal.SIGTERM)
    _signal(pid, signal.SIGCONT)
    end = time.monotonic() + grace_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return
        if proc is None and not _alive(pid):
            return
        time.sleep(POLL_S)
    _signal(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(timeout=5)


def kill_now(pid):
    """SIGKILL (and SIGCONT so that a stopped process handles it at once)."""
    _signal(pid, signal.SIGKILL)
    _signal(pid, signal.SIGCONT)


def ensure_sftp_user(user=SFTP_USER, password=SFTP_PASSWORD):
    """The SFTP-only system user (no home, nologin), created once; its password set each run."""
    if subprocess.run(["getent", "passwd", user], capture_output=True).returncode != 0:
        r = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                            "/nonexistent", "--shell", "/usr/sbin/nologin", user],
                           capture_output=True, text=True)
        # Another test run may have created it meanwhile (exit 9: exists).
        if r.returncode not in (0, 9):
            raise ServerError("useradd %s: %s" % (user, r.stderr.strip()))
    subprocess.run(["chpasswd"], input="%s:%s\n" % (user, password), text=True, check=True,
                   capture_output=True)


def _wait_for(pred, proc, what, log=None):
    end = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < end:
        if pred():
            return
        if proc.poll() is not None:
            break
        time.sleep(POLL_S)
    text = ""
    if log and os.path.exists(log):
        with open(log) as f:
            text = f.read()[-2000:]
    raise ServerError("%s did not come up (exit %s)\n%s" % (what, proc.poll(), text))


class Sshd:
    """OpenSSH sshd serving SFTP only (internal-sftp into upload_dir) to SFTP_USER, by password
    and by an ed25519 key, on 127.0.0.1 (and [::1] with ipv6=True) at a free port."""

    def __init__(self, ipv6=False, log_level="VERBOSE"):
        self.ipv6 = ipv6
        self.log_level = log_level
        self.user = SFTP_USER
        self.password = SFTP_PASSWORD
        self.proc = None
        self.dir = None
        self.port = None

    # --- paths -----------------------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def upload_dir(self):
        return self.path("upload")

    @property
    def known_hosts(self):
        return self.path("known_hosts")

    @property
    def client_key(self):
        return self.path("client_ed25519")

    @property
    def log(self):
        return self.path("sshd.log")

    def host_pub(self):
        with open(self.path("hostkey.pub")) as f:
            return " ".join(f.read().split()[:2])

    def known_hosts_line(self, host="127.0.0.1", port=None, key=None):
        return "[%s]:%d %s\n" % (host, port or self.port, key or self.host_pub())

    # --- life cycle --------------------------------------------------------------------------
    def start(self, port=None):
        """port: listen on this port (one reserved with free_port() earlier, e.g. a bill server
        configured before it comes up); default: a free one."""
        self.dir = tempfile.mkdtemp(prefix="tally-sshd-")
        os.chmod(self.dir, 0o755)  # the session runs as SFTP_USER and must traverse it
        os.makedirs("/run/sshd", exist_ok=True)
        os.chmod("/run/sshd", 0o755)
        ensure_sftp_user(self.user, self.password)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tally-testhost", "-f",
              self.path("hostkey")])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tally-billtest", "-f",
              self.client_key])
        shutil.copy(self.client_key + ".pub", self.path("authorized_keys"))
        os.chmod(self.path("authorized_keys"), 0o644)
        os.mkdir(self.upload_dir)
        shutil.chown(self.upload_dir, self.user)
        last = None
        for _ in range(1 if port else 3):  # a free port may be taken before sshd's bind
            self.port = port or free_port("tcp")
            if self.ipv6:
                # The same number must be free on ::1 too.
                try:
                    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                        s.bind(("::1", self.port))
                except OSError:
                    continue
            try:
                self._spawn()
                break
            except ServerError as e:
                last = e
        else:
            self.stop()
            raise last or ServerError("no free port for sshd")
        with open(self.known_hosts, "w") as f:
            f.write(self.known_hosts_line())
            if self.ipv6:
                f.write(self.known_hosts_line("::1"))
        return self

    def _spawn(self):
        listen = "ListenAddress 127.0.0.1:%d\n" % self.port
        if self.ipv6:
            listen += "ListenAddress [::1]:%d\n" % self.port
        cfg = self.path("sshd_config")
        with open(cfg, "w") as f:
            f.write(listen + """HostKey {d}/hostkey
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers {u}
Subsystem sftp internal-sftp -d {d}/upload
ForceCommand internal-sftp -d {d}/upload
AllowTcpForwarding no
X11Forwarding no
PermitTTY no
MaxStartups 64:30:128
LogLevel {lvl}
""".format(d=self.dir, u=self.user, lvl=self.log_level))
        _run([SSHD, "-t", "-f", cfg])
        pidfile = self.path("sshd.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        logf = open(self.log, "a")
        try:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", cfg], stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf)
        finally:
            logf.close()
        try:
            _wait_for(lambda: os.path.exists(pidfile) and os.path.getsize(pidfile) > 0,
                      self.proc, "sshd on port %d" % self.port, self.log)
        except ServerError:
            if self.proc.poll() is None:
                stop_pid(self.proc)
            self.proc = None
            raise

    def stop(self):
        if self.proc is not None:
            sessions = descendants(self.proc.pid)
            stop_pid(self.proc)
            for pid in sessions:  # in-flight sessions survive the listener
                kill_now(pid)
            self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # --- stopping the server without closing its port ------------------------------------------
    def pause(self):
        """SIGSTOP the listener and every session below it: connections are still accepted by
        the kernel, but nothing answers (a hung server)."""
        pids = [self.proc.pid] + descendants(self.proc.pid)
        for p in pids:
            _signal(p, signal.SIGSTOP)
        return pids

    def resume(self):
        for p in [self.proc.pid] + descendants(self.proc.pid):
            _signal(p, signal.SIGCONT)

    # --- per-connection children -------------------------------------------------------------
    def sessions(self):
        """The per-connection children of the listener ("sshd: billsftp [priv]")."""
        return children(self.proc.pid)

    def stop_session(self, pid):
        """SIGSTOP a session child and everything below it (the unprivileged network child)."""
        pids = [pid] + descendants(pid)
        for p in pids:
            _signal(p, signal.SIGSTOP)
        return pids

    def kill_session(self, pid):
        pids = [pid] + descendants(pid)
        for p in pids:
            kill_now(p)
        return pids


class Tftpd:
    """tftpd-hpa (in.tftpd -L, foreground) on 127.0.0.1 or ::1 at a free UDP port, root
    directory `root` (chrooted, files created, plain Unix permissions)."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.proc = None
        self.dir = None
        self.port = None

    @property
    def root(self):
        return os.path.join(self.dir, "root")

    def _bound(self):
        if ":" in self.host:
            table, local = "/proc/net/udp6", "00000000000000000000000001000000:%04X" % self.port
        else:
            table, local = "/proc/net/udp", "0100007F:%04X" % self.port
        with open(table) as f:
            return any(line.split()[1] == local for line in f.readlines()[1:])

    def start(self, port=None):
        """port: as for Sshd.start."""
        self.dir = tempfile.mkdtemp(prefix="tally-tftpd-")
        os.mkdir(self.root)
        shutil.chown(self.root, "tftp")
        last = None
        for _ in range(1 if port else 3):
            self.port = port or free_port("udp", self.host)
            addr = ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)
            self.proc = subprocess.Popen(
                [TFTPD, "-L", "-a", addr, "-s", "-c", "-p", "-u", "tftp", "-U", "022", "-B",
                 "65464", self.root], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE)
            try:
                _wait_for(self._bound, self.proc, "in.tftpd on %s" % addr)
                return self
            except ServerError as e:
                last = e
                if self.proc.poll() is None:
                    stop_pid(self.proc)
                self.proc = None
        self.stop()
        raise last

    def stop(self):
        if self.proc is not None:
            kids = descendants(self.proc.pid)
            stop_pid(self.proc)
            for pid in kids:
                kill_now(pid)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
