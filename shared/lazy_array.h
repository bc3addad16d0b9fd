#pragma once
// A fixed-size array of zero-initialised trivially copyable values in one anonymous mapping,
// backed lazily (untouched parts cost address space only) and advised onto transparent huge
// pages. For per-slot tables sized for the largest configuration but mostly unused.
#include <sys/mman.h>

#include <cstddef>
#include <type_traits>

namespace tally {

template <typename T>
class LazyArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit LazyArray(size_t n) : n_(n), bytes_(n == 0 ? sizeof(T) : n * sizeof(T)) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      data_ = static_cast<T*>(p);
      madvise(p, bytes_, MADV_HUGEPAGE);
    }
  }
  ~LazyArray() {
    if (data_ != nullptr) {
      munmap(data_, bytes_);
    }
  }
  LazyArray(const LazyArray&) = delete;
  LazyArray& operator=(const LazyArray&) = delete;

  bool ok() const { return data_ != nullptr; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* data() { return data_; }

 private:
  size_t n_;
  size_t bytes_;
  T* data_ = nullptr;
};

}  // namespace tally
