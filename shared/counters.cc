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
    // Random subscribers touch random pages of a large slab: on 4 KiB pages every packet is
    // a TLB miss (a nested page walk in a VM). Transparent huge pages cut that and the
    // first-touch faults 512-fold (docs/performance.md). Advisory: ignored where THP is off.
    madvise(p, bytes_, MADV_HUGEPAGE);
  }
}

CounterSlab::~CounterSlab() {
  if (flows_ != nullptr) {
    munmap(flows_, bytes_);
  }
}

}  // namespace tally
