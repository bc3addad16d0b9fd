#!/usr/bin/env bash
# The newcomer's first command: installs what is needed, builds, and replays the bundled demo
# capture (tests/data/demo.pcap) through net_pcap -> tallyd -> net_null, then prints the usage
# per subscriber. Output files: out/demo/usage.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh tallyd tallyctl
mkdir -p out/demo
echo "== tallyd: replaying tests/data/demo.pcap (config/demo.yaml) =="
./build/tallyd --config config/demo.yaml --exit-when-idle 500 \
  --usage-report out/demo/usage.jsonl 2> out/demo/tallyd.log || {
  rc=$?; cat out/demo/tallyd.log >&2; exit $rc; }
echo
echo "Per-flow usage (JSON Lines): out/demo/usage.jsonl; daemon log: out/demo/tallyd.log"
