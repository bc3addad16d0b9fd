"""Real servers for tests: OpenSSH sshd (SFTP) and tftpd-hpa (TFTP) bill servers, FreeRADIUS
(accounting); stdlib only.

Rules (see /work/shared/reference/real-servers.md for the measured facts behind them):
- every server listens on 127.0.0.1 (or ::1) only, on a port chosen free for this run (never 22
  or 69), from a configuration in a temporary directory of its own;
- readiness by probe: sshd's PidFile (written after bind+listen), in.tftpd's UDP port bound in
  /proc/net/udp{,6}; FreeRADIUS's "Ready to process requests" line, both UDP ports bound and a
  Status-Server answered;
- each server is a direct child started in the foreground; it is stopped by the PID recorded at
  spawn (SIGTERM, SIGCONT in case it is stopped, SIGKILL after a grace period); per-connection
  sshd children are found by parent PID (pgrep -P PID), never by name;
- context managers: `with Sshd() as s:` / `with Tftpd() as t:` / `with FreeRadius() as r:`
  clean up on every path.

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


class _Started:
    """`with Server() as s`: started on entry (start()), stopped on exit (stop()), whatever
    happened."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


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


class Sshd(_Started):
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


class Tftpd(_Started):
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



# ---------------------------------------------------------------------------------------------
# FreeRADIUS 3.2 (accounting), real-servers.md section 4.
# ---------------------------------------------------------------------------------------------
FREERADIUS = "/usr/sbin/freeradius"
RADCLIENT = "/usr/bin/radclient"
FREERADIUS_CONF = "/etc/freeradius/3.0"


def freeradius_available():
    """FreeRADIUS (server) and radclient installed, and the stock config readable."""
    return (os.access(FREERADIUS, os.X_OK) and os.access(RADCLIENT, os.X_OK) and
            os.path.isdir(FREERADIUS_CONF))


def _unquote(v):
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        out, i, s = [], 0, v[1:-1]
        while i < len(s):
            if s[i] == "\\" and i + 1 < len(s):
                out.append(s[i + 1])
                i += 2
            else:
                out.append(s[i])
                i += 1
        return "".join(out)
    return v


def parse_detail(text):
    """The records of a FreeRADIUS detail file: a list of dicts, attribute name -> value string
    (double quotes removed), plus "_time": the record's header line (the server's %t, e.g.
    "Mon Dec  7 12:40:01 2026"). Only complete records (ended by their blank line) are returned;
    an attribute that occurs more than once keeps its last value."""
    records = []
    # Walk line by line so that a record being written right now (no blank line yet) is left out.
    cur = None
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # partial last line
        body = line.rstrip("\n")
        if body == "":
            if cur is not None:
                records.append(cur)
            cur = None
        elif body[0] in " \t":
            if cur is not None and " = " in body:
                name, _, value = body.strip().partition(" = ")
                cur[name] = _unquote(value)
        else:
            cur = {"_time": body}
    return records


class FreeRadius(_Started):
    """FreeRADIUS 3.2 from a private copy of /etc/freeradius/3.0 (stock sites and eap dropped,
    proxy_requests = no), one loopback-only virtual server: accounting on 127.0.0.1:acct_port,
    auth on 127.0.0.1:auth_port, client 127.0.0.1 with `secret`; every answered
    Accounting-Request is written to one detail file (detail_path, detail_records()).

    - noanswer_users: Accounting-Requests with one of these User-Names are received and dropped
      (do_not_respond in preacct): never answered, never in the detail file.
    - noanswer_interim_users: only their Interim-Updates are dropped unanswered (Start and Stop
      are answered): the interim_fail case.
    - delay_users: answered (and recorded) only after delay_s seconds (an exec of /bin/sleep in
      preacct; it holds one server thread: with debug=True, the only one, so everything behind
      it waits too).
    - pause()/resume(): SIGSTOP/SIGCONT; while paused the port stays bound (no ICMP), requests
      queue in the socket and are processed (recorded, answered late) after resume().
    - status_server: answer Status-Server (radiusd.conf security.status_server).
    - debug=True: `freeradius -X` (one thread, every packet logged); debug=False: `freeradius -f`
      multi-threaded (`threads` workers, default 4) logging only the essentials — for benchmarks.
    - recv_buff: the listening sockets' SO_RCVBUF in octets (listen { recv_buff }; the kernel caps
      it at net.core.rmem_max). Default: the system's (net.core.rmem_default, 208 KiB here: about
      180 small datagrams — a burst of more requests than that overflows it and the excess is
      dropped by the kernel, counted in /proc/net/snmp Udp RcvbufErrors).

    Ports: acct_port (also `port`), auth_port. Files: detail_path, out_path (the server's output,
    log()). Started with start(port=None) or as a context manager; stop() by PID.
    """

    def __init__(self, secret="testing123", status_server=True, noanswer_users=("noanswer",),
                 delay_users=(), debug=True, delay_s=2.0, threads=None,
                 noanswer_interim_users=(), recv_buff=None):
        self.secret = secret
        self.status_server = status_server
        self.noanswer_users = tuple(noanswer_users)
        self.delay_users = tuple(delay_users)
        self.noanswer_interim_users = tuple(noanswer_interim_users)
        self.debug = debug
        self.delay_s = delay_s
        self.threads = threads
        self.recv_buff = recv_buff
        self.proc = None
        self.dir = None
        self.acct_port = None
        self.auth_port = None

    # --- paths -----------------------------------------------------------------------------
    def path(self, *names):
        return os.path.join(self.dir, *names)

    @property
    def port(self):
        return self.acct_port

    @property
    def raddb(self):
        return self.path("raddb")

    @property
    def detail_path(self):
        return self.path("log", "radacct", "detail")

    @property
    def out_path(self):
        return self.path("radiusd.out")

    def log(self):
        """The server's output so far (-X: the debug log of every packet)."""
        try:
            with open(self.out_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def detail_text(self):
        try:
            with open(self.detail_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def detail_records(self):
        """The detail file's complete records, oldest first (parse_detail)."""
        return parse_detail(self.detail_text())

    def wait_detail(self, count, timeout_s=10.0):
        """Polls until at least `count` records are in the detail file; returns them (maybe
        fewer, at the timeout)."""
        end = time.monotonic() + timeout_s
        while True:
            recs = self.detail_records()
            if len(recs) >= count or time.monotonic() >= end:
                return recs
            time.sleep(POLL_S)

    # --- configuration -------------------------------------------------------------------------
    def _configure(self):
        d = self.dir
        # cp -a: keeps the owner (root:freerad) and modes, the server reads it as freerad.
        _run(["cp", "-a", FREERADIUS_CONF, self.raddb])
        os.makedirs(self.path("log", "radacct"))
        os.makedirs(self.path("run"))
        conf = self.path("raddb", "radiusd.conf")
        with open(conf) as f:
            text = f.read()
        lines = []
        threads = self.threads or 4
        section = []
        for line in text.splitlines():
            s = line.strip()
            if line.startswith("raddbdir = "):
                line = "raddbdir = " + self.raddb
            elif line.startswith("logdir = "):
                line = "logdir = " + self.path("log")
            elif line.startswith("run_dir = "):
                line = "run_dir = " + self.path("run")
            elif line.startswith("proxy_requests"):
                line = "proxy_requests = no"
            elif line.startswith("max_requests = "):
                # 5 s cleanup_delay x a benchmark's rate: room for every recent request.
                line = "max_requests = 1048576"
            elif s.startswith("status_server = ") and section == ["security"]:
                line = "\tstatus_server = " + ("yes" if self.status_server else "no")
            elif section == ["thread pool"] and s.startswith(("start_servers", "max_servers",
                                                                "min_spare_servers",
                                                                "max_spare_servers")):
                key = s.split()[0]
                val = {"start_servers": threads, "max_servers": threads,
                       "min_spare_servers": 1, "max_spare_servers": threads}[key]
                line = "\t%s = %d" % (key, val)
            # section tracking: top-level "name {" ... "}"
            if not s.startswith("#"):
                if s.endswith("{"):
                    section.append(s[:-1].strip())
                elif s == "}" and section:
                    section.pop()
            lines.append(line)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        for name in os.listdir(self.path("raddb", "sites-enabled")):
            os.unlink(self.path("raddb", "sites-enabled", name))
        os.unlink(self.path("raddb", "mods-enabled", "eap"))
        with open(self.path("raddb", "clients.conf"), "w") as f:
            f.write("client localhost {\n\tipaddr = 127.0.0.1\n\tsecret = %s\n}\n" % self.secret)
        with open(self.path("raddb", "mods-enabled", "detail_test"), "w") as f:
            f.write("detail detail_test {\n\tfilename = ${radacctdir}/detail\n"
                    "\tpermissions = 0644\n\theader = \"%t\"\n}\n")
        with open(self.path("raddb", "mods-enabled", "exec_sleep"), "w") as f:
            # The stock exec instance has wait = no, which refuses the %{exec:...} xlat.
            f.write("exec exec_sleep {\n\twait = yes\n\tinput_pairs = request\n"
                    "\tshell_escape = yes\n\ttimeout = 30\n}\n")
        rb = "\t\trecv_buff = %d\n" % self.recv_buff if self.recv_buff else ""
        hooks = ""
        for u in self.noanswer_users:
            hooks += '\t\tif (&User-Name == "%s") {\n\t\t\tdo_not_respond\n\t\t}\n' % u
        for u in self.noanswer_interim_users:
            hooks += ('\t\tif (&User-Name == "%s" && &Acct-Status-Type == Interim-Update) {\n'
                      '\t\t\tdo_not_respond\n\t\t}\n' % u)
        for u in self.delay_users:
            hooks += ('\t\tif (&User-Name == "%s") {\n\t\t\tupdate control {\n'
                      '\t\t\t\t&Tmp-String-8 := "%%{exec_sleep:/bin/sleep %g}"\n\t\t\t}\n\t\t}\n'
                      % (u, self.delay_s))
        with open(self.path("raddb", "sites-enabled", "billtest"), "w") as f:
            f.write("""server billtest {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %(auth)d
%(rb)s	}
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = %(acct)d
%(rb)s	}
	authorize {
		ok
	}
	authenticate {
	}
	preacct {
%(hooks)s		preprocess
		acct_unique
	}
	accounting {
		detail_test
		ok
	}
	Autz-Type Status-Server {
		ok
	}
}
""" % {"auth": self.auth_port, "acct": self.acct_port, "hooks": hooks, "rb": rb})
        for sub in ("log", "run"):
            for root, dirs, files in os.walk(self.path(sub)):
                shutil.chown(root, "freerad", "freerad")
        # The server drops to freerad: it must traverse the work dir (mkdtemp: 0700).
        os.chmod(d, 0o755)
        r = subprocess.run([FREERADIUS, "-XC", "-d", self.raddb], capture_output=True, text=True)
        if r.returncode != 0:
            raise ServerError("freeradius -XC -d %s: the configuration is refused\n%s"
                              % (self.raddb, (r.stdout + r.stderr)[-2000:]))

    def _bound(self):
        want = {"0100007F:%04X" % p for p in (self.acct_port, self.auth_port)}
        with open("/proc/net/udp") as f:
            got = {line.split()[1] for line in f.readlines()[1:]}
        return want <= got

    def _ready(self):
        return "Ready to process requests" in self.log() and self._bound()

    # --- life cycle --------------------------------------------------------------------------
    def start(self, port=None):
        """port: the accounting port (e.g. reserved earlier with free_port("udp")); default a
        free one. The auth port is another free one. Refuses a second start (the first server
        would be left running: `with FreeRadius() as r` has started it already)."""
        if self.proc is not None:
            raise ServerError("FreeRadius.start(): already running (pid %d)" % self.proc.pid)
        self.dir = tempfile.mkdtemp(prefix="tally-radius-")
        last = None
        try:
            for attempt in range(1 if port else 3):
                self.acct_port = port or free_port("udp")
                self.auth_port = free_port("udp")
                while self.auth_port == self.acct_port:
                    self.auth_port = free_port("udp")
                if attempt:
                    shutil.rmtree(self.raddb, ignore_errors=True)
                    shutil.rmtree(self.path("log"), ignore_errors=True)
                    shutil.rmtree(self.path("run"), ignore_errors=True)
                self._configure()
                try:
                    self._spawn()
                    if self.status_server and not self.status():
                        raise ServerError("FreeRADIUS on %d: no answer to Status-Server\n%s"
                                          % (self.acct_port, self.log()[-2000:]))
                    return self
                except ServerError as e:
                    last = e
                    if self.proc is not None and self.proc.poll() is None:
                        stop_pid(self.proc)
                    self.proc = None
        except Exception:
            self.stop()
            raise
        self.stop()
        raise last

    def _spawn(self):
        if self.debug:
            args = [FREERADIUS, "-X", "-d", self.raddb]
        else:
            # -f: foreground, multi-threaded; -l stdout: the log (incl. "Ready ...") on stdout.
            args = [FREERADIUS, "-f", "-l", "stdout", "-d", self.raddb]
        out = open(self.out_path, "a")
        try:
            # TZ=UTC: the detail file's header and Event-Timestamp are in UTC.
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT,
                                         env=dict(os.environ, TZ="UTC"))
        finally:
            out.close()
        _wait_for(self._ready, self.proc, "freeradius on 127.0.0.1:%d/%d"
                  % (self.acct_port, self.auth_port), self.out_path)

    def stop(self):
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


    def pause(self):
        """SIGSTOP: bound but silent; requests queue in the socket buffer."""
        _signal(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        """SIGCONT: the queued requests are processed (and answered, late) now."""
        _signal(self.proc.pid, signal.SIGCONT)

    # --- clients -----------------------------------------------------------------------------
    def radclient(self, attrs, command="acct", port=None, retries=1, timeout_s=1.0,
                  secret=None):
        """One radclient run (attrs: the request's text, "A = v, B = w" or one per line);
        returns the CompletedProcess (returncode 0: answered). radclient's -r is the number of
        sends (at least 1), timeout_s apart."""
        return subprocess.run(
            [RADCLIENT, "-x", "-r", str(max(1, retries)), "-t", str(timeout_s),
             "127.0.0.1:%d" % (port or self.acct_port), command, secret or self.secret],
            input=attrs, capture_output=True, text=True, timeout=60)

    def status(self, port=None, timeout_s=1.0):
        """Status-Server to the accounting port (or `port`): True when answered."""
        r = self.radclient("Message-Authenticator = 0x00\n", "status", port, 1, timeout_s)
        return r.returncode == 0 and "Received" in r.stdout
