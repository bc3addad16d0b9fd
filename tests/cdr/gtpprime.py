#!/usr/bin/python3
"""Wrap BER-encoded CDRs into GTP' Data Record Transfer Requests (TS 32.295) in a pcap.

tshark's `gprscdr` dissector is only reached through GTP' (UDP port 3386): the GTP'
dissector hands each data record of a "Data Record Packet" IE to gprscdr when the data
record format is 1 (ASN.1 BER) and the release identifier of the data record format
version is > 6 (then it decodes `GPRSRecord`, otherwise the old `GPRSCallEventRecord`).

Packet layout written here (all integers big-endian):

  GTP' header, 6 octets (TS 32.295 6.1.1):
    octet 1  version 2 (bits 8-6) | PT 0 = GTP' (bit 5) | spare 111 (bits 4-2) |
             header type 0 = 6-octet header (bit 1)                   -> 0x4E
    octet 2  message type 240 = Data Record Transfer Request
    3-4      length of the message after the header
    5-6      sequence number
  Packet Transfer Command IE, TV (type 126): 1 = Send Data Record Packet
  Data Record Packet IE, TLV (type 252, 2-octet length):
    number of data records (1 octet)
    data record format (1 octet): 1 = ASN.1 BER
    data record format version:
      octet 1  application identifier (bits 8-5) | release identifier (bits 4-1)
      octet 2  version identifier = second digit of the TS 32.298 version + 1
      octet 3  release identifier extension (only when the release identifier is 0:
               releases above 15; Rel-16 -> release id 0, extension 16)
    per record: 2-octet length, then the BER record

Library use: records_to_pcap(records, path, per_packet=1). Command line:
  gtpprime.py INPUT --out PCAP [--per-packet N] [--release 16] [--version 11]
INPUT is a TS 32.297 CDR file (detected by its file-length field) or raw concatenated
BER records.
"""

import argparse
import struct
import sys

GTPP_PORT = 3386
MSG_DATA_RECORD_TRANSFER_REQUEST = 240
IE_PACKET_TRANSFER_COMMAND = 126
CMD_SEND_DATA_RECORD_PACKET = 1
IE_DATA_RECORD_PACKET = 252
FORMAT_BER = 1
APPLICATION_ID = 1


def format_version(release: int, version: int) -> bytes:
    """Data Record Format Version octets for a TS 32.298 release / middle version digit."""
    if release > 15:
        return bytes([(APPLICATION_ID << 4) | 0, version + 1, release])
    return bytes([(APPLICATION_ID << 4) | release, version + 1])


def data_record_transfer_request(records, seq: int, release: int = 16, version: int = 11) -> bytes:
    """One GTP' Data Record Transfer Request carrying `records` (list of BER bytes)."""
    if not 1 <= len(records) <= 255:
        raise ValueError("1..255 records per packet")
    body = bytes([len(records), FORMAT_BER]) + format_version(release, version)
    for r in records:
        if len(r) > 0xFFFF:
            raise ValueError("record longer than 65535 octets")
        body += struct.pack(">H", len(r)) + bytes(r)
    if len(body) > 0xFFFF:
        raise ValueError("Data Record Packet IE too long; use fewer records per packet")
    ies = bytes([IE_PACKET_TRANSFER_COMMAND, CMD_SEND_DATA_RECORD_PACKET])
    ies += bytes([IE_DATA_RECORD_PACKET]) + struct.pack(">H", len(body)) + body
    header = bytes([0x4E, MSG_DATA_RECORD_TRANSFER_REQUEST]) + struct.pack(">HH", len(ies), seq & 0xFFFF)
    return header + ies


def records_to_pcap(records, path, per_packet: int = 1, release: int = 16, version: int = 11,
                    src="192.0.2.10", dst="192.0.2.20"):
    """Write a pcap with the records wrapped in GTP' packets; returns the packet count."""
    # scapy is imported lazily so that the framing helpers work without it.
    from scapy.all import Ether, IP, UDP, Raw, wrpcap  # noqa: E402
    packets = []
    seq = 0
    for i in range(0, len(records), per_packet):
        payload = data_record_transfer_request(records[i:i + per_packet], seq, release, version)
        p = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) /
             UDP(sport=GTPP_PORT, dport=GTPP_PORT) / Raw(payload))
        p.time = 1700000000 + seq
        packets.append(p)
        seq += 1
    wrpcap(str(path), packets)
    return len(packets)


# ---- reading the input -------------------------------------------------------------------

def _ber_tlv_length(buf: bytes, pos: int):
    """Length of the complete TLV at pos (definite lengths only)."""
    start = pos
    if pos >= len(buf):
        raise ValueError("truncated TLV")
    first = buf[pos]
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(buf):
                raise ValueError("truncated tag")
            b = buf[pos]
            pos += 1
            if not b & 0x80:
                break
    if pos >= len(buf):
        raise ValueError("truncated length")
    lb = buf[pos]
    pos += 1
    if lb == 0x80:
        raise ValueError("indefinite length not supported here")
    if lb & 0x80:
        n = lb & 0x7F
        if pos + n > len(buf):
            raise ValueError("truncated length")
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    else:
        length = lb
    if pos + length > len(buf):
        raise ValueError("truncated value")
    return pos + length - start


def split_raw_ber(data: bytes):
    records, pos = [], 0
    while pos < len(data):
        n = _ber_tlv_length(data, pos)
        records.append(data[pos:pos + n])
        pos += n
    return records


def is_ts32297_file(data: bytes) -> bool:
    if len(data) < 50:
        return False
    file_len, hdr_len = struct.unpack(">II", data[:8])
    return file_len == len(data) and 50 <= hdr_len <= len(data)


def parse_ts32297(data: bytes):
    """(header dict, [(cdr header dict, BER bytes)]) of a TS 32.297 CDR file."""
    file_len, hdr_len = struct.unpack(">II", data[:8])
    hdr = {
        "file_length": file_len,
        "header_length": hdr_len,
        "high_release_version": data[8],
        "low_release_version": data[9],
        "open_ts": data[10:14].hex(),
        "append_ts": data[14:18].hex(),
        "cdr_count": struct.unpack(">I", data[18:22])[0],
        "file_sequence_number": struct.unpack(">I", data[22:26])[0],
        "closure_reason": data[26],
        "node_address": data[27:47].hex(),
        "lost_cdr_indicator": data[47],
    }
    out, pos = [], hdr_len
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError(f"truncated CDR header at {pos}")
        length = struct.unpack(">H", data[pos:pos + 2])[0]
        rv, ft = data[pos + 2], data[pos + 3]
        ch = {"length": length, "release_id": rv >> 5, "version_id": rv & 0x1F,
              "format": ft >> 5, "ts_number": ft & 0x1F}
        pos += 4
        if ch["release_id"] == 7:
            ch["release_ext"] = data[pos]
            pos += 1
        if pos + length > len(data):
            raise ValueError(f"truncated CDR at {pos}")
        out.append((ch, data[pos:pos + length]))
        pos += length
    return hdr, out


def load_records(data: bytes):
    if is_ts32297_file(data):
        return [r for _, r in parse_ts32297(data)[1]]
    return split_raw_ber(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-packet", type=int, default=1)
    ap.add_argument("--release", type=int, default=16)
    ap.add_argument("--version", type=int, default=11)
    a = ap.parse_args()
    with open(a.input, "rb") as f:
        records = load_records(f.read())
    n = records_to_pcap(records, a.out, a.per_packet, a.release, a.version)
    print(f"{len(records)} records in {n} packets -> {a.out}")


if __name__ == "__main__":
    sys.exit(main())
