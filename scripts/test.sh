#!/usr/bin/env bash
# Installs, builds and runs every test: unit (GoogleTest), DPDK replay/demo/start-up tests on
# net_pcap/net_null with --no-huge, and the counters race test under ThreadSanitizer.
# Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
BUILD_DIR=${BUILD_DIR:-build}
TSAN_DIR=${TSAN_DIR:-build-tsan}
bash scripts/build.sh || exit 1
if [ ! -f "$TSAN_DIR/build.ninja" ]; then
  meson setup "$TSAN_DIR" -Db_sanitize=thread -Dtsan_only=true -Ddataplane=disabled \
    -Dbenchmarks=disabled --buildtype=debugoptimized || exit 1
fi
ninja -C "$TSAN_DIR" || exit 1

status=0
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 || status=1
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  meson test -C "$TSAN_DIR" --suite tsan --print-errorlogs || status=1

# One summary line over both runs, from meson's machine-readable logs.
/usr/bin/python3 - "$BUILD_DIR" "$TSAN_DIR" <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
