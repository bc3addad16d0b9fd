#!/usr/bin/env bash
# tally performance figures in one run (what they mean: docs/performance.md).
#
#   (a) hot path: FastPath::stageBurst, one thread, packets in cache (bench/hotpath_bench);
#       the ratios to IPv4 1 M from rounds of the four 1 M rows run back to back (median)
#   (b) control-plane poll: Poller::poll() with 1 M flows per worker (bench/poller_bench)
#   (d) CDR output: records encoded per second, files written per second with fsync (bench/cdr_bench)
#   (c) whole pipeline: build/tallyd vs dpdk-testpmd on the same net_pcap trace, the same
#       net_null output port and lcores (-l 0-1: one worker / forwarding lcore), interleaved
#       A B A B A B, medians: the cost tally adds per packet (tallyd ns/pkt - testpmd ns/pkt),
#       inline (tallyd forward_to net_null vs testpmd --forward-mode=io) and tap (tallyd
#       count-and-free vs testpmd --forward-mode=rxonly), against the hot-path figure of the
#       same traffic measured in the same section.
#   (e) configuration: loading a generated 16 MB file of 300,000 static subscribers, time and
#       peak memory (bench/config_bench; the --check-config path before its path checks)
#   (f) bill storage: bills committed per second behind an fsync and the commit delay (median,
#       p99) of the bill journal at 100 k bills/s and as fast as it goes (bench/journal_bench,
#       400-octet bills, on /var/tmp: the real disk); SFTP upload MiB/s of a 200 MiB bill file,
#       tally's transport against OpenSSH sftp to the same local sshd, interleaved rounds
#       (bench/sftp_bench.py; needs root)
#   (h) RADIUS accounting: requests/s of tally's RadiusClient, driven like the poll thread
#       (bench/radius_bench: a batch per poll_interval_ms, longest poll and poll-to-poll gap),
#       against radclient -p 256 with the same requests to the same local FreeRADIUS (-f,
#       stock and 4 MiB socket receive buffer), interleaved rounds; the detail file must hold
#       exactly the answered requests (bench/radius_bench.py; needs root and freeradius)
#
# Usage: scripts/bench.sh [--quick] [--only LIST] [--keep DIR]
#   --quick      smoke run: shorter runs, fewer sizes, smaller trace, one round
#   --only LIST  comma-separated subset of:
#                hotpath,poller,cdr,pipeline,config,storage,identity,radius
#   --keep DIR   copy the raw outputs (benchmark JSON, tallyd/testpmd logs) to DIR
# Environment: BUILD_DIR (default build), TESTPMD (default dpdk-testpmd), PIPELINE_TRACES
#   (subset of "small mid big": 8 K, 200 K, 1 M subscribers), PIPELINE_ROUNDS,
#   EAL_MEM_MB (default 6144: 1.2 M mbufs of 2.3 KB need more than 4 GB), PIPELINE_MEMORY
#   (hugepages, the default: both programs on 2 MB pages, as DPDK runs on a gateway; the script
#   reserves them (root), mounts its own hugetlbfs and gives both back at exit; 4k: --no-huge,
#   as the tests run; hugepages falls back to 4k, said in the output, when they cannot be had),
#   PIPELINE_POLL_MS (tallyd's dataplane.poll_interval_ms in (c); default: tallyd's, 100),
#   PIPELINE_MODES (default "inline tap"; "transit" adds a diagnostic: tallyd inline with a pool
#   that holds none of the trace's addresses, against testpmd io: receiving, parsing and
#   forwarding without counting), PIPELINE_PROBE (default 1; 0 leaves out the replay probe:
#   bench/replay_probe, which receives like both programs, reads each packet's first line and
#   spins the hot-path figure's nanoseconds per packet, touching no memory of its own: what this
#   replay charges any program for the hot path's work, printed as information beside tally's
#   added cost).
#
# The machine is shared and noisy (2 vCPUs): compare figures of the same run (ratios).
set -euo pipefail

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; }  # the header

QUICK=0
SECTIONS="hotpath,poller,cdr,pipeline,config,storage,identity,radius"
KEEP=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --only) SECTIONS="${2:?--only needs a list}"; shift ;;
    --keep) KEEP="${2:?--keep needs a directory}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$SECTIONS," == *",$1,"* ]]; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
[[ "$BUILD_DIR" == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
PY=/usr/bin/python3
TESTPMD="${TESTPMD:-dpdk-testpmd}"
EAL_MEM_MB="${EAL_MEM_MB:-6144}"
MBUFS=1200000    # set per trace in (c)

WORK="$(mktemp -d /tmp/tally-bench.XXXXXX)"
SOCK="/tmp/tally-bench-$$.sock"
PIDS=()          # processes this script started (timeout wrappers): ended by PID at exit
PREFIXES=()      # DPDK --file-prefix values used: their /var/run/dpdk dirs are removed
HUGE_MOUNT=""    # the hugetlbfs this script mounted for the pipeline (unmounted at exit)
HUGE_PREV=""     # vm.nr_hugepages before this script raised it (restored at exit)

cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      # A `timeout` wrapper: it passes TERM on to its command (tallyd stops gracefully).
      kill -TERM "$pid" 2>/dev/null || true
      local waited=0
      while kill -0 "$pid" 2>/dev/null && [[ $waited -lt 20 ]]; do
        sleep 0.5
        waited=$((waited + 1))
      done
      if kill -0 "$pid" 2>/dev/null; then
        pkill -KILL -P "$pid" 2>/dev/null || true   # its child, by parent PID
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  done
  if [[ -n "$KEEP" ]]; then
    if mkdir -p "$KEEP"; then
      cp -r "$WORK"/. "$KEEP"/ 2>/dev/null || true
    fi
    find "$KEEP" -name '*.pcap' -delete 2>/dev/null || true
  fi
  if [[ -n "$HUGE_MOUNT" ]]; then
    umount "$HUGE_MOUNT" 2>/dev/null || log "could not unmount $HUGE_MOUNT"
  fi
  if [[ -n "$HUGE_PREV" ]]; then
    echo "$HUGE_PREV" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
  fi
  rm -rf "${WORK:?}"
  rm -f "$SOCK"
  local p
  for p in "${PREFIXES[@]}"; do
    [[ -n "$p" ]] || continue
    rm -rf "/var/run/dpdk/${p:?}" 2>/dev/null || true
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench.sh: $*" >&2; }

# Run a command in the background under `timeout`, remember its PID, wait for it.
# run_limited SECONDS OUTFILE CMD...   -> the command's exit status
run_limited() {
  local limit="$1" out="$2"
  shift 2
  timeout -k 10 "$limit" "$@" </dev/null >"$out" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

if [[ $QUICK -eq 1 ]]; then
  HP_FILTER='^hotpath_ipv4/subscribers:(1000|1000000)$|^hotpath_(ipv6|gtpu|gtpu_ext|ipv4_zipf|ipv4_imix)/subscribers:1000000$|^hotpath_workers'
  HP_REPS=1; HP_MIN=0.3; HP_RATIO_ROUNDS=3
  PL_FILTER='workers:1/rg_per_sub:4/rg_configured:4$'
  PL_REPS=1; PL_MIN=0.3
  ROUNDS=1; DURATION=2
  TRACES="small mid"
  WARM_LIMIT=60
else
  HP_FILTER='.'
  HP_REPS=3; HP_MIN=1; HP_RATIO_ROUNDS=9
  PL_FILTER='.'
  PL_REPS=3; PL_MIN=1
  ROUNDS=3; DURATION=5
  TRACES="small mid big"
  WARM_LIMIT=120
fi
START_LIMIT=120   # tallyd / testpmd start-up (1.2 M mbufs without hugepages take a while)
# Overrides for a partial pipeline run: PIPELINE_TRACES (of: small mid big), PIPELINE_ROUNDS,
# PIPELINE_MODES (of: inline tap transit; transit is a diagnostic, see tallyd_run).
TRACES="${PIPELINE_TRACES:-$TRACES}"
MODES="${PIPELINE_MODES:-inline tap}"
ROUNDS="${PIPELINE_ROUNDS:-$ROUNDS}"
# The pipeline's settings from the environment are checked before anything runs.
bad_setting() { echo "bench.sh: $1" >&2; exit 2; }
for t in $TRACES; do
  [[ "$t" =~ ^(small|mid|big)$ ]] || bad_setting "PIPELINE_TRACES: '$t' is not one of small, mid, big"
done
for m in $MODES; do
  [[ "$m" =~ ^(inline|tap|transit)$ ]] || bad_setting "PIPELINE_MODES: '$m' is not one of inline, tap, transit"
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || bad_setting "PIPELINE_ROUNDS: '$ROUNDS' is not a whole number >= 1"
PROBE="${PIPELINE_PROBE:-1}"
[[ "$PROBE" =~ ^[01]$ ]] || bad_setting "PIPELINE_PROBE: '$PROBE' is not 0 or 1"
[[ "${PIPELINE_MEMORY:-hugepages}" =~ ^(hugepages|4k)$ ]] ||
  bad_setting "PIPELINE_MEMORY: '$PIPELINE_MEMORY' is not hugepages or 4k"
if [[ -n "${PIPELINE_POLL_MS:-}" ]] &&
    ! { [[ "$PIPELINE_POLL_MS" =~ ^[0-9]+$ ]] && ((PIPELINE_POLL_MS >= 10 && PIPELINE_POLL_MS <= 10000)); }; then
  bad_setting "PIPELINE_POLL_MS: '$PIPELINE_POLL_MS' is not 10-10000 (dataplane.poll_interval_ms)"
fi
# Pipeline traces: as many packets as subscribers (each packet a uniformly random one of them
# and a uniformly random one of the hot path's four rating-group selectors).
declare -A TRACE_PACKETS=([small]=8192 [mid]=200000 [big]=1000000)

# ---------------------------------------------------------------------------------------------
# Build what is needed.
# ---------------------------------------------------------------------------------------------
targets=()
want hotpath && targets+=(bench/hotpath_bench)
want poller && targets+=(bench/poller_bench)
want cdr && targets+=(bench/cdr_bench)
want pipeline && targets+=(tallyd tallyctl bench/hotpath_bench bench/replay_probe)
want storage && targets+=(bench/journal_bench tests/upload_tool)
want identity && targets+=(bench/identity_bench)
want radius && targets+=(bench/radius_bench)
if [[ ${#targets[@]} -gt 0 ]]; then
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    log "configuring $BUILD_DIR"
    meson setup "$BUILD_DIR" "$ROOT" -Dbenchmarks=enabled >"$WORK/meson.log" 2>&1 ||
      { cat "$WORK/meson.log" >&2; exit 1; }
  fi
  if want hotpath || want poller || want cdr || want pipeline || want identity || want radius; then
    known="$(ninja -C "$BUILD_DIR" -t targets all 2>/dev/null || true)"
    if ! grep -q '^bench/hotpath_bench:' <<<"$known"; then
      log "enabling the benchmarks option in $BUILD_DIR (needs libbenchmark-dev)"
      meson configure "$BUILD_DIR" -Dbenchmarks=enabled >"$WORK/meson.log" 2>&1 ||
        { cat "$WORK/meson.log" >&2; exit 1; }
    fi
  fi
  log "building ${targets[*]} in $BUILD_DIR"
  ninja -C "$BUILD_DIR" "${targets[@]}" >"$WORK/ninja.log" 2>&1 ||
    { tail -40 "$WORK/ninja.log" >&2; exit 1; }
fi

echo "tally benchmarks — $(date -u +%Y-%m-%dT%H:%MZ) — $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')) — load $(cut -d' ' -f1-3 /proc/loadavg)"
[[ $QUICK -eq 1 ]] && echo "(--quick: smoke run, figures are indicative only)"

# ---------------------------------------------------------------------------------------------
# (a) hot path
# ---------------------------------------------------------------------------------------------
if want hotpath; then
  log "hot path benchmark (a few minutes)"
  if ! run_limited 1800 "$WORK/hotpath.txt" "$BUILD_DIR/bench/hotpath_bench" \
      --benchmark_filter="$HP_FILTER" --benchmark_repetitions="$HP_REPS" \
      --benchmark_min_time="$HP_MIN" --benchmark_out="$WORK/hotpath.json" \
      --benchmark_out_format=json; then
    tail -20 "$WORK/hotpath.txt" >&2
    echo "hot path benchmark FAILED"
  else
    # The ratio targets (IPv6 and GTP-U <= 1.2x IPv4 of the same run). The table's rows run
    # minutes apart, and this host drifts by more than the margin in that time, so the ratios
    # come from rounds: each round is one process that runs the four 1 M rows back to back in
    # a random order (no row always runs first), and each row is divided by the IPv4 row of its
    # own round. Median and range over the rounds.
    log "hot path ratio rounds: $HP_RATIO_ROUNDS x the four 1 M rows"
    : >"$WORK/hotpath-ratios.txt"
    for ((r = 1; r <= HP_RATIO_ROUNDS; r++)); do
      if run_limited 600 "$WORK/hotpath-ratio-round.txt" "$BUILD_DIR/bench/hotpath_bench" \
          --benchmark_filter='^hotpath_(ipv4|ipv6|gtpu|gtpu_ext)/subscribers:1000000$' \
          --benchmark_enable_random_interleaving=true --benchmark_min_time="$HP_MIN"; then
        sed -n 's|^\(hotpath_[a-z0-9_]*\)/subscribers:1000000 .*ns_per_pkt=\([0-9.]*\).*|'"$r"' \1 \2|p' \
          "$WORK/hotpath-ratio-round.txt" >>"$WORK/hotpath-ratios.txt"
      fi
    done
    "$PY" - "$HP_REPS" "$WORK/hotpath.json" "$WORK/hotpath-ratios.txt" <<'EOF'
import json, statistics, sys
reps = int(sys.argv[1])
# Ratio rounds: {row: [row ns / IPv4 ns of the same round]}.
rounds = {}
for line in open(sys.argv[3]):
    r, row, ns = line.split()
    rounds.setdefault(r, {})[row] = float(ns)
ratios = {}
for got in rounds.values():
    if "hotpath_ipv4" in got:
        for row, ns in got.items():
            ratios.setdefault(row, []).append(ns / got["hotpath_ipv4"])
def ratio_of(base):
    v = ratios.get(base)
    return (statistics.median(v), min(v), max(v), len(v)) if v else None
runs = {}
for b in json.load(open(sys.argv[2]))["benchmarks"]:
    if b.get("run_type", "iteration") != "iteration":
        continue
    if b.get("error_occurred"):
        runs.setdefault(b["run_name"], []).append(None)
        continue
    runs.setdefault(b["run_name"], []).append((b["ns_per_pkt"], b["Mpps"]))
label = {
    "hotpath_ipv4": "IPv4 UDP/TCP 64 B, subscribers random in 10/8",
    "harness_only": "(harness alone: per-burst rewrite)",
    "parse_only": "(harness + parsing alone: no lookup, no count)",
    "hotpath_ipv6": "IPv6 /64s of 2001:db8::/32",
    "hotpath_gtpu": "IPv4 in GTP-U over IPv4",
    "hotpath_gtpu_ext": "IPv4 in GTP-U + PDU session container",
    "hotpath_ipv4_zipf": "IPv4 64 B, Zipf(1.0) subscriber popularity",
    "hotpath_ipv4_imix": "IPv4 IMIX 7:4:1 (64/570/1518 B)",
    "hotpath_workers": "IPv4 64 B, W worker threads, total",
}
med = {}
for name, vals in runs.items():
    good = [v for v in vals if v is not None]
    if good:
        med[name] = (statistics.median(v[0] for v in good), statistics.median(v[1] for v in good))
ipv4_1m = med.get("hotpath_ipv4/subscribers:1000000", (None,))[0]
one_worker = next((m[1] for n, m in med.items()
                   if n.startswith("hotpath_workers/") and "/workers:1/" in n), None)
def verdict(ok, text):
    return text + ": " + ("met" if ok else "MISSED")
print()
print("(a) Hot path: FastPath::stageBurst + publish, 1 thread, bursts of 32 in cache, "
      "4 rating groups (median of %d)" % reps)
print("  %-48s %11s %8s %8s  %s" % ("scenario", "subscribers", "ns/pkt", "Mpps", "target"))
for name, vals in runs.items():
    base, _, arg = name.partition("/")
    params = dict(p.split(":") for p in arg.split("/") if ":" in p)
    subs = int(params.get("subscribers", 0))
    if name not in med:
        print("  %-48s %11s %8s %8s  %s" % (label.get(base, base), subs, "error", "", ""))
        continue
    ns, mpps = med[name]
    target = ""
    rel = " (%.2fx IPv4 1 M)" % (ns / ipv4_1m) if ipv4_1m else ""
    if base == "hotpath_ipv4" and subs == 1000000:
        target = verdict(ns <= 30, "<= 30 ns")
    elif base == "hotpath_ipv4" and subs == 1000:
        target = verdict(ns <= 20, "<= 20 ns")
    elif base in ("hotpath_gtpu", "hotpath_gtpu_ext", "hotpath_ipv6") and subs == 1000000:
        limit = 45 if base == "hotpath_ipv6" else 40
        q = ratio_of(base)
        rel = " (no ratio round completed)"
        if q:
            rel = " (%.3fx IPv4 1 M, median of %d rounds, range %.3f-%.3f)" % (
                q[0], q[3], q[1], q[2])
        target = verdict(ns <= limit and q is not None and q[0] <= 1.2,
                         "<= %d ns and <= 1.2x IPv4" % limit + rel)
    elif base == "hotpath_ipv4_zipf":
        target = verdict(ns <= 25, "<= 25 ns")
    elif base == "hotpath_ipv4_imix":
        target = "(info)" + rel
    elif base == "hotpath_workers" and params.get("workers") == "2" and one_worker:
        target = verdict(mpps >= 1.8 * one_worker,
                         ">= 1.8x one worker (%.2fx)" % (mpps / one_worker))
    lab = label.get(base, base)
    if base == "hotpath_workers":
        lab = lab.replace("W ", params.get("workers", "?") + " ")
    subs_s = "%d K" % (subs // 1000) if subs < 1000000 else "%g M" % (subs / 1e6)
    print("  %-48s %11s %8.1f %8.2f  %s" % (lab, subs_s, ns, mpps, target))
EOF
  fi
fi

# ---------------------------------------------------------------------------------------------
# (b) control-plane poll
# ---------------------------------------------------------------------------------------------
if want poller; then
  log "poller benchmark (a few minutes: sets up 1-2 M sessions)"
  if ! run_limited 1800 "$WORK/poller.txt" "$BUILD_DIR/bench/poller_bench" \
      --benchmark_filter="$PL_FILTER" --benchmark_repetitions="$PL_REPS" \
      --benchmark_min_time="$PL_MIN" --benchmark_out="$WORK/poller.json" \
      --benchmark_out_format=json; then
    tail -20 "$WORK/poller.txt" >&2
    echo "poller benchmark FAILED"
  else
    "$PY" - "$WORK/poller.json" "$PL_REPS" <<'EOF'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
reps = int(sys.argv[2])
runs = {}
for b in d["benchmarks"]:
    if b.get("run_type", "iteration") != "iteration":
        continue
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    if b.get("error_occurred"):
        runs.setdefault(b["run_name"], []).append(None)
        continue
    runs.setdefault(b["run_name"], []).append(
        (b["cpu_time"] * scale, b["real_time"] * scale, b["ns_per_flow"], b["flows"]))
label = {"poll_unchanged": "no counter changed", "poll_10pct_changed": "10 % of flows changed"}
print()
print("(b) Control-plane poll: Poller::poll(), 1 M tracked flows per worker (median of %d);"
      % reps)
print("    rating groups per subscriber: 4 = 250 K subscribers x 4 (the hot path's traffic),")
print("    1 = 1 M subscribers x 1 (information: the scan covers 4 M flow entries);")
print("    rg/conf: rating groups per subscriber / configured")
print("  %-24s %7s %7s %8s %12s %13s %8s  %s" % ("case", "workers", "rg/conf", "flows", "ms/poll cpu",
                                                "ms/poll wall", "ns/flow", "target <= 10 ms"))
for name, vals in runs.items():
    base, _, arg = name.partition("/")
    params = dict(p.split(":") for p in arg.split("/") if ":" in p)
    workers = params.get("workers", "?")
    rgs = params.get("rg_per_sub", "?") + "/" + params.get("rg_configured", "4")
    good = [v for v in vals if v is not None]
    if not good:
        print("  %-24s %7s  error" % (label.get(base, base), workers))
        continue
    cpu = statistics.median(v[0] for v in good)
    wall = statistics.median(v[1] for v in good)
    nsf = statistics.median(v[2] for v in good)
    flows = good[0][3]
    verdict = "met" if cpu <= 10 else "MISSED (%.1fx)" % (cpu / 10)
    if rgs != "4/4":
        verdict = "(info) " + verdict
    print("  %-24s %7s %7s %7.0fK %12.1f %13.1f %8.1f  %s"
          % (label.get(base, base), workers, rgs, flows / 1000, cpu, wall, nsf, verdict))
EOF
  fi
fi

# ---------------------------------------------------------------------------------------------
# (c) whole pipeline: tallyd vs testpmd rxonly
# ---------------------------------------------------------------------------------------------
gen_trace() {  # gen_trace PACKETS SUBSCRIBERS OUT -> prints the distinct subscribers in it
  # 60-byte (64 on the wire) IPv4 frames, all uplink; subscribers: distinct uniformly random
  # hosts of 10.0.0.0/8, each once per SUBSCRIBERS packets in random order; per packet a
  # uniformly random one of the hot path's four rating-group selectors (bench/hotpath_bench.cc:
  # udp/53, 198.51.100.7:5001, tcp/443, udp/5001). Replayed, every packet touches a random
  # subscriber's index entry and counter line, as in the hot-path benchmark of as many
  # subscribers: that figure is the reference.
  "$PY" - "$1" "$2" "$3" <<'EOF'
import random, struct, sys
n, s, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(1)
subs = [0x0A000000 + h for h in rng.sample(range(1, (1 << 24) - 1), s)]
kinds = [(17, 0xCB00710A, 53), (17, 0xC6336407, 5001), (6, 0xCB00710A, 443),
         (17, 0xCB00710A, 5001)]
eth = bytes.fromhex("020000000001020000000002") + b"\x08\x00"
seen = set()
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    buf = bytearray()
    for k in range(n):
        proto, dst, dport = kinds[rng.randrange(4)]
        sub = subs[k % s]  # each subscriber once per s packets, in random order
        seen.add(sub)
        hdr = struct.pack("!BBHHHBBHII", 0x45, 0, 46, k & 0xFFFF, 0, 64, proto, 0, sub, dst)
        if proto == 6:  # TCP header (20) + 6 octets
            l4 = struct.pack("!HHIIBBHHH", 1024 + (k & 0x7FFF), dport, 0, 0, 0x50, 0x10, 1024,
                             0, 0) + bytes(6)
        else:  # UDP header (8) + 18 octets
            l4 = struct.pack("!HHHH", 1024 + (k & 0x7FFF), dport, 26, 0) + bytes(18)
        buf += struct.pack("<IIII", 1700000000, k % 1000000, 60, 60)
        buf += eth + hdr + l4
        if len(buf) > (1 << 20):
            f.write(buf); buf = bytearray()
    f.write(buf)
print(len(seen))
EOF
}

# DPDK memory of both programs in (c): EAL_MEM (arguments) and MEM_LABEL (for the output).
PIPELINE_MEMORY="${PIPELINE_MEMORY:-hugepages}"
EAL_MEM=(--no-huge -m "$EAL_MEM_MB")
MEM_LABEL="4 KB pages (--no-huge)"
# use_hugepages: reserves EAL_MEM_MB of 2 MB pages (raising vm.nr_hugepages if needed), mounts
# a hugetlbfs of this script's own and points EAL_MEM at it; both are given back at exit.
# Returns 1 (EAL_MEM unchanged) when that cannot be done.
use_hugepages() {
  local pages=$(( (EAL_MEM_MB + 1) / 2 )) free
  if [[ ! -w /proc/sys/vm/nr_hugepages ]]; then
    log "hugepages: vm.nr_hugepages is not writable (not root?)"
    return 1
  fi
  HUGE_PREV="$(cat /proc/sys/vm/nr_hugepages)"
  free="$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)"
  if (( free < pages )); then
    echo $(( HUGE_PREV + pages - free )) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
    free="$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)"
  fi
  if (( free < pages )); then
    log "hugepages: only $free of $pages free 2 MB pages could be had"
    return 1
  fi
  mkdir -p "$WORK/hugetlbfs"
  if ! mount -t hugetlbfs -o pagesize=2M nodev "$WORK/hugetlbfs"; then
    log "hugepages: could not mount a hugetlbfs"
    return 1
  fi
  HUGE_MOUNT="$WORK/hugetlbfs"
  EAL_MEM=(--huge-dir "$HUGE_MOUNT" --huge-unlink -m "$EAL_MEM_MB")
  MEM_LABEL="2 MB hugepages ($pages reserved)"
}

RUN_SEQ=0
RATE=""
AVG=""
CPUF=""   # the share of the wall time the forwarding / worker lcore thread was on a CPU
CLK_TCK="$(getconf CLK_TCK)"
# worker_ticks WRAPPER_PID -> CPU time (clock ticks) of the lcore worker thread of the program
# the `timeout` wrapper started. The machine is shared: a busy-polling lcore does not get its
# vCPU all the time, and the programs compared may get different shares; dividing each rate
# by its share gives the rate per second of CPU, as the hot-path benchmark (CPU time) measures.
worker_ticks() {
  local child t sum=0
  child="$(pgrep -P "$1" | head -1)"
  if [[ -n "$child" ]]; then
    for t in /proc/"$child"/task/*; do
      if grep -qE '^(rte|lcore)-worker' "$t/comm" 2>/dev/null; then
        sum=$(( sum + $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0) ))
      fi
    done
  fi
  echo "$sum"
}
cpu_share() {  # cpu_share T0 TICKS0 T1 TICKS1
  "$PY" -c 'import sys; t0,c0,t1,c1,hz=map(float,sys.argv[1:]); print("%.4f" % min(1.0, (c1-c0)/hz/(t1-t0)) if t1 > t0 and c1 > c0 else "")' "$@" "$CLK_TCK"
}
now() { date +%s.%N; }
# stats_of SOCKET -> "RX_PACKETS SESSIONS_ACTIVE READ_S" from `tallyctl display statistics
# --json` (READ_S: when tallyd read rx_packets, its counters_read_mono_ns in seconds), or "" when
# tallyd did not answer.
stats_of() {
  "$BUILD_DIR/tallyctl" --socket "$1" --timeout 15000 display statistics --json 2>/dev/null |
    "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["rx_packets"], d.get("sessions_active", 0), "%.9f" % (d["counters_read_mono_ns"] / 1e9))' \
      2>/dev/null || true
}
rx_of() { local v; v="$(stats_of "$1")"; echo "${v%% *}"; }
# rx_at SOCKET -> "READ_S:RX_PACKETS" (see stats_of), or "".
rx_at() {
  local v
  v="$(stats_of "$1")"
  [[ -n "$v" ]] && echo "${v##* }:${v%% *}"
}

# tallyd_run TRACE PACKETS MODE -> sets RATE to the steady receive rate (pps) or "fail", and AVG
# to tallyd's own --print-rate figure (first packet to stop: the learning phase included).
# MODE inline: net_pcap0 forward_to net_null0 (no-rx=1: it sends nothing back); tap: count and
# free (the net_null port is there too, polled and idle, as in inline mode).
# Steady state: once the whole trace went through twice and sessions_active stopped growing
# (every flow announced, every subscriber's counter page touched; with 1 M subscribers that
# takes several seconds), rx_packets is read with tallyctl about every second for
# DURATION seconds; the rate is the least-squares slope of rx_packets over the times tallyd read
# it (`counters_read_mono_ns`: the poll's start). Until 2026-12-07 it was over the requests'
# midpoints, and a request held for seconds by a long poll gave a false rate (a 6 s request on
# the 1 M trace: 2.5 Mpps instead of 9).
# (Not called in $(...): the PIDs and prefixes it records must reach this shell's cleanup.)
tallyd_run() {
  local trace="$1" packets="$2" mode="$3"
  local forward=""
  [[ "$mode" == inline || "$mode" == transit ]] && forward=", forward_to: net_null0"
  # transit (diagnostic): inline, but the pool holds none of the trace's addresses: every packet
  # is received, parsed, counted as transit and forwarded, no subscriber is looked up.
  local pool=10.0.0.0/8
  [[ "$mode" == transit ]] && pool=192.0.2.0/24
  RUN_SEQ=$((RUN_SEQ + 1))
  local prefix="tally-bench-$$-$RUN_SEQ"
  PREFIXES+=("$prefix")
  local cfg="$WORK/tallyd-$RUN_SEQ.yaml" out="$WORK/tallyd-$RUN_SEQ.log"
  local mem_yaml="" a poll_yaml=""
  [[ -n "${PIPELINE_POLL_MS:-}" ]] && poll_yaml=$'\n'"  poll_interval_ms: $PIPELINE_POLL_MS"
  for a in "${EAL_MEM[@]}"; do mem_yaml+="\"$a\", "; done
  cat >"$cfg" <<YAML
node: {id: bench, address: 192.0.2.1, state_dir: $WORK/state-$RUN_SEQ}
dataplane:
  eal: [$mem_yaml"--no-pci", "-l", "0-1", "--file-prefix", "$prefix", "--vdev=net_pcap0,rx_pcap=$trace,infinite_rx=1", "--vdev=net_null0,no-rx=1"]
  ports: [{name: net_pcap0, role: access$forward}, {name: net_null0, role: core}]
  workers: 1
  max_sessions: 2000000
  mbufs: $MBUFS
  max_frame_size: 1518  # 2 KB buffers, as testpmd$poll_yaml
subscribers: {pools: [$pool], idle_timeout: 0}
services: {rules: [{rating_group: 10, match: {protocol: udp, remote_port: 53}}, {rating_group: 20, match: {remote_prefix: 198.51.100.0/24}}, {rating_group: 30, match: {protocol: tcp, remote_port: 443}}], default_rating_group: 1}
control: {socket: $SOCK}
local_aaa_server: {local_bill: {cfcard: {path: $WORK/cdr-$RUN_SEQ}}}
YAML
  rm -f "$SOCK"
  local max_run=$((START_LIMIT + WARM_LIMIT + DURATION + 10))
  timeout -k 120 $((max_run + 120)) "$BUILD_DIR/tallyd" --config "$cfg" --run-for "$max_run" \
    --print-rate --no-summary </dev/null >"$out" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  RATE=fail
  AVG=fail
  CPUF=""
  # Started: the control socket answers.
  local deadline rx="" samples=""
  deadline=$(( $(date +%s) + START_LIMIT ))
  while kill -0 "$pid" 2>/dev/null && [[ $(date +%s) -lt $deadline ]]; do
    if [[ -S "$SOCK" ]]; then
      rx="$(rx_of "$SOCK")"
      [[ -n "$rx" ]] && break
    fi
    sleep 0.5
  done
  if [[ -n "$rx" ]]; then
    # Warm: the trace went through twice and the session count is stable.
    deadline=$(( $(date +%s) + WARM_LIMIT ))
    local st sess prev_sess=-1 warm=0
    while kill -0 "$pid" 2>/dev/null && [[ $(date +%s) -lt $deadline ]]; do
      st="$(stats_of "$SOCK")"
      if [[ -n "$st" ]]; then
        read -r rx sess _ <<<"$st"  # RX_PACKETS SESSIONS_ACTIVE READ_S
        if [[ "$rx" -ge $((2 * packets)) && "$sess" == "$prev_sess" ]]; then
          warm=1
          break
        fi
        prev_sess="$sess"
      fi
      sleep 1
    done
    if [[ $warm -eq 0 ]]; then
      log "tallyd run $RUN_SEQ: not warm after ${WARM_LIMIT} s (rx_packets ${rx:-?}): measuring anyway"
    fi
    local t_start r c0 c1 w0 w1
    t_start="$(date +%s)"
    w0="$(now)"; c0="$(worker_ticks "$pid")"
    # Each sample is rx_packets at the time tallyd read it (its last poll's start, on its
    # monotonic clock), not at the request's time: tallyd answers between polls, and with many
    # flows a poll (or a checkpoint) can hold a request for seconds.
    while kill -0 "$pid" 2>/dev/null && [[ $(( $(date +%s) - t_start )) -lt $DURATION ]]; do
      r="$(rx_at "$SOCK")"
      [[ -n "$r" ]] && samples+="$r "
      sleep 0.8
    done
    r="$(rx_at "$SOCK")"
    [[ -n "$r" ]] && samples+="$r "
    w1="$(now)"; c1="$(worker_ticks "$pid")"
    CPUF="$(cpu_share "$w0" "$c0" "$w1" "$c1")"
    echo "samples (tallyd read time s:rx_packets): $samples worker cpu share ${CPUF:-?}" >>"$out.samples"
  fi
  kill -INT "$pid" 2>/dev/null || true   # graceful stop: tallyd prints its rate line
  local rc=0
  wait "$pid" || rc=$?
  rm -rf "/var/run/dpdk/${prefix:?}"
  AVG="$(sed -n 's/^rx_packets [0-9]* seconds [0-9.]* rate_pps \([0-9.]*\)$/\1/p' "$out" | tail -1)"
  [[ -n "$AVG" ]] || AVG=fail
  local slope=""
  if [[ -n "${samples:-}" ]]; then
    slope="$("$PY" - "$samples" <<'EOF'
import sys
pts = {}
for s in sys.argv[1].split():
    t, rx = s.split(":")
    pts[float(t)] = int(rx)  # two requests between the same polls: one reading
pts = sorted(pts.items())
if len(pts) >= 2 and pts[-1][0] - pts[0][0] > 1:
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mr = sum(r for _, r in pts) / n
    num = sum((t - mt) * (r - mr) for t, r in pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    print(num / den if den > 0 else "")
EOF
)"
  fi
  if [[ -n "$slope" ]]; then
    RATE="$slope"
  else
    log "tallyd run $RUN_SEQ failed (exit $rc):"
    tail -5 "$out" >&2
    if grep -q 'dataplane.mbufs' "$out"; then
      log "tallyd does not accept dataplane.mbufs yet: the pipeline comparison needs it"
    fi
  fi
}

# testpmd_run TRACE MODE -> sets RATE to the median Rx-pps of port 0 (the pcap port) over the
# steady seconds, or "fail". MODE inline: --forward-mode=io to net_null0; tap: rxonly.
testpmd_run() {
  local trace="$1" fwd=io
  [[ "$2" == tap ]] && fwd=rxonly
  RUN_SEQ=$((RUN_SEQ + 1))
  local prefix="tp-$$-$RUN_SEQ"
  PREFIXES+=("$prefix")
  local out="$WORK/testpmd-$RUN_SEQ.log"
  # With --stats-period testpmd prints "Rx-pps:" every second until SIGINT, one per port (port
  # 0, then port 1); the first report covers the start, so wait for DURATION + 1 reports of
  # both ports, then interrupt it.
  timeout -k 10 -s INT $((START_LIMIT + DURATION + 30)) "$TESTPMD" "${EAL_MEM[@]}" --no-pci \
    -l 0-1 --file-prefix "$prefix" --vdev="net_pcap0,rx_pcap=$trace,infinite_rx=1" \
    --vdev=net_null0,no-rx=1 -- \
    --forward-mode="$fwd" --total-num-mbufs="$MBUFS" --stats-period 1 \
    </dev/null >"$out" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local n=0 w0="" c0="" w1 c1
  CPUF=""
  while kill -0 "$pid" 2>/dev/null; do
    n="$(grep -c 'Rx-pps:' "$out" 2>/dev/null || true)"
    if [[ -z "$w0" && "$n" -ge 4 ]]; then  # the first steady report
      w0="$(now)"; c0="$(worker_ticks "$pid")"
    fi
    if [[ "$n" -ge $((2 * (DURATION + 1))) ]]; then
      w1="$(now)"; c1="$(worker_ticks "$pid")"
      [[ -n "$w0" ]] && CPUF="$(cpu_share "$w0" "$c0" "$w1" "$c1")"
      kill -INT "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
  rm -rf "/var/run/dpdk/${prefix:?}"
  local rate
  rate="$("$PY" - "$out" <<'EOF'
import re, statistics, sys
text = open(sys.argv[1], errors="replace").read()
# Each report: "NIC statistics for port N" then its Rx-pps; keep port 0's (the pcap port).
pps = []
for block in text.split("NIC statistics for port ")[1:]:
    m = re.match(r"(\d+)", block)
    r = re.search(r"Rx-pps:\s+(\d+)", block)
    if m and r and m.group(1) == "0":
        pps.append(int(r.group(1)))
steady = pps[1:]  # the first report includes the start
print(statistics.median(steady) if steady else "")
EOF
)"
  if [[ -z "$rate" ]]; then
    log "testpmd run $RUN_SEQ failed:"
    tail -5 "$out" >&2
    RATE=fail
    return 0
  fi
  RATE="$rate"
}

# probe_run TRACE MODE SPIN_NS -> sets RATE (packets per wall second) and CPUF (the worker's CPU
# share) of bench/replay_probe on the trace, or RATE=fail. MODE inline: the probe sends every
# packet on to net_null0 (against testpmd io); tap: it frees them (against rxonly). Same EAL
# setup as testpmd_run.
probe_run() {
  local trace="$1" fwd=() spin="$3"
  [[ "$2" == tap ]] || fwd=(--forward)
  RUN_SEQ=$((RUN_SEQ + 1))
  local prefix="pr-$$-$RUN_SEQ"
  PREFIXES+=("$prefix")
  local out="$WORK/probe-$RUN_SEQ.log"
  CPUF=""
  RATE=fail
  if run_limited $((START_LIMIT + DURATION + 60)) "$out" "$BUILD_DIR/bench/replay_probe" \
      "${EAL_MEM[@]}" --no-pci -l 0-1 --file-prefix "$prefix" \
      --vdev="net_pcap0,rx_pcap=$trace,infinite_rx=1" --vdev=net_null0,no-rx=1 -- \
      --mbufs "$MBUFS" --spin-ns "$spin" --seconds "$DURATION" --warmup 4 "${fwd[@]}"; then
    local line
    line="$(grep '^replay_probe:' "$out" || true)"
    if [[ "$line" =~ pps_wall=([0-9]+)\ cpu_share=([0-9.]+) ]]; then
      RATE="${BASH_REMATCH[1]}"
      CPUF="${BASH_REMATCH[2]}"
    fi
  fi
  rm -rf "/var/run/dpdk/${prefix:?}"
  if [[ "$RATE" == fail ]]; then
    log "replay probe run $RUN_SEQ failed:"
    tail -5 "$out" >&2
  fi
}

# ---------------------------------------------------------------------------------------------
# (d) CDR output: records encoded per second (one core), files written per second with fsync
# ---------------------------------------------------------------------------------------------
if want cdr; then
  log "CDR benchmark"
  if ! run_limited 600 "$WORK/cdr.txt" "$BUILD_DIR/bench/cdr_bench" \
      --benchmark_repetitions=3 --benchmark_min_time=0.5 \
      --benchmark_out="$WORK/cdr.json" --benchmark_out_format=json; then
    tail -20 "$WORK/cdr.txt" >&2
    echo "CDR benchmark FAILED"
  else
    "$PY" - "$WORK/cdr.json" <<'EOF2'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
runs = {}
for b in d["benchmarks"]:
    if b.get("run_type", "iteration") == "iteration" and not b.get("error_occurred"):
        runs.setdefault(b["run_name"], []).append(b.get("items_per_second", 0.0))
print()
print("(d) CDR output (median of 3)")
for name, label, unit, target in (
        ("BM_EncodePgwRecord", "PGW-CDR encoded (4 service + 2 traffic containers)", "records/s", 100e3),
        ("BM_WriteCdrFile10/real_time", "files of 10 records written (tmp, fsync, rename, dir fsync)", "records/s", None)):
    v = runs.get(name)
    if not v:
        print("  %-62s  not measured" % label)
        continue
    m = statistics.median(v)
    extra = ""
    if target:
        extra = "  target >= %d k: %s" % (target / 1e3, "met" if m >= target else "MISSED")
    elif "files" in label:
        extra = "  = %.0f files/s" % (m / 10)
    print("  %-62s %12.0f %s%s" % (label, m, unit, extra))
EOF2
  fi
fi

if want pipeline; then
  if ! command -v "$TESTPMD" >/dev/null; then
    echo "(c) pipeline: SKIPPED ($TESTPMD not found; apt-get install dpdk)"
  else
    if [[ "$PIPELINE_MEMORY" == hugepages ]]; then
      use_hugepages || MEM_LABEL+=": hugepages could not be had"
    fi
    log "pipeline: DPDK memory on $MEM_LABEL"
    log "generating traces"
    declare -A DISTINCT=() RESULTS=() REF=()
    for t in $TRACES; do
      DISTINCT[$t]="$(gen_trace "${TRACE_PACKETS[$t]}" "${TRACE_PACKETS[$t]}" "$WORK/$t.pcap")"
    done
    # The hot-path figure of the same traffic (same run, just before the pipeline rounds).
    subs_re="$(for t in $TRACES; do printf '%s|' "${TRACE_PACKETS[$t]}"; done)"
    log "pipeline: hot-path reference rows (subscribers ${subs_re%|})"
    if run_limited 1800 "$WORK/pipeline-hotpath.txt" "$BUILD_DIR/bench/hotpath_bench" \
        --benchmark_filter="^hotpath_ipv4/subscribers:(${subs_re%|})\$" \
        --benchmark_repetitions="$HP_REPS" --benchmark_min_time="$HP_MIN" \
        --benchmark_out="$WORK/pipeline-hotpath.json" --benchmark_out_format=json; then
      for t in $TRACES; do
        REF[$t]="$("$PY" - "$WORK/pipeline-hotpath.json" "${TRACE_PACKETS[$t]}" <<'EOF'
import json, statistics, sys
v = [b["ns_per_pkt"] for b in json.load(open(sys.argv[1]))["benchmarks"]
     if b.get("run_type", "iteration") == "iteration" and not b.get("error_occurred")
     and b["run_name"] == "hotpath_ipv4/subscribers:" + sys.argv[2]]
print(statistics.median(v) if v else "")
EOF
)"
      done
    else
      log "pipeline: the hot-path reference rows failed"
      tail -5 "$WORK/pipeline-hotpath.txt" >&2
    fi
    for t in $TRACES; do
      # Enough mbufs for the whole trace (net_pcap infinite_rx copies it into mbufs at start)
      # plus the rings; the same for both programs.
      MBUFS=$(( TRACE_PACKETS[$t] + 65536 ))
      for r in $(seq "$ROUNDS"); do
        for mode in $MODES; do
          log "pipeline $t ($mode) round $r/$ROUNDS: tallyd"
          tallyd_run "$WORK/$t.pcap" "${TRACE_PACKETS[$t]}" "$mode"
          RESULTS[$t,$mode,tallyd]+="$RATE "
          RESULTS[$t,$mode,avg]+="$AVG "
          RESULTS[$t,$mode,tcpu]+="${CPUF:-fail} "
          log "pipeline $t ($mode) round $r/$ROUNDS: testpmd"
          testpmd_run "$WORK/$t.pcap" "$mode"
          RESULTS[$t,$mode,testpmd]+="$RATE "
          RESULTS[$t,$mode,pcpu]+="${CPUF:-fail} "
          if [[ "$PROBE" == 1 && -n "${REF[$t]:-}" && "$mode" != transit ]]; then
            log "pipeline $t ($mode) round $r/$ROUNDS: replay probe ($(printf '%.1f' "${REF[$t]}") ns per packet)"
            probe_run "$WORK/$t.pcap" "$mode" "${REF[$t]}"
            RESULTS[$t,$mode,probe]+="$RATE "
            RESULTS[$t,$mode,qcpu]+="${CPUF:-fail} "
          fi
        done
      done
    done
    echo
    echo "(c) Pipeline: net_pcap infinite_rx=1 -> net_null (no-rx), -l 0-1 (1 worker / forwarding" \
      "lcore), interleaved tallyd/testpmd x $ROUNDS, ${DURATION} s of steady state each, medians;" \
      "DPDK memory of both on $MEM_LABEL."
    echo "    inline: tallyd forward_to net_null0 vs testpmd --forward-mode=io; tap: tallyd count" \
      "and free vs testpmd --forward-mode=rxonly."
    echo "    Mpps and ns/pkt per second of the lcore thread's CPU time (wall rate / its CPU share:" \
      "the machine is shared); added = tallyd ns/pkt - testpmd ns/pkt (median of the pairs);" \
      "target: added <= hot-path ns/pkt of the same traffic (this run, CPU time) + 5"
    printf '  %-34s %-6s %8s %9s %8s %9s %9s %8s  %s\n' "trace" "mode" "tallyd" "testpmd" \
      "tallyd" "testpmd" "added" "hot path" "target"
    printf '  %-34s %-6s %8s %9s %8s %9s %9s %8s\n' "" "" "Mpps" "Mpps" "ns/pkt" "ns/pkt" \
      "ns/pkt" "ns/pkt"
    for t in $TRACES; do
      for mode in $MODES; do
        "$PY" - "64 B, ${TRACE_PACKETS[$t]} pkts = subscribers (${DISTINCT[$t]})" "$mode" \
          "${RESULTS[$t,$mode,tallyd]}" "${RESULTS[$t,$mode,testpmd]}" \
          "${RESULTS[$t,$mode,avg]}" "${REF[$t]:-}" "${RESULTS[$t,$mode,tcpu]}" \
          "${RESULTS[$t,$mode,pcpu]}" "${RESULTS[$t,$mode,probe]:-}" \
          "${RESULTS[$t,$mode,qcpu]:-}" <<'EOF'
import statistics, sys
label, mode, a, b, avg = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split(), sys.argv[5].split()
ref = float(sys.argv[6]) if sys.argv[6] else None
ca, cb = sys.argv[7].split(), sys.argv[8].split()
q, cq = sys.argv[9].split(), sys.argv[10].split()
num = lambda x: None if x in ("fail", "") else float(x)
def med(v):
    good = [num(x) for x in v if num(x)]
    return statistics.median(good) if good else None
fmt = lambda x: "%.2f" % (x / 1e6) if x else "fail"
# Per second of the lcore's CPU time: the rate divided by the share of the wall time the thread
# was on a CPU (the hot-path figure is CPU time too).
per_cpu = lambda r, c: num(r) / num(c) if num(r) and num(c) else None
a_cpu = [per_cpu(x, c) for x, c in zip(a, ca)]
b_cpu = [per_cpu(x, c) for x, c in zip(b, cb)]
pairs = [1e9 / x - 1e9 / y for x, y in zip(a_cpu, b_cpu) if x and y]
wall_pairs = [1e9 / num(x) - 1e9 / num(y) for x, y in zip(a, b) if num(x) and num(y)]
added = statistics.median(pairs) if pairs else None
ta = statistics.median([x for x in a_cpu if x]) if any(a_cpu) else None
tb = statistics.median([x for x in b_cpu if x]) if any(b_cpu) else None
verdict = ""
if mode == "transit":
    verdict = "(diagnostic: nothing counted)"
elif added is not None and ref is not None:
    verdict = ("met" if added <= ref + 5 else "MISSED") + " (<= %.1f)" % (ref + 5)
print("  %-34s %-6s %8s %9s %8s %9s %9s %8s  %s" % (
    label, mode, fmt(ta), fmt(tb), "%.1f" % (1e9 / ta) if ta else "-",
    "%.1f" % (1e9 / tb) if tb else "-", "%.1f" % added if added is not None else "-",
    "%.1f" % ref if ref else "-", verdict))
print("  %-34s %-6s wall (Mpps): tallyd %s | testpmd %s | added ns/pkt %s | tallyd/testpmd %s"
      % ("", "", " ".join(fmt(num(x)) for x in a), " ".join(fmt(num(x)) for x in b),
         " ".join("%.1f" % p for p in wall_pairs),
         "%.2f" % (med(a) / med(b)) if med(a) and med(b) else "-"))
print("  %-34s %-6s lcore CPU share: tallyd %s | testpmd %s; tallyd --print-rate (whole run, "
      "learning included): %s Mpps" % ("", "", " ".join(ca), " ".join(cb),
                                        " ".join(fmt(num(x)) for x in avg)))
# The replay probe: receives like both, reads each packet's first line, spins `ref` ns per
# packet and touches no memory of its own. Its added cost is what this replay charges any
# program for the hot path's work; tally's added cost less the probe's is what tally adds
# beyond that (information: the target above is judged on tally's added cost alone).
q_cpu = [per_cpu(x, c) for x, c in zip(q, cq)]
q_pairs = [1e9 / x - 1e9 / y for x, y in zip(q_cpu, b_cpu) if x and y]
if q and ref is not None:
    qa = statistics.median(q_pairs) if q_pairs else None
    print("  %-34s %-6s replay probe (spins %.1f ns/pkt, no memory of its own): added %s ns/pkt "
          "(per round %s); tally's added less the probe's: %s" % (
              "", "", ref, "%.1f" % qa if qa is not None else "fail",
              " ".join("%.1f" % p for p in q_pairs) or "-",
              "%+.1f" % (added - qa) if qa is not None and added is not None else "-"))
EOF
      done
    done
  fi
fi

# ---------------------------------------------------------------------------------------------
# (e) configuration check
# ---------------------------------------------------------------------------------------------
if want config; then
  log "configuration benchmark"
  if ! ninja -C "$BUILD_DIR" bench/config_bench >"$WORK/ninja-config.log" 2>&1; then
    tail -20 "$WORK/ninja-config.log" >&2
    echo "configuration benchmark FAILED (not built: needs -Dbenchmarks=enabled)"
  elif ! TALLY_BENCH_DIR="$WORK" run_limited 300 "$WORK/config.txt" /usr/bin/time -f \
      "max_rss_kb %M" "$BUILD_DIR/bench/config_bench" --benchmark_out="$WORK/config.json" \
      --benchmark_out_format=json; then
    tail -20 "$WORK/config.txt" >&2
    echo "configuration benchmark FAILED"
  else
    "$PY" - "$WORK/config.json" "$WORK/config.txt" <<'EOF3'
import json, re, sys
b = [x for x in json.load(open(sys.argv[1]))["benchmarks"] if x.get("run_type", "iteration") == "iteration"][0]
rss = re.search(r"max_rss_kb (\d+)", open(sys.argv[2]).read())
secs = b["real_time"] / 1000.0
cpu = b["cpu_time"] / 1000.0
peak = b["peak_rss_MB"]
print("(e) Configuration: loadConfigFile of %.1f MB with 300,000 static subscribers (target <= 2 s, <= 200 MB)"
      % b["file_MB"])
print("  %-40s %8.2f s %s (CPU %.2f s; a busy machine stretches the wall time)"
      % ("load time (mean of %d)" % b["iterations"], secs, "met" if secs <= 2 else "MISSED", cpu))
print("  %-40s %8.0f MB %s" % ("peak memory of the load", peak, "met" if peak <= 200 else "MISSED"))
if rss:
    print("  %-40s %8.0f MB (the generated text included)" % ("process peak RSS", int(rss.group(1)) / 1024.0))
EOF3
  fi
fi

# ---------------------------------------------------------------------------------------------
# (f) bill storage
# ---------------------------------------------------------------------------------------------
if want storage; then
  if [[ $QUICK -eq 1 ]]; then JB_SECONDS=3; SFTP_ROUNDS=1; SFTP_MIB=64; else JB_SECONDS=10; SFTP_ROUNDS=3; SFTP_MIB=200; fi
  echo
  echo "(f) Bill storage (target: >= 100 k bills/s committed with p99 commit delay <= 20 ms;" \
    "SFTP >= 0.9 x OpenSSH sftp)"
  for rate in 100000 0; do
    log "journal benchmark (rate ${rate:-max})"
    if run_limited 300 "$WORK/journal-$rate.txt" "$BUILD_DIR/bench/journal_bench" \
        --seconds "$JB_SECONDS" --rate "$rate"; then
      "$PY" - "$WORK/journal-$rate.txt" "$rate" <<'EOF4'
import re, sys
t = open(sys.argv[1]).read()
rate = int(sys.argv[2])
c = re.search(r"([0-9.]+) entries/s committed", t)
d = re.search(r"median ([0-9.]+) ms, p99 ([0-9.]+) ms, max ([0-9.]+) ms", t)
a = re.search(r"longest ([0-9.]+) us, (\d+) over 100 us, (\d+) refused", t)
if not (c and d and a):
    print("  journal: output not understood:\n" + t)
    sys.exit(0)
cps, p50, p99, mx = float(c.group(1)), float(d.group(1)), float(d.group(2)), float(d.group(3))
label = "paced at 100 k/s" if rate else "as fast as possible"
ok = cps >= 0.98 * (rate or 100000) and p99 <= 20
print("  journal, 400 B bills, %-20s %9.0f bills/s committed, delay median %.2f ms p99 %.2f ms"
      " max %.2f ms; longest append %.0f us, %s refused  %s"
      % (label, cps, p50, p99, mx, float(a.group(1)), a.group(3),
         ("target met" if ok else "target MISSED") if rate else ""))
EOF4
    else
      tail -5 "$WORK/journal-$rate.txt" >&2
      echo "  journal benchmark FAILED"
    fi
  done
  if [[ $(id -u) -ne 0 ]]; then
    echo "  SFTP: SKIPPED (needs root for the test sshd's SFTP user)"
  elif ! command -v sshd >/dev/null && [[ ! -x /usr/sbin/sshd ]]; then
    echo "  SFTP: SKIPPED (no sshd; apt-get install openssh-server)"
  else
    log "SFTP benchmark ($SFTP_ROUNDS rounds of $SFTP_MIB MiB)"
    if run_limited 900 "$WORK/sftp.txt" "$PY" "$ROOT/bench/sftp_bench.py" \
        --upload-tool "$BUILD_DIR/tests/upload_tool" --mib "$SFTP_MIB" --rounds "$SFTP_ROUNDS"; then
      sed 's/^/  /' "$WORK/sftp.txt" | tail -1
    else
      tail -5 "$WORK/sftp.txt" >&2
      echo "  SFTP benchmark FAILED"
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
# (g) identities in bulk (docs/performance.md, (b3))
# ---------------------------------------------------------------------------------------------
if want identity; then
  echo
  echo "(g) session identify --bulk, 1 M sessions (target: >= 100 k identities/s; no poll gap" \
    "> 2 x poll_interval_ms = 200 ms)"
  if [[ $QUICK -eq 1 ]]; then ID_LINES=20000; else ID_LINES=100000; fi
  log "identity benchmark ($ID_LINES identities per call)"
  if run_limited 900 "$WORK/identity.txt" env IDENTITY_BENCH_LINES="$ID_LINES" \
      "$BUILD_DIR/bench/identity_bench" --benchmark_out="$WORK/identity.json" \
      --benchmark_out_format=json; then
    "$PY" - "$WORK/identity.json" <<'EOF5'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type", "iteration") != "iteration":
        continue
    rate = b.get("identities_per_s", 0)
    line = "  %-22s %9.0f identities/s" % (b["name"].split("/")[0], rate)
    if "longest_poll_ms" in b:
        ok = rate >= 100000 and b["longest_poll_ms"] <= 200
        line += ", longest poll-to-poll %.1f ms, longest serve() %.1f ms  %s" % (
            b["longest_poll_ms"], b.get("longest_serve_ms", 0),
            "target met" if ok else "target MISSED")
    print(line)
EOF5
  else
    tail -5 "$WORK/identity.txt" >&2
    echo "  identity benchmark FAILED"
  fi
fi

# ---------------------------------------------------------------------------------------------
# (h) RADIUS accounting against FreeRADIUS, next to radclient (docs/performance.md, (h))
# ---------------------------------------------------------------------------------------------
if want radius; then
  echo
  echo "(h) RADIUS accounting, tally RadiusClient vs radclient -p 256, same FreeRADIUS 3.2"\
    "(target: tally >= radclient req/s, every request answered; no poll gap > 2 x"\
    "poll_interval_ms = 200 ms)"
  if [[ $(id -u) -ne 0 ]]; then
    echo "  SKIPPED (needs root for the FreeRADIUS config copy)"
  elif [[ ! -x /usr/sbin/freeradius || ! -x /usr/bin/radclient ]]; then
    echo "  SKIPPED (apt-get install freeradius freeradius-utils)"
  else
    if [[ $QUICK -eq 1 ]]; then RB_ARGS=(--quick); else RB_ARGS=(--rounds 3 --requests 100000); fi
    log "RADIUS benchmark (${RB_ARGS[*]})"
    if run_limited 1800 "$WORK/radius.txt" "$PY" "$ROOT/bench/radius_bench.py" \
        --bench "$BUILD_DIR/bench/radius_bench" --json "$WORK/radius.json" "${RB_ARGS[@]}"; then
      sed -n '/^Summary/,$p' "$WORK/radius.txt" | sed 's/^/  /'
    else
      tail -20 "$WORK/radius.txt" >&2
      sed -n '/^Summary/,$p' "$WORK/radius.txt" | sed 's/^/  /'
      echo "  RADIUS benchmark FAILED (a run failed or the detail file did not match)"
    fi
  fi
fi
