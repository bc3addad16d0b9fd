#!/usr/bin/python3
"""Check tally's local bill records (bill/local_bill.h) with an INDEPENDENT decoder.

  verify_local_bill.py --sample-writer EXE --workdir DIR --asn1-dir tests/asn1
                       --module docs/asn1/TallyLocalBill.asn

The decoder is asn1c 0.9.28's own converter-sample program generated from the module
docs/asn1/TallyLocalBill.asn and the TS 32.298 GenericChargingDataTypes it imports (with the
stubs of tests/asn1), built by tests/asn1/build_decoder.sh (PDU=LocalBillRecord,
CONVERTER_SAMPLE=1: -fwide-types, so 64-bit counts are not cut to a C long). It shares no
code with tally.

Checks (each prints `PASS name` or `FAIL name: reason`; exit status 1 on any FAIL):
  decoder_built        the decoder builds (or is up to date)
  sample_writer        local_bill_sample_writer (tally's encoder + TS 32.297 renderer) runs
  framing              the file's records: every local bill starts E1 ([PRIVATE 1]), the
                       CDRs around them BF 4F; CDR headers LL LL EB 27 06
  asn1c_clean          every local bill: decoded by asn1c (-c: constraints checked, e.g. the
                       IMSI/MSISDN digit alphabet and sizes), nothing left over, asn1c's DER
                       re-encoding identical to tally's octets
  asn1c_values         every field asn1c decoded equals the truth the writer recorded
                       (2^63, 2^64-1, IPv6 prefix, absent OPTIONAL fields, every reason)
  cdr_not_local_bill   a PGW-CDR of the same file is refused as a LocalBillRecord (the tag
                       tells them apart)
  self_check_*         mutated copies (outer tag changed, truncated, a letter in the IMSI,
                       a changed count) must make the named check FAIL: the checks can fail
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.dont_write_bytecode = True

FIELDS = ["billNumber", "acctSessionId", "sessionId", "userName", "imsi", "msisdn",
          "nasIdentifier", "startTime", "stopTime", "sessionTime", "servedAddress",
          "prefixLength", "uplinkOctets", "downlinkOctets", "uplinkPackets",
          "downlinkPackets", "terminateCause", "reason"]
OCTET_FIELDS = {"acctSessionId", "userName", "nasIdentifier"}
INTEGER_FIELDS = {"billNumber", "sessionId", "sessionTime", "prefixLength", "uplinkOctets",
                  "downlinkOctets", "uplinkPackets", "downlinkPackets", "terminateCause"}


class Report:
    def __init__(self):
        self.failed = 0

    def result(self, name, problems, note=""):
        if problems:
            self.failed += 1
            print(f"FAIL {name}: " + "; ".join(problems[:12]), flush=True)
        else:
            print(f"PASS {name}" + (f" ({note})" if note else ""), flush=True)
        return not problems


def build_decoder(asn1_dir, module, work):
    src = work / "asn1src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for name in ("GenericChargingDataTypes.asn", "ExternalImportStubs.asn"):
        shutil.copy(Path(asn1_dir) / name, src / name)
    shutil.copy(module, src / "TallyLocalBill.asn")
    env = dict(os.environ, PDU="LocalBillRecord", PROG_NAME="local-bill-asn1c-decode",
               CONVERTER_SAMPLE="1")
    p = subprocess.run(["bash", str(Path(asn1_dir) / "build_decoder.sh"), str(work / "dec"),
                        str(src)], capture_output=True, text=True, timeout=1800, env=env)
    if p.returncode != 0:
        return None, (p.stdout + p.stderr).strip().splitlines()[-5:]
    return p.stdout.strip().splitlines()[-1], None


def records_of(data):
    """(offset, cdr header, record octets) of a TS 32.297 file."""
    header_length = int.from_bytes(data[4:8], "big")
    pos, out = header_length, []
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 2], "big")
        hdr = 5 if data[pos + 2] >> 5 == 7 else 4
        out.append((pos, data[pos:pos + hdr], data[pos + hdr:pos + hdr + length]))
        pos += hdr + length
    return out


def asn1c(decoder, work, name, rec):
    """(problems, xer text) of one record through asn1c: decode with constraints, DER back."""
    path = work / f"{name}.ber"
    path.write_bytes(rec)
    problems = []
    p = subprocess.run([decoder, "-iber", "-oxer", "-c", "-1", str(path)], capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        return [f"{name}: asn1c: exit {p.returncode}: "
                f"{p.stderr.decode(errors='replace').strip()[-200:]}"], None
    xer = p.stdout.decode()
    d = subprocess.run([decoder, "-iber", "-oder", "-1", str(path)], capture_output=True,
                       timeout=60)
    if d.returncode != 0:
        problems.append(f"{name}: DER re-encoding failed")
    elif d.stdout != rec:
        i = next((k for k in range(min(len(d.stdout), len(rec))) if d.stdout[k] != rec[k]),
                 min(len(d.stdout), len(rec)))
        problems.append(f"{name}: asn1c's DER differs from tally's at octet {i}")
    return problems, xer


def hex_text(s):
    return "".join(s.split()).lower()


def integer_text(s):
    """asn1c's XER of an INTEGER_t: decimal, or for values beyond a C long hex octets."""
    s = s.strip()
    if ":" in s or (s and not s.lstrip("-").isdigit()):
        return str(int(s.replace(":", "").replace(" ", ""), 16))
    return str(int(s))


def stamp_text(hx):
    """TimeStamp octets (hex) -> YYMMDDhhmmss+hhmm."""
    b = bytes.fromhex(hx)
    if len(b) != 9:
        return f"<{len(b)} octets>"
    bcd = lambda o: f"{o >> 4}{o & 15}"
    return "".join(bcd(o) for o in b[:6]) + chr(b[6]) + bcd(b[7]) + bcd(b[8])


def canon(xer):
    """The decoded record as the truth says it."""
    root = ET.fromstring(xer)
    out = {f: None for f in FIELDS}
    for el in root:
        tag = el.tag
        if tag in OCTET_FIELDS:
            out[tag] = hex_text(el.text or "")
        elif tag in INTEGER_FIELDS:
            out[tag] = integer_text(el.text or "")
        elif tag in ("imsi", "msisdn"):
            out[tag] = el.text or ""
        elif tag in ("startTime", "stopTime"):
            out[tag] = stamp_text(hex_text(el.text or ""))
        elif tag == "servedAddress":
            leaf = list(el.iter())[-1]
            raw = bytes.fromhex(hex_text(leaf.text or ""))
            import ipaddress
            if leaf.tag == "iPBinV4Address" and len(raw) == 4:
                out[tag] = str(ipaddress.IPv4Address(raw))
            elif leaf.tag == "iPBinV6Address" and len(raw) == 16:
                out[tag] = str(ipaddress.IPv6Address(raw))
            else:
                out[tag] = f"<{leaf.tag} {raw.hex()}>"
        elif tag == "reason":
            out[tag] = el[0].tag if len(el) else (el.text or "").strip()
        else:
            out.setdefault("unknown", []).append(tag)
    return out


def check_all(decoder, work, locals_, truth, label):
    clean, values = [], []
    for i, rec in enumerate(locals_):
        name = f"{label}_{i + 1}"
        p, xer = asn1c(decoder, work, name, rec)
        clean += p
        if xer is None:
            continue
        try:
            c = canon(xer)
        except ET.ParseError as e:
            clean.append(f"{name}: XER does not parse: {e}")
            continue
        if i >= len(truth):
            values.append(f"{name}: no truth")
            continue
        for f in FIELDS:
            if c.get(f) != truth[i][f]:
                values.append(f"{name}: {f}: asn1c {c.get(f)!r}, truth {truth[i][f]!r}")
        if c.get("unknown"):
            values.append(f"{name}: unknown elements {c['unknown']}")
    return clean, values


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample-writer", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--asn1-dir", required=True)
    ap.add_argument("--module", required=True)
    a = ap.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    rep = Report()
    if shutil.which("asn1c") is None:
        print("SKIP: asn1c not installed (apt-get install asn1c)")
        return 77
    decoder, err = build_decoder(a.asn1_dir, a.module, work)
    if not rep.result("decoder_built", err or []):
        return 1
    p = subprocess.run([a.sample_writer, "--out-dir", str(work)], capture_output=True, text=True)
    if not rep.result("sample_writer", [] if p.returncode == 0 else [p.stderr.strip()[-300:]]):
        return 1
    data = (work / "local-bills.cdr").read_bytes()
    truth = json.loads((work / "local-bills.json").read_text())
    recs = records_of(data)
    framing = []
    locals_ = [r for _, _, r in recs if r[:1] == b"\xe1"]
    cdrs = [r for _, _, r in recs if r[:2] == b"\xbf\x4f"]
    if len(locals_) != len(truth):
        framing.append(f"{len(locals_)} local bills in the file, truth has {len(truth)}")
    if len(cdrs) != 2 or len(locals_) + len(cdrs) != len(recs):
        framing.append(f"records: {len(recs)} in all, {len(cdrs)} CDRs, {len(locals_)} local bills")
    for off, hdr, rec in recs:
        if hdr[2:] != b"\xeb\x27\x06" or int.from_bytes(hdr[:2], "big") != len(rec):
            framing.append(f"offset {off}: CDR header {hdr.hex()}")
    rep.result("framing", framing, f"{len(locals_)} local bills between {len(cdrs)} CDRs")
    clean, values = check_all(decoder, work, locals_, truth, "local")
    rep.result("asn1c_clean", clean, f"{len(locals_)} records")
    rep.result("asn1c_values", values)
    cdr_probs = []
    for i, r in enumerate(cdrs):
        pr, _ = asn1c(decoder, work, f"cdr_{i}", r)
        if not pr:
            cdr_probs.append(f"PGW-CDR {i} decoded as a LocalBillRecord")
    rep.result("cdr_not_local_bill", cdr_probs)

    # Self-checks: each mutation must make the named check fail.
    first = locals_[0]
    imsi_at = first.find(b"\x84\x0f") + 2
    octets_at = first.find(b"\x8c\x03") + 2
    mutations = [
        ("outer_tag", b"\xe2" + first[1:], "clean"),
        ("truncated", first[:-3], "clean"),
        ("imsi_letter", first[:imsi_at] + b"A" + first[imsi_at + 1:], "clean"),
        ("changed_count", first[:octets_at] + bytes([first[octets_at] ^ 1]) + first[octets_at + 1:],
         "values"),
    ]
    for name, rec, which in mutations:
        c, v = check_all(decoder, work, [rec], truth[:1], f"self_{name}")
        failed = c if which == "clean" else v
        rep.result(f"self_check_{name}", [] if failed else [f"asn1c_{which} did not fail"])
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
