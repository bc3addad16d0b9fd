#!/bin/bash
# The demo works as documented: tallyd on config/demo.yaml (from the repository root, where
# the relative pcap path in its EAL arguments resolves) bills tests/data/demo.pcap, exits 0,
# writes a usage report with flow lines and a totals line whose conservation is ok, and prints
# a per-subscriber summary table on stdout.
#
#   demo_test.sh TALLYD TALLYCTL WORKDIR
set -u

if [ $# -ne 3 ]; then
  echo "usage: $0 TALLYD TALLYCTL WORKDIR" >&2
  exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
TALLYD=$(abspath "$1")
TALLYCTL=$(abspath "$2")   # accepted for symmetry with the other DPDK tests; not used here
WORKDIR=$(abspath "$3")
: "$TALLYCTL"

cd "$(dirname "$0")/../.." || exit 2
if [ -d "$WORKDIR" ] && [ -n "$(ls -A "$WORKDIR")" ]; then
  if [ ! -e "$WORKDIR/.demo_test_workdir" ]; then
    echo "refusing to empty $WORKDIR: not a work directory of this test" >&2
    exit 2
  fi
  rm -rf "$WORKDIR"
fi
mkdir -p "$WORKDIR" || exit 2
touch "$WORKDIR/.demo_test_workdir"
REPORT="$WORKDIR/usage.jsonl"
failures=0
fail() { echo "FAIL demo: $*"; failures=$((failures + 1)); }

# The demo config as it is, except that CDR files and state files go to this test's work
# directory (not out/demo/ of the checkout, never /var/lib/tally).
CONFIG="$WORKDIR/demo.yaml"
sed -e "s|path: out/demo/cdr |path: $WORKDIR/cdr |" \
    -e "s|state_dir: out/demo/state |state_dir: $WORKDIR/state |" config/demo.yaml >"$CONFIG"
if ! grep -q "path: $WORKDIR/cdr " "$CONFIG" || ! grep -q "state_dir: $WORKDIR/state " "$CONFIG"; then
  echo "FAIL demo: config/demo.yaml no longer names out/demo/cdr and out/demo/state" >&2
  exit 1
fi

# The demo config names its own --file-prefix (tally-demo) and control socket; the test must
# not run twice at once (meson: is_parallel false).
timeout 120 "$TALLYD" --config "$CONFIG" --exit-when-idle 500 --usage-report "$REPORT" \
  >"$WORKDIR/stdout.txt" 2>"$WORKDIR/stderr.txt"
rc=$?
if [ $rc -eq 124 ]; then
  fail "tallyd did not exit within 120 s (stderr tail: $(tail -n 3 "$WORKDIR/stderr.txt" | tr '\n' '|'))"
elif [ $rc -ne 0 ]; then
  fail "tallyd exited $rc (stderr tail: $(tail -n 5 "$WORKDIR/stderr.txt" | tr '\n' '|'))"
fi

if [ ! -s "$REPORT" ]; then
  fail "no usage report at $REPORT"
else
  # Flow lines, then exactly one totals line (last) with conservation ok and every frame received.
  frames=$(/usr/bin/python3 -c 'from scapy.utils import RawPcapReader; import sys
print(sum(1 for _ in RawPcapReader(sys.argv[1])))' tests/data/demo.pcap 2>/dev/null)
  problem=$(/usr/bin/python3 - "$REPORT" "${frames:-0}" <<'EOF'
import json, sys
path, frames = sys.argv[1], int(sys.argv[2])
lines = [l for l in open(path).read().splitlines() if l.strip()]
objs = [json.loads(l) for l in lines]
flows = [o for o in objs if o.get("type") == "flow"]
totals = [i for i, o in enumerate(objs) if o.get("type") == "totals"]
if not flows:
    print("the report has no flow lines"); sys.exit()
if len(totals) != 1 or totals[0] != len(objs) - 1:
    print("the report must end with exactly one totals line"); sys.exit()
t = objs[-1]
if t.get("conservation") != "ok":
    print("conservation is %r" % t.get("conservation")); sys.exit()
if t.get("counted_octets") != t.get("attributed_octets", 0) + t.get("unattributed_octets", 0):
    print("counted_octets != attributed + unattributed"); sys.exit()
if frames and t.get("rx_packets") != frames:
    print("rx_packets %s, demo.pcap has %d frames" % (t.get("rx_packets"), frames)); sys.exit()
subs = {f["subscriber"] for f in flows}
if "10.0.0.1" not in subs:
    print("no flow for the static subscriber 10.0.0.1"); sys.exit()
if not any(":" in s for s in subs):
    print("no IPv6 subscriber in the report"); sys.exit()
EOF
)
  [ -n "$problem" ] && fail "$problem"
fi

if ! grep -q "SUBSCRIBER" "$WORKDIR/stdout.txt"; then
  fail "stdout has no summary table (no header line containing SUBSCRIBER)"
elif ! grep -q "^10\.0\.0\.1 " "$WORKDIR/stdout.txt"; then
  fail "the summary table has no row for 10.0.0.1"
fi

if [ $failures -eq 0 ]; then
  echo "PASS demo: $(grep -c '"type": *"flow"' "$REPORT") flows, conservation ok, summary printed"
  exit 0
fi
echo "(output in $WORKDIR)"
exit 1
