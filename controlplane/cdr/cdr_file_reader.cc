#include "controlplane/cdr/cdr_file_reader.h"

#include "controlplane/storage/durable_file.h"

namespace tally::cdr {
namespace {

using Bytes = std::span<const uint8_t>;

uint32_t get32(Bytes b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
}

uint16_t get16(Bytes b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }

// Release from a release id (and its extension when the id is 7).
uint8_t releaseFromId(uint8_t id, uint8_t ext) {
  if (id == 0) {
    return 99;
  }
  if (id < 7) {
    return static_cast<uint8_t>(id + 3);
  }
  return static_cast<uint8_t>(10 + ext);
}

// Orders releases (Rel-99 below Rel-4) and versions.
int rvRank(uint8_t release, uint8_t version) {
  int rel = release == 99 ? 3 : release;
  return rel * 32 + version;
}

}  // namespace

std::string releaseVersionText(uint8_t release, uint8_t version) {
  return (release == 99 ? std::string("Rel-99") : "Rel-" + std::to_string(release)) + " v" +
         std::to_string(version);
}

Result<CdrFileContents> parseCdrFile(Bytes b, const std::string& name) {
  auto fail = [&](const std::string& what) { return Error{name + ": " + what}; };
  constexpr size_t kFixed = 50;  // up to and including the routeing filter length
  if (b.size() < kFixed) {
    return fail("truncated: " + std::to_string(b.size()) +
                " octets, a TS 32.297 file header needs at least " + std::to_string(kFixed));
  }
  CdrFileContents out;
  out.name = name;
  CdrFileHeader& h = out.header;
  h.file_length = get32(b, 0);
  h.header_length = get32(b, 4);
  if (h.file_length > b.size()) {
    return fail("truncated: the file header says " + std::to_string(h.file_length) +
                " octets, the file has " + std::to_string(b.size()));
  }
  if (h.file_length < b.size()) {
    return fail(std::to_string(b.size() - h.file_length) + " octets after the " +
                std::to_string(h.file_length) + " octets the file header announces");
  }
  if (h.header_length < kFixed + 2 || h.header_length > b.size()) {
    return fail("header length " + std::to_string(h.header_length) + " out of range (" +
                std::to_string(kFixed + 2) + ".." + std::to_string(b.size()) + ")");
  }
  const uint8_t high_id = b[8] >> 5;
  const uint8_t low_id = b[9] >> 5;
  h.high_version = b[8] & 0x1F;
  h.low_version = b[9] & 0x1F;
  h.opening = unpackHeaderTimestamp(get32(b, 10));
  h.last_append = unpackHeaderTimestamp(get32(b, 14));
  h.cdr_count = get32(b, 18);
  h.file_sequence_number = get32(b, 22);
  h.closure_reason = b[26];
  for (size_t i = 0; i < 20; ++i) {
    h.node_address[i] = b[27 + i];
  }
  h.lost_cdr_indicator = b[47];
  const size_t filter_len = get16(b, 48);
  size_t pos = kFixed;
  const size_t ext_count = (high_id == 7 ? 1 : 0) + (low_id == 7 ? 1 : 0);
  if (pos + filter_len + ext_count > h.header_length) {
    return fail("CDR routeing filter length " + std::to_string(filter_len) +
                " runs past the header length " + std::to_string(h.header_length));
  }
  h.routeing_filter.assign(b.begin() + static_cast<std::ptrdiff_t>(pos),
                           b.begin() + static_cast<std::ptrdiff_t>(pos + filter_len));
  pos += filter_len;
  const size_t rest = h.header_length - ext_count - pos;
  if (rest == 1) {
    return fail("header length " + std::to_string(h.header_length) +
                " leaves 1 octet for the private extension length");
  }
  if (rest >= 2) {
    // > Length of private extension (M): free5gc and SigScale always write it (0 when empty);
    // > the Open5GS writer omits it when there is no extension. Both are accepted.
    size_t m = get16(b, pos);
    if (m != rest - 2) {
      return fail("private extension length " + std::to_string(m) +
                  " does not match the header length " + std::to_string(h.header_length) +
                  " (expected " + std::to_string(rest - 2) + ")");
    }
    pos += 2;
    h.private_extension.assign(b.begin() + static_cast<std::ptrdiff_t>(pos),
                               b.begin() + static_cast<std::ptrdiff_t>(pos + m));
    pos += m;
  }
  uint8_t high_ext = 0;
  uint8_t low_ext = 0;
  if (high_id == 7) {
    high_ext = b[pos++];
  }
  if (low_id == 7) {
    low_ext = b[pos++];
  }
  h.high_release = releaseFromId(high_id, high_ext);
  h.low_release = releaseFromId(low_id, low_ext);
  if (high_id == 7 && high_ext > 31) {
    return fail("high release identifier extension " + std::to_string(high_ext) + " out of range");
  }
  if (low_id == 7 && low_ext > 31) {
    return fail("low release identifier extension " + std::to_string(low_ext) + " out of range");
  }
  if (rvRank(h.high_release, h.high_version) < rvRank(h.low_release, h.low_version)) {
    return fail("high release/version " + releaseVersionText(h.high_release, h.high_version) +
                " is below the low release/version " + releaseVersionText(h.low_release, h.low_version));
  }
  // Records.
  size_t index = 0;
  while (pos < b.size()) {
    ++index;
    const std::string where =
        "record " + std::to_string(index) + " at offset " + std::to_string(pos) + ": ";
    if (b.size() - pos < 4) {
      return fail(where + "truncated CDR header (" + std::to_string(b.size() - pos) +
                  " octets left)");
    }
    CdrFileRecord rec;
    rec.offset = pos;
    rec.length = get16(b, pos);
    const uint8_t id = b[pos + 2] >> 5;
    rec.version = b[pos + 2] & 0x1F;
    rec.data_record_format = b[pos + 3] >> 5;
    rec.ts_number = b[pos + 3] & 0x1F;
    size_t hdr = 4;
    uint8_t ext = 0;
    if (id == 7) {
      if (b.size() - pos < 5) {
        return fail(where + "truncated CDR header (no release identifier extension)");
      }
      ext = b[pos + 4];
      hdr = 5;
    }
    rec.release = releaseFromId(id, ext);
    if (rec.length == 0) {
      return fail(where + "CDR length 0");
    }
    if (rec.length > b.size() - pos - hdr) {
      return fail(where + "CDR length " + std::to_string(rec.length) + " exceeds the " +
                  std::to_string(b.size() - pos - hdr) + " octets left in the file");
    }
    if (rec.data_record_format < 1 || rec.data_record_format > 4) {
      return fail(where + "data record format " + std::to_string(rec.data_record_format) +
                  " unknown (1 BER, 2 unaligned PER, 3 aligned PER, 4 XER)");
    }
    const int rank = rvRank(rec.release, rec.version);
    if (rank < rvRank(h.low_release, h.low_version) ||
        rank > rvRank(h.high_release, h.high_version)) {
      return fail(where + "release/version " + releaseVersionText(rec.release, rec.version) +
                  " outside the file header's range " + releaseVersionText(h.low_release, h.low_version) +
                  " .. " + releaseVersionText(h.high_release, h.high_version));
    }
    rec.data.assign(b.begin() + static_cast<std::ptrdiff_t>(pos + hdr),
                    b.begin() + static_cast<std::ptrdiff_t>(pos + hdr + rec.length));
    pos += hdr + rec.length;
    out.records.push_back(std::move(rec));
  }
  if (out.records.size() != h.cdr_count) {
    return fail("the file header says " + std::to_string(h.cdr_count) + " CDRs, the file holds " +
                std::to_string(out.records.size()));
  }
  return out;
}

Result<CdrFileContents> readCdrFile(const std::string& path) {
  auto data = readFileWhole(path, kMaxCdrFileSize);
  if (!data) {
    return data.error();
  }
  const std::string& d = data.value();
  return parseCdrFile(Bytes(reinterpret_cast<const uint8_t*>(d.data()), d.size()), path);
}

}  // namespace tally::cdr
