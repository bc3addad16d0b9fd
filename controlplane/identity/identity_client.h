#pragma once
// The client side of `tallyctl session identify --bulk` (tallyctl, bench/identity_bench.cc).
#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "controlplane/control/ctl_client.h"

namespace tally {

// `session identify --bulk`: JSON Lines on stdin, one answer line per input line on stdout
// ({"line":N,"ok":true,"address":...,"state":...} or {"line":N,"ok":false,"error":...}).
//
// The control socket takes one request of at most 4096 bytes per connection and wants it whole
// within 2 s (docs/architecture.md), and the daemon serves it between polls within a 5 ms work
// budget. So the lines go in batches, each one request ["session","identify","--batch",LINE...]
// that fits the limit (about 25-40 identities), answered at once: a batch is small enough to
// be parsed, applied and answered well within the budget, and no request ever waits on the
// next one. Batches go over kShards connections at once (the socket allows 8 per process); a
// subscriber's lines always take the same connection (by its address; IPv6 by the first 32
// bits, within every subscriber prefix), so the last line for a subscriber wins, as in the
// input.
//
// Where the lines come from: fills `lines` with at most `max` more (without their newline);
// false once the input has ended.
using LineSource = std::function<bool(std::vector<std::string>& lines, size_t max)>;
// Every line of a stream, `max` at a time.
LineSource streamLines(std::istream& in);
// A file descriptor (tallyctl: standard input): waits for the first line, then takes only the
// lines already there (up to `max`), so that a process feeding identities through a pipe as
// they come gets each answer at once, not after thousands more lines.
LineSource fdLines(int fd);

// Reads the source to its end; the answers go to `out` in input order, one window of lines
// (up to 16,384) at a time. Returns 0 when every line was applied, 1 when any was refused, 3
// when tallyd could not be reached (the lines not sent are answered "not sent").
int identifyBulk(const std::string& socket_path, int timeout_ms, const LineSource& source,
                 const TextSink& out);

}  // namespace tally
