#include "controlplane/cdr/ber.h"

#include <string>

namespace tally::ber {
namespace {

// Appends the identifier octets of `t` to `out`.
template <typename Out>
void appendTag(Out& out, Tag t) {
  uint8_t first = static_cast<uint8_t>(t.cls) | (t.constructed ? 0x20 : 0x00);
  if (t.number < 31) {
    out.push_back(first | static_cast<uint8_t>(t.number));
    return;
  }
  out.push_back(first | 0x1F);
  uint8_t groups[5];
  int n = 0;
  uint32_t v = t.number;
  do {
    groups[n++] = v & 0x7F;
    v >>= 7;
  } while (v != 0);
  while (n > 1) {
    out.push_back(groups[--n] | 0x80);
  }
  out.push_back(groups[0]);
}

// Number of octets of the long-form length (0 for the short form).
int lengthOctets(size_t n) {
  if (n < 128) {
    return 0;
  }
  int k = 0;
  while (n != 0) {
    ++k;
    n >>= 8;
  }
  return k;
}

template <typename Out>
void appendLength(Out& out, size_t n) {
  int k = lengthOctets(n);
  if (k == 0) {
    out.push_back(static_cast<uint8_t>(n));
    return;
  }
  out.push_back(static_cast<uint8_t>(0x80 | k));
  for (int i = k - 1; i >= 0; --i) {
    out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  }
}

// Minimal two's complement of a signed value into buf (big-endian); returns the octet count.
int signedOctets(int64_t value, uint8_t buf[9]) {
  // > X.690 8.3.2: the bits of the first octet and bit 8 of the second octet shall not all be
  // > ones, and shall not all be zero.
  int n = 8;
  for (int i = 0; i < 8; ++i) {
    buf[i] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * (7 - i)));
  }
  int start = 0;
  while (start < 7) {
    bool redundant_zero = buf[start] == 0x00 && (buf[start + 1] & 0x80) == 0;
    bool redundant_ones = buf[start] == 0xFF && (buf[start + 1] & 0x80) != 0;
    if (!redundant_zero && !redundant_ones) {
      break;
    }
    ++start;
  }
  n = 8 - start;
  for (int i = 0; i < n; ++i) {
    buf[i] = buf[start + i];
  }
  return n;
}

int unsignedOctets(uint64_t value, uint8_t buf[9]) {
  uint8_t tmp[8];
  for (int i = 0; i < 8; ++i) {
    tmp[i] = static_cast<uint8_t>(value >> (8 * (7 - i)));
  }
  int start = 0;
  while (start < 7 && tmp[start] == 0) {
    ++start;
  }
  int n = 0;
  if (tmp[start] & 0x80) {
    buf[n++] = 0x00;  // keep the value positive
  }
  for (int i = start; i < 8; ++i) {
    buf[n++] = tmp[i];
  }
  return n;
}

std::string at(size_t offset, const std::string& what) {
  return "offset " + std::to_string(offset) + ": " + what;
}

}  // namespace

std::vector<uint8_t> encodeTag(Tag t) {
  std::vector<uint8_t> v;
  appendTag(v, t);
  return v;
}

std::vector<uint8_t> encodeLength(size_t n) {
  std::vector<uint8_t> v;
  appendLength(v, n);
  return v;
}

std::vector<uint8_t> integerContents(int64_t value) {
  uint8_t buf[9];
  int n = signedOctets(value, buf);
  return std::vector<uint8_t>(buf, buf + n);
}

std::vector<uint8_t> unsignedContents(uint64_t value) {
  uint8_t buf[9];
  int n = unsignedOctets(value, buf);
  return std::vector<uint8_t>(buf, buf + n);
}

void DerWriter::tag(Tag t) { appendTag(out_, t); }

void DerWriter::length(size_t n) { appendLength(out_, n); }

void DerWriter::integer(Tag t, int64_t value) {
  uint8_t buf[9];
  int n = signedOctets(value, buf);
  appendTag(out_, t);
  out_.push_back(static_cast<uint8_t>(n));
  out_.insert(out_.end(), buf, buf + n);
}

void DerWriter::unsignedInteger(Tag t, uint64_t value) {
  uint8_t buf[9];
  int n = unsignedOctets(value, buf);
  appendTag(out_, t);
  out_.push_back(static_cast<uint8_t>(n));
  out_.insert(out_.end(), buf, buf + n);
}

void DerWriter::boolean(Tag t, bool value) {
  appendTag(out_, t);
  out_.push_back(0x01);
  out_.push_back(value ? 0xFF : 0x00);
}

void DerWriter::null(Tag t) {
  appendTag(out_, t);
  out_.push_back(0x00);
}

void DerWriter::octetString(Tag t, std::span<const uint8_t> bytes) {
  appendTag(out_, t);
  appendLength(out_, bytes.size());
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void DerWriter::octetString(Tag t, std::string_view text) {
  octetString(t,
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void DerWriter::namedBitString(Tag t, uint64_t bits) {
  appendTag(out_, t);
  if (bits == 0) {
    // > X.690 8.6.2.3: if the bitstring is empty, there shall be no subsequent octets, and
    // > the initial octet shall be zero.
    out_.push_back(0x01);
    out_.push_back(0x00);
    return;
  }
  int highest = 63;
  while ((bits & (uint64_t{1} << highest)) == 0) {
    --highest;
  }
  int octets = highest / 8 + 1;
  int unused = 7 - highest % 8;
  out_.push_back(static_cast<uint8_t>(octets + 1));
  out_.push_back(static_cast<uint8_t>(unused));
  for (int o = 0; o < octets; ++o) {
    uint8_t b = 0;
    for (int k = 0; k < 8; ++k) {
      int bit = o * 8 + k;
      if (bits & (uint64_t{1} << bit)) {
        b |= static_cast<uint8_t>(0x80 >> k);
      }
    }
    out_.push_back(b);
  }
}

size_t DerWriter::begin(Tag t) {
  t.constructed = true;
  appendTag(out_, t);
  out_.push_back(0x00);  // length placeholder, widened in end() when needed
  return out_.size() - 1;
}

void DerWriter::end(size_t marker) {
  size_t n = out_.size() - marker - 1;
  int k = lengthOctets(n);
  if (k == 0) {
    out_[marker] = static_cast<uint8_t>(n);
    return;
  }
  out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(marker) + 1, static_cast<size_t>(k), 0);
  out_[marker] = static_cast<uint8_t>(0x80 | k);
  for (int i = 0; i < k; ++i) {
    out_[marker + 1 + i] = static_cast<uint8_t>(n >> (8 * (k - 1 - i)));
  }
}

void DerWriter::raw(std::span<const uint8_t> bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

Result<Tlv> BerReader::next() {
  const size_t start = pos_;
  const size_t size = data_.size();
  auto fail = [&](const std::string& what) { return Error{at(base_ + start, what)}; };
  if (pos_ >= size) {
    return fail("no more data");
  }
  Tlv tlv;
  tlv.offset = base_ + start;
  size_t p = pos_;
  uint8_t first = data_[p++];
  tlv.tag.cls = static_cast<TagClass>(first & 0xC0);
  tlv.tag.constructed = (first & 0x20) != 0;
  uint32_t number = first & 0x1F;
  if (number == 0x1F) {
    number = 0;
    int groups = 0;
    while (true) {
      if (p >= size) {
        return fail("truncated tag");
      }
      uint8_t b = data_[p++];
      if (groups == 0 && b == 0x80) {
        return fail("tag number with a leading zero group");
      }
      if (++groups > 4) {
        return fail("tag number too large");
      }
      number = (number << 7) | (b & 0x7F);
      if ((b & 0x80) == 0) {
        break;
      }
    }
  }
  tlv.tag.number = number;
  if (p >= size) {
    return fail("truncated length");
  }
  uint8_t l0 = data_[p++];
  bool indefinite = false;
  size_t len = 0;
  if (l0 < 0x80) {
    len = l0;
  } else if (l0 == 0x80) {
    if (!tlv.tag.constructed) {
      return fail("indefinite length on a primitive value");
    }
    indefinite = true;
  } else {
    int k = l0 & 0x7F;
    if (k > 8 || l0 == 0xFF) {
      return fail("invalid length octet " + toHex(data_.subspan(p - 1, 1)));
    }
    if (size - p < static_cast<size_t>(k)) {
      return fail("truncated length");
    }
    for (int i = 0; i < k; ++i) {
      if (len > (SIZE_MAX >> 8)) {
        return fail("length too large");
      }
      len = (len << 8) | data_[p++];
    }
  }
  tlv.header_length = p - start;
  if (!indefinite) {
    if (len > size - p) {
      return fail("length " + std::to_string(len) + " exceeds the " + std::to_string(size - p) +
                  " octets left");
    }
    tlv.value = data_.subspan(p, len);
    tlv.total_length = tlv.header_length + len;
    pos_ = p + len;
    return tlv;
  }
  // Indefinite length: find the matching end-of-contents (00 00) without recursion.
  size_t q = p;
  int depth = 1;
  while (true) {
    if (size - q < 2) {
      return fail("missing end-of-contents of an indefinite length");
    }
    if (data_[q] == 0x00 && data_[q + 1] == 0x00) {
      q += 2;
      if (--depth == 0) {
        break;
      }
      continue;
    }
    BerReader inner(data_.subspan(q), base_ + q);
    // Read only the header of the inner TLV: an inner indefinite value raises the depth.
    uint8_t id = data_[q];
    size_t h = q + 1;
    if ((id & 0x1F) == 0x1F) {
      int groups = 0;
      while (true) {
        if (h >= size || ++groups > 4) {
          return fail("bad tag inside an indefinite length");
        }
        if ((data_[h++] & 0x80) == 0) {
          break;
        }
      }
    }
    if (h >= size) {
      return fail("truncated length inside an indefinite length");
    }
    uint8_t il = data_[h++];
    if (il == 0x80) {
      if ((id & 0x20) == 0) {
        return fail("indefinite length on a primitive value");
      }
      if (++depth > 64) {
        return fail("indefinite lengths nested too deeply");
      }
      q = h;
      continue;
    }
    auto t = inner.next();
    if (!t) {
      return t.error();
    }
    q += t.value().total_length;
  }
  tlv.value = data_.subspan(p, q - 2 - p);
  tlv.total_length = q - start;
  pos_ = q;
  return tlv;
}

Result<int64_t> decodeInteger(std::span<const uint8_t> value) {
  if (value.empty()) {
    return Error{"empty INTEGER"};
  }
  if (value.size() > 8) {
    return Error{"INTEGER longer than 8 octets"};
  }
  uint64_t v = (value[0] & 0x80) ? ~uint64_t{0} : 0;
  for (uint8_t b : value) {
    v = (v << 8) | b;
  }
  return static_cast<int64_t>(v);
}

Result<uint64_t> decodeUnsigned(std::span<const uint8_t> value) {
  if (value.empty()) {
    return Error{"empty INTEGER"};
  }
  if (value[0] & 0x80) {
    return Error{"negative INTEGER " + toHex(value) + " for an unsigned type"};
  }
  size_t i = 0;
  while (i + 1 < value.size() && value[i] == 0) {
    ++i;
  }
  if (value.size() - i > 8) {
    return Error{"INTEGER larger than 2^64-1"};
  }
  uint64_t v = 0;
  for (; i < value.size(); ++i) {
    v = (v << 8) | value[i];
  }
  return v;
}

Result<bool> decodeBoolean(std::span<const uint8_t> value) {
  if (value.size() != 1) {
    return Error{"BOOLEAN of " + std::to_string(value.size()) + " octets"};
  }
  return value[0] != 0;
}

Result<uint64_t> decodeNamedBits(std::span<const uint8_t> value) {
  if (value.empty()) {
    return Error{"empty BIT STRING"};
  }
  uint8_t unused = value[0];
  if (unused > 7 || (value.size() == 1 && unused != 0)) {
    return Error{"BIT STRING with " + std::to_string(unused) + " unused bits"};
  }
  uint64_t bits = 0;
  size_t nbits = (value.size() - 1) * 8 - unused;
  for (size_t i = 0; i < nbits; ++i) {
    if (value[1 + i / 8] & (0x80 >> (i % 8))) {
      if (i >= 64) {
        return Error{"BIT STRING bit " + std::to_string(i) + " set (only 0..63 are known)"};
      }
      bits |= uint64_t{1} << i;
    }
  }
  return bits;
}

std::string toHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0x0F]);
  }
  return s;
}

}  // namespace tally::ber
