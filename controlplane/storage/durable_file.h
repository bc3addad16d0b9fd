#pragma once
// Durable files: the one place where tally writes a file so that it survives a crash or a power
// cut, and reads a file whole. Used by every writer of the control plane (CDR files through
// FlashBillStore, the sequence state file, the usage report).
//
// A durable write makes the new contents visible whole or not at all: dir/name.tmp is written,
// fsync'd, renamed to dir/name, and the directory is fsync'd so that the rename itself survives.
// On failure the temporary file is removed. Errors are status values naming the file and the
// system error ("cannot fsync /var/spool/tally/x.cdr.tmp: No space left on device"); nothing
// here throws.
//
// Blocking: these are POSIX calls that wait for the disk. Control-plane thread only (or a
// thread of its own); never on an lcore.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/result.h"

namespace tally {

// Files larger than this are refused by readFileWhole() unless the caller says otherwise.
constexpr size_t kDefaultReadLimit = size_t{1} << 30;

// Creates `dir` (and missing parents) with `mode` when it does not exist; an error when it
// exists and is not a directory or cannot be created.
Result<bool> ensureDirectory(const std::string& dir, unsigned mode);

// Writes dir/name via dir/name.tmp: write all, fsync, rename, fsync(dir). Removes the temporary
// file on failure. Errors name the file and the system error.
Result<bool> writeFileDurably(const std::string& dir, const std::string& name,
                              std::span<const uint8_t> bytes);
// The same for a path ("usage.jsonl" = ./usage.jsonl) and text.
Result<bool> writeFileDurably(const std::string& path, std::string_view text);

// fsync of a directory: makes creations, renames and removals of its entries durable.
Result<bool> fsyncDirectory(const std::string& dir);
// fsync of an existing file (opened read-only).
Result<bool> fsyncFile(const std::string& path);
// rename(from, to) within one directory, then fsync of that directory.
Result<bool> renameDurably(const std::string& dir, const std::string& from,
                           const std::string& to);
// unlink(dir/name), then fsync of the directory.
Result<bool> removeDurably(const std::string& dir, const std::string& name);

// The whole file; an error naming the file when it cannot be opened or read, or is larger
// than `limit` octets.
Result<std::string> readFileWhole(const std::string& path, size_t limit = kDefaultReadLimit);
// true / false, or an error when it cannot be told (e.g. a directory on the way is not
// searchable).
Result<bool> fileExists(const std::string& path);
// Names of the entries of `dir` (without "." and ".."), in directory order.
Result<std::vector<std::string>> listDirectory(const std::string& dir);
// Creates and removes a probe file: can files be created in `dir`? (access() says yes to root
// on a read-only mount for some file systems.)
Result<bool> probeWritable(const std::string& dir);

// "a/b/c" -> "a/b", "c" -> ".", "/c" -> "/"; baseName("a/b/c") = "c".
std::string dirName(const std::string& path);
std::string baseName(const std::string& path);

}  // namespace tally
