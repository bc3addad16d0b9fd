/*
 * cdr-asn1c-decode: an independent reader for TS 32.298 GPRSRecord CDRs, built from the
 * C code that asn1c 0.9.28 generates for the 3GPP ASN.1 modules in this directory
 * (build_decoder.sh does the generating, the two fixes and the compiling).
 *
 *   cdr-asn1c-decode [--file | --raw] [--xer] INPUT
 *
 * INPUT is a TS 32.297 CDR file (file header + N x (CDR header + BER CDR)) or raw
 * concatenated BER records; without --file/--raw the file-length field decides (a TS 32.297
 * file starts with its own size). Output, one JSON object per line:
 *
 *   {"file": {...}}            TS 32.297 files only: header fields and framing errors
 *   {"record": i, ...}         per record: offset, length, CDR header, decode result,
 *                              "der_identical" (asn1c's DER re-encoding equals the input
 *                              octets), "constraints_ok" (asn_check_constraints, with the
 *                              inherit-descriptor fix applied by build_decoder.sh),
 *                              "integers_ok" + "integer_errors" (checks done here, see
 *                              below), "xer" (asn1c's XER of the record, a JSON string)
 *   {"summary": {...}}         records and errors; the exit status is 1 if errors > 0
 *
 * --xer prints the plain XER of each record instead (for people).
 *
 * INTEGER checks (asn1c 0.9.28 does not do them, cdr-format.md section 11 item 2): every
 * INTEGER and ENUMERATED that asn1c decodes goes through check_integer() below, which
 * sees the raw content octets:
 *   - zero-length contents (X.690 8.3.1: one or more octets);
 *   - non-minimal contents (X.690 8.3.2: first 9 bits all 0 or all 1);
 *   - a negative value (top bit of the first content octet set) for a type asn1c decodes
 *     as unsigned (e.g. ChargingID, LocalSequenceNumber: INTEGER (0..4294967295)): asn1c
 *     reads 89ABCDEF as 2309737967 although the encoding means -1985229329;
 *   - a negative value of any other INTEGER: nothing in a GPRSRecord is negative by
 *     meaning (volumes, durations, causes, counters, QCI, ...), so it is reported too;
 *   - an ENUMERATED value that is not in the type's list (asn1c's NativeEnumerated has no
 *     constraint check; none of the enumerations used here has an extension marker).
 * This is done by replacing the BER decoder in asn_DEF_NativeInteger/NativeEnumerated
 * with a wrapper before the first decode: every generated INTEGER/ENUMERATED type copies
 * its decoder from there (the *_inherit_TYPE_descriptor functions), so the wrapper sees
 * every one, with the derived type's descriptor (name, unsigned flag, enum map).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "GPRSRecord.h"
#include "INTEGER.h"
#include "NativeEnumerated.h"
#include "NativeInteger.h"
#include "asn_application.h"
#include "ber_decoder.h"
#include "der_encoder.h"
#include "xer_encoder.h"

/* ---- growable string buffer --------------------------------------------------------- */
typedef struct {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const void *data, size_t len) {
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + len + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      perror("realloc");
      exit(2);
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, len);
  b->n += len;
  b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (k < 0) return;
  if ((size_t)k >= sizeof tmp) k = sizeof tmp - 1;
  sb_put(b, tmp, (size_t)k);
}

static void sb_json_str(sbuf *b, const char *s, size_t len) {
  sb_put(b, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sb_put(b, e, 2);
    } else if (c == '\n') {
      sb_put(b, "\\n", 2);
    } else if (c == '\t') {
      sb_put(b, "\\t", 2);
    } else if (c < 0x20 || c >= 0x7f) {
      sb_printf(b, "\\u%04x", c);
    } else {
      sb_put(b, (const char *)&c, 1);
    }
  }
  sb_put(b, "\"", 1);
}

static int sb_consume(const void *buf, size_t size, void *key) {
  sb_put((sbuf *)key, buf, size);
  return 0;
}

/* ---- INTEGER / ENUMERATED checks ---------------------------------------------------- */
static ber_type_decoder_f *orig_integer_decoder;
static ber_type_decoder_f *orig_enumerated_decoder;
static const uint8_t *record_start; /* for offsets in messages */
static sbuf integer_errors;         /* JSON array body of the current record */
static int integer_error_count;

static void integer_error(const char *type, size_t offset, const uint8_t *c, size_t len,
                          const char *what) {
  char hex[80] = "";
  size_t shown = len < 16 ? len : 16;
  for (size_t i = 0; i < shown; i++) sprintf(hex + 2 * i, "%02x", c[i]);
  if (integer_error_count++) sb_put(&integer_errors, ",", 1);
  char msg[256];
  snprintf(msg, sizeof msg, "%s at offset %zu: %s (contents %s%s)", type, offset, what, hex,
           len > shown ? "..." : "");
  sb_json_str(&integer_errors, msg, strlen(msg));
}

/* The primitive TLV's contents inside buf (which starts at the outermost identifier octet
 * and may hold more than this element); explicit tags and constructed layers are peeled. */
static int primitive_contents(const uint8_t *buf, size_t size, const uint8_t **c, size_t *clen) {
  for (int depth = 0; depth < 8; depth++) {
    ber_tlv_tag_t tag;
    ssize_t tl = ber_fetch_tag(buf, size, &tag);
    if (tl <= 0) return -1;
    ber_tlv_len_t len;
    ssize_t ll = ber_fetch_length(BER_TLV_CONSTRUCTED(buf), buf + tl, size - tl, &len);
    if (ll <= 0) return -1;
    const uint8_t *v = buf + tl + ll;
    size_t rest = size - tl - ll;
    if (BER_TLV_CONSTRUCTED(buf)) {
      buf = v; /* explicit tag: the inner TLV follows (definite or indefinite length) */
      size = (len >= 0 && (size_t)len <= rest) ? (size_t)len : rest;
      continue;
    }
    if (len < 0 || (size_t)len > rest) return -1;
    *c = v;
    *clen = (size_t)len;
    return 0;
  }
  return -1;
}

static void check_integer(asn_TYPE_descriptor_t *td, const void *buf, size_t size, int is_enum) {
  const uint8_t *c;
  size_t len;
  if (primitive_contents(buf, size, &c, &len) != 0) return; /* asn1c reports the failure */
  size_t off = (size_t)((const uint8_t *)buf - record_start);
  const asn_INTEGER_specifics_t *spec = (const asn_INTEGER_specifics_t *)td->specifics;
  if (len == 0) {
    integer_error(td->name, off, c, len, "zero-length INTEGER contents");
    return;
  }
  if (len >= 2 && ((c[0] == 0x00 && !(c[1] & 0x80)) || (c[0] == 0xff && (c[1] & 0x80))))
    integer_error(td->name, off, c, len, "non-minimal INTEGER encoding");
  if (c[0] & 0x80) {
    if (spec && spec->field_unsigned)
      integer_error(td->name, off, c, len,
                    "negative encoding of an unsigned type (missing leading 00?)");
    else
      integer_error(td->name, off, c, len,
                    is_enum ? "negative ENUMERATED value" : "negative value (nothing in a GPRSRecord is negative)");
  }
}

static void check_enum_value(asn_TYPE_descriptor_t *td, void **sptr, const void *buf, size_t size) {
  const asn_INTEGER_specifics_t *spec = (const asn_INTEGER_specifics_t *)td->specifics;
  if (!spec || !spec->value2enum || !sptr || !*sptr) return;
  long v = *(long *)*sptr;
  for (int i = 0; i < spec->map_count; i++)
    if (spec->value2enum[i].nat_value == v) return;
  if (spec->extension) return; /* extensible: unknown values are allowed */
  char what[96];
  snprintf(what, sizeof what, "ENUMERATED value %ld is not defined for the type", v);
  const uint8_t *c = NULL;
  size_t len = 0;
  primitive_contents(buf, size, &c, &len);
  integer_error(td->name, (size_t)((const uint8_t *)buf - record_start), c ? c : (const uint8_t *)"",
                c ? len : 0, what);
}

static asn_dec_rval_t integer_decoder(asn_codec_ctx_t *ctx, asn_TYPE_descriptor_t *td,
                                      void **sptr, const void *buf, size_t size, int tag_mode) {
  asn_dec_rval_t r = orig_integer_decoder(ctx, td, sptr, buf, size, tag_mode);
  if (r.code == RC_OK) check_integer(td, buf, r.consumed, 0);
  return r;
}

static asn_dec_rval_t enumerated_decoder(asn_codec_ctx_t *ctx, asn_TYPE_descriptor_t *td,
                                         void **sptr, const void *buf, size_t size, int tag_mode) {
  asn_dec_rval_t r = orig_enumerated_decoder(ctx, td, sptr, buf, size, tag_mode);
  if (r.code == RC_OK) {
    check_integer(td, buf, r.consumed, 1);
    check_enum_value(td, sptr, buf, r.consumed);
  }
  return r;
}

static void install_integer_checks(void) {
  orig_integer_decoder = asn_DEF_NativeInteger.ber_decoder;
  orig_enumerated_decoder = asn_DEF_NativeEnumerated.ber_decoder;
  asn_DEF_NativeInteger.ber_decoder = integer_decoder;
  asn_DEF_NativeEnumerated.ber_decoder = enumerated_decoder;
}

/* ---- one record --------------------------------------------------------------------- */
static int decode_record(size_t index, const uint8_t *rec, size_t len, size_t offset,
                         const char *cdr_header_json, int xer_only) {
  sbuf out = {0};
  int errors = 0;
  GPRSRecord_t *gr = NULL;
  record_start = rec;
  free(integer_errors.p);
  memset(&integer_errors, 0, sizeof integer_errors);
  sb_put(&integer_errors, "", 0);
  integer_error_count = 0;

  sb_printf(&out, "{\"record\": %zu, \"offset\": %zu, \"length\": %zu", index, offset, len);
  if (cdr_header_json) sb_printf(&out, ", \"cdr_header\": %s", cdr_header_json);

  asn_codec_ctx_t ctx = {0};
  asn_dec_rval_t rv = ber_decode(&ctx, &asn_DEF_GPRSRecord, (void **)&gr, rec, len);
  if (rv.code != RC_OK) {
    sb_printf(&out, ", \"decode\": \"error: %s after %zu octets\"",
              rv.code == RC_WMORE ? "truncated (RC_WMORE)" : "invalid BER / not a GPRSRecord (RC_FAIL)",
              (size_t)rv.consumed);
    errors++;
  } else {
    sb_printf(&out, ", \"decode\": \"ok\", \"consumed\": %zu", (size_t)rv.consumed);
    if (rv.consumed != len) {
      sb_printf(&out, ", \"trailing_octets\": %zu", len - (size_t)rv.consumed);
      errors++;
    }
    const char *alt = "other";
    if (gr->present == GPRSRecord_PR_pGWRecord) alt = "pGWRecord";
    else if (gr->present == GPRSRecord_PR_sGWRecord) alt = "sGWRecord";
    sb_printf(&out, ", \"choice\": \"%s\"", alt);

    /* DER round trip */
    sbuf der = {0};
    asn_enc_rval_t er = der_encode(&asn_DEF_GPRSRecord, gr, sb_consume, &der);
    if (er.encoded < 0) {
      sb_printf(&out, ", \"der_identical\": false, \"der_error\": \"der_encode failed at %s\"",
                er.failed_type ? er.failed_type->name : "?");
      errors++;
    } else {
      int same = (size_t)er.encoded == (size_t)rv.consumed && memcmp(der.p, rec, rv.consumed) == 0;
      sb_printf(&out, ", \"der_identical\": %s, \"der_length\": %zd", same ? "true" : "false", er.encoded);
      if (!same) {
        size_t i = 0;
        while (i < (size_t)er.encoded && i < (size_t)rv.consumed && (uint8_t)der.p[i] == rec[i]) i++;
        sb_printf(&out, ", \"der_first_difference\": %zu", i);
        errors++;
      }
    }
    free(der.p);

    /* constraints */
    char errbuf[512];
    size_t errlen = sizeof errbuf;
    if (asn_check_constraints(&asn_DEF_GPRSRecord, gr, errbuf, &errlen) == 0) {
      sb_printf(&out, ", \"constraints_ok\": true");
    } else {
      sb_printf(&out, ", \"constraints_ok\": false, \"constraint_error\": ");
      sb_json_str(&out, errbuf, strlen(errbuf));
      errors++;
    }

    /* XER */
    sbuf xer = {0};
    asn_enc_rval_t xr = xer_encode(&asn_DEF_GPRSRecord, gr, XER_F_BASIC, sb_consume, &xer);
    if (xr.encoded < 0) {
      sb_printf(&out, ", \"xer_error\": \"xer_encode failed at %s\"",
                xr.failed_type ? xr.failed_type->name : "?");
      errors++;
    } else if (xer_only) {
      printf("<!-- record %zu -->\n%s\n", index, xer.p);
    } else {
      sb_printf(&out, ", \"xer\": ");
      sb_json_str(&out, xer.p, xer.n);
    }
    free(xer.p);
  }
  /* integer checks ran during ber_decode */
  sb_printf(&out, ", \"integers_ok\": %s, \"integer_errors\": [%s]",
            integer_error_count ? "false" : "true", integer_errors.p ? integer_errors.p : "");
  errors += integer_error_count;
  sb_printf(&out, ", \"errors\": %d}", errors);
  if (!xer_only) printf("%s\n", out.p);
  else if (errors) fprintf(stderr, "%s\n", out.p);
  free(out.p);
  if (gr) ASN_STRUCT_FREE(asn_DEF_GPRSRecord, gr);
  return errors;
}

/* ---- input framing ------------------------------------------------------------------ */
static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* Length of the complete TLV at buf (definite lengths), 0 on error. */
static size_t tlv_size(const uint8_t *buf, size_t size) {
  ber_tlv_tag_t tag;
  ssize_t tl = ber_fetch_tag(buf, size, &tag);
  if (tl <= 0) return 0;
  ber_tlv_len_t len;
  ssize_t ll = ber_fetch_length(BER_TLV_CONSTRUCTED(buf), buf + tl, size - tl, &len);
  if (ll <= 0 || len < 0) return 0;
  size_t total = (size_t)tl + (size_t)ll + (size_t)len;
  return total <= size ? total : 0;
}

static int looks_like_ts32297(const uint8_t *d, size_t n) {
  return n >= 50 && be32(d) == n && be32(d + 4) >= 50 && be32(d + 4) <= n;
}

static void usage(void) {
  fprintf(stderr, "usage: cdr-asn1c-decode [--file | --raw] [--xer] INPUT\n");
  exit(2);
}

int main(int argc, char **argv) {
  int mode = 0; /* 0 auto, 1 file, 2 raw */
  int xer_only = 0;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--file")) mode = 1;
    else if (!strcmp(argv[i], "--raw")) mode = 2;
    else if (!strcmp(argv[i], "--xer")) xer_only = 1;
    else if (argv[i][0] == '-' && argv[i][1]) usage();
    else if (!path) path = argv[i];
    else usage();
  }
  if (!path) usage();

  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "cdr-asn1c-decode: %s: %s\n", path, strerror(errno));
    return 2;
  }
  sbuf in = {0};
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) sb_put(&in, chunk, got);
  if (f != stdin) fclose(f);
  const uint8_t *d = (const uint8_t *)in.p;
  size_t n = in.n;

  install_integer_checks();

  size_t records = 0, errors = 0;
  if (mode == 0) mode = looks_like_ts32297(d, n) ? 1 : 2;
  if (mode == 1) {
    sbuf fe = {0}; /* framing errors */
    sb_put(&fe, "", 0);
    int fec = 0;
#define FILE_ERROR(...)                         \
  do {                                          \
    char m_[256];                               \
    snprintf(m_, sizeof m_, __VA_ARGS__);       \
    if (fec++) sb_put(&fe, ",", 1);             \
    sb_json_str(&fe, m_, strlen(m_));           \
  } while (0)
    if (n < 50) {
      printf("{\"file\": {\"errors\": [\"shorter than a TS 32.297 file header (%zu octets)\"]}}\n", n);
      printf("{\"summary\": {\"records\": 0, \"errors\": 1}}\n");
      return 1;
    }
    uint32_t file_len = be32(d), hdr_len = be32(d + 4), count = be32(d + 18);
    if (file_len != n) FILE_ERROR("file length field %u != file size %zu", file_len, n);
    if (hdr_len < 50 || hdr_len > n) FILE_ERROR("header length %u out of range", hdr_len);
    /* variable part: routeing filter (N), private extension (M), release extensions */
    uint16_t filter_len = be16(d + 48);
    size_t pos = 50 + filter_len;
    long ext_len = -1;
    if (pos + 2 <= hdr_len) {
      ext_len = be16(d + pos);
      pos += 2 + (size_t)ext_len;
    }
    int hi_rel = d[8] >> 5, lo_rel = d[9] >> 5;
    int hi_rel_ext = -1, lo_rel_ext = -1;
    if (hi_rel == 7 && pos < hdr_len) hi_rel_ext = d[pos++];
    if (lo_rel == 7 && pos < hdr_len) lo_rel_ext = d[pos++];
    if (pos != hdr_len)
      FILE_ERROR("header length %u but the header fields end at %zu", hdr_len, pos);

    size_t off = hdr_len < n ? hdr_len : n;
    sbuf out = {0};
    while (off < n) {
      if (off + 4 > n) {
        FILE_ERROR("truncated CDR header at offset %zu", off);
        break;
      }
      uint16_t cl = be16(d + off);
      uint8_t rv = d[off + 2], ft = d[off + 3];
      size_t h = 4;
      int rel_ext = -1;
      if ((rv >> 5) == 7) {
        if (off + 5 > n) {
          FILE_ERROR("truncated CDR header at offset %zu", off);
          break;
        }
        rel_ext = d[off + 4];
        h = 5;
      }
      if (off + h + cl > n) {
        FILE_ERROR("CDR %zu at offset %zu: length %u runs past the end of the file", records, off, cl);
        break;
      }
      char hj[256];
      snprintf(hj, sizeof hj,
               "{\"offset\": %zu, \"cdr_length\": %u, \"release_id\": %d, \"version_id\": %d, "
               "\"release_ext\": %d, \"format\": %d, \"ts_number\": %d}",
               off, cl, rv >> 5, rv & 0x1f, rel_ext, ft >> 5, ft & 0x1f);
      out.n = 0;
      errors += decode_record(records, d + off + h, cl, off + h, hj, xer_only);
      records++;
      off += h + cl;
    }
    free(out.p);
    if (count != records) FILE_ERROR("header says %u CDRs, file holds %zu", count, records);
    if (!xer_only)
      printf("{\"file\": {\"file_length\": %u, \"header_length\": %u, \"high_release_version\": %u, "
             "\"low_release_version\": %u, \"high_release_ext\": %d, \"low_release_ext\": %d, "
             "\"open_timestamp\": \"%08x\", \"append_timestamp\": \"%08x\", \"cdr_count\": %u, "
             "\"file_sequence_number\": %u, \"closure_reason\": %u, \"node_address\": \"",
             file_len, hdr_len, d[8], d[9], hi_rel_ext, lo_rel_ext, be32(d + 10), be32(d + 14),
             count, be32(d + 22), d[26]);
    if (!xer_only) {
      for (int i = 0; i < 20; i++) printf("%02x", d[27 + i]);
      printf("\", \"lost_cdr_indicator\": %u, \"routeing_filter_length\": %u, \"private_extension_length\": %ld, "
             "\"errors\": [%s]}}\n",
             d[47], filter_len, ext_len, fe.p);
    }
    errors += (size_t)fec;
    free(fe.p);
  } else {
    size_t off = 0;
    while (off < n) {
      size_t t = tlv_size(d + off, n - off);
      if (!t) {
        if (!xer_only)
          printf("{\"framing_error\": \"no complete BER TLV at offset %zu\"}\n", off);
        errors++;
        break;
      }
      errors += decode_record(records, d + off, t, off, NULL, xer_only);
      records++;
      off += t;
    }
  }
  if (!xer_only) printf("{\"summary\": {\"records\": %zu, \"errors\": %zu}}\n", records, errors);
  free(in.p);
  return errors ? 1 : 0;
}
