#pragma once
// Client side of the control socket (used by tallyctl and by tests). Wire format:
// controlplane/control_server.h.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/control/control_server.h"
#include "shared/result.h"

namespace tally {

// Receives the reply text piece by piece, as it arrives.
using TextSink = std::function<void(std::string_view)>;

// Sends one request and reads the reply, waiting at most timeout_ms for the daemon each time
// (to accept, and between two pieces of the reply: a large reply may take longer in all).
// A "busy" answer (a connection limit) is retried for up to a second (within timeout_ms).
// An Error when the daemon cannot be reached, the reply is malformed, or the reply was cut
// ("reply cut after N octets: why"; the text given to the sink so far is incomplete); a
// refused command is an ok Result with !ok. With a sink, the text goes there and not in
// Reply::text.
Result<Reply> sendCommand(const std::string& socket_path, const std::vector<std::string>& words,
                          int timeout_ms, const TextSink& sink = nullptr);

}  // namespace tally
