#pragma once
// The bill-server password at rest: the configuration holds `cipher: "v1:..."`, not the
// password. The cipher is libsodium's crypto_secretbox (XSalsa20-Poly1305) under a 32-octet
// key kept in a file of its own (default /etc/tally/bill-server.key, 0600, root): a copy of
// the configuration alone does not give the password away, and a changed or truncated token
// is refused (authenticated encryption).
//
// Token: "v1:" + base64 (RFC 4648, with padding) of nonce (24 random octets) || ciphertext.
//
// Key file rules: a regular file (not followed through a symbolic link) of exactly 32 octets,
// with no permission for group or others (mode & 077 == 0); anything else is refused with an
// error naming the file. encryptPassword(..., create_key = true) creates a missing key file
// with 32 random octets, mode 0600, and missing parent directories 0700.
//
// Errors name the file and the reason; they never contain the plaintext (nor the key).
// Blocking file I/O: control-plane thread (start-up) or the CLI.
#include <string>

#include "shared/result.h"

namespace tally::bill {

constexpr const char* kDefaultPasswordKeyFile = "/etc/tally/bill-server.key";

Result<std::string> encryptPassword(const std::string& key_file, const std::string& plaintext,
                                    bool create_key);
Result<std::string> decryptPassword(const std::string& key_file, const std::string& cipher);

}  // namespace tally::bill
