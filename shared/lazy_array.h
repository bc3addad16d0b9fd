#pragma once
// Anonymous memory sized for the largest configuration but mostly unused: one mapping, backed
// lazily (untouched parts cost address space only, and read as zero), advised onto transparent
// huge pages (random accesses into it then miss the TLB far less: docs/performance.md).
#include <sys/mman.h>

#include <cstddef>
#include <type_traits>

namespace tally {

class LazyMapping {
 public:
  explicit LazyMapping(size_t bytes) : bytes_(bytes == 0 ? 1 : bytes) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      data_ = p;
      madvise(p, bytes_, MADV_HUGEPAGE);  // advisory: ignored where THP is off
    }
  }
  ~LazyMapping() {
    if (data_ != nullptr) {
      munmap(data_, bytes_);
    }
  }
  LazyMapping(const LazyMapping&) = delete;
  LazyMapping& operator=(const LazyMapping&) = delete;

  bool ok() const { return data_ != nullptr; }
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_;
  void* data_ = nullptr;
};

// A fixed-size array of zero-initialised trivially copyable values in a LazyMapping.
template <typename T>
class LazyArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit LazyArray(size_t n) : n_(n), map_(n * sizeof(T)) {}

  bool ok() const { return map_.ok(); }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T* data() const { return static_cast<T*>(map_.data()); }

 private:
  size_t n_;
  LazyMapping map_;
};

}  // namespace tally
