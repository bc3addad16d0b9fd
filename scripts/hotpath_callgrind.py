#!/usr/bin/env python3
"""Instructions per packet of the hot path, per stage, from callgrind (deterministic).

Usage: scripts/hotpath_callgrind.py BUILD_DIR/bench/hotpath_bench [FILTER ...]
  FILTER: a benchmark name (default: the 1 K-subscriber IPv4, GTP-U, GTP-U + extension
  header and IPv6 rows: everything in cache, the compute cost).

Only the timed loop is collected (callgrind --toggle-collect on runHotPath: the fixture's
warm-up, which learns every flow, is left out); packets = 32 x the stageBurst calls made from
it. Printed per row: the whole loop (harness rewrite included), stageBurst and its three
stages, publish, and what the parse stage calls out of line (parseGtpu for the frames that
leave the fast lanes).
"""
import os
import re
import subprocess
import sys
import tempfile

DEFAULT = ["hotpath_ipv4/subscribers:1000", "hotpath_gtpu/subscribers:1000",
           "hotpath_gtpu_ext/subscribers:1000", "hotpath_ipv6/subscribers:1000"]
LOOP = "(anonymous namespace)::runHotPath(benchmark::State&, (anonymous namespace)::Fixture&)"


def parse_tree(text):
    """callgrind_annotate --tree=calling: {function: {"incl": n, "calls": {callee: (ir, calls)}}},
    merged over the files a function's lines come from (inlined code)."""
    blocks, cur = {}, None
    head = re.compile(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\*\s+\S*?:(.*?)(?: \[[^\]]*\])?$")
    call = re.compile(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+>\s+\S*?:(.*?) \(([\d,]+)x\)")
    num = lambda s: int(s.replace(",", ""))
    for line in text.splitlines():
        m = head.match(line)
        if m:
            cur = blocks.setdefault(m.group(2), {"incl": 0, "calls": {}})
            cur["incl"] = max(cur["incl"], num(m.group(1)))
            continue
        m = call.match(line)
        if m and cur is not None:
            ir, n = cur["calls"].get(m.group(2), (0, 0))
            cur["calls"][m.group(2)] = (ir + num(m.group(1)), n + num(m.group(3)))
    return blocks


def short(name):
    return re.sub(r"\(.*", "", name).replace("tally::FastPath::", "").replace("tally::", "")


def row(binary, name, outdir):
    out = os.path.join(outdir, re.sub(r"[^A-Za-z0-9]", "_", name) + ".callgrind")
    subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=" + LOOP,
                    "--callgrind-out-file=" + out, binary,
                    "--benchmark_filter=^" + name + "$", "--benchmark_min_time=0.05"],
                   check=True, capture_output=True)
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=calling",
                           "--threshold=100", out], check=True, capture_output=True,
                          text=True).stdout
    blocks = parse_tree(text)
    loop = next(v for k, v in blocks.items() if k.startswith("(anonymous namespace)::runHotPath"))
    stage = [c for n, c in loop["calls"].items() if short(n) == "stageBurst"][0]
    packets = stage[1] * 32
    res = {"loop": loop["incl"] / packets, "stageBurst": stage[0] / packets}
    for n, c in loop["calls"].items():
        if short(n) == "publish":
            res["publish"] = c[0] / packets
    sb = next(v for k, v in blocks.items() if short(k) == "stageBurst")
    for n, c in sb["calls"].items():
        res[short(n)] = res.get(short(n), 0) + c[0] / packets
    ps = next((v for k, v in blocks.items() if short(k) == "parseStage"), {"calls": {}})
    for n, c in ps["calls"].items():
        res["parseStage>" + short(n).split("<")[0].replace("parser_detail::", "")] = c[0] / packets
    return packets, res


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary, names = sys.argv[1], sys.argv[2:] or DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            packets, res = row(binary, name, tmp)
            print("%-36s %8d packets  " % (name, packets) +
                  "  ".join("%s %.1f" % (k, v) for k, v in res.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
