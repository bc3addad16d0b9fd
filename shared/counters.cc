#include "shared/counters.h"

#include <sys/mman.h>

namespace tally {

CounterSlab::CounterSlab(const SlabGeometry& g) : geometry_(g) {
  bytes_ = g.flows() * sizeof(FlowCounters);
  if (bytes_ == 0) {
    bytes_ = sizeof(FlowCounters);
  }
  // Anonymous, lazily backed: a /8 pool reserves address space, not memory. Pages are zero.
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) {
    flows_ = static_cast<FlowCounters*>(p);
  }
}

CounterSlab::~CounterSlab() {
  if (flows_ != nullptr) {
    munmap(flows_, bytes_);
  }
}

}  // namespace tally
