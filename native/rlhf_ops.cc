// Fused kernels for the native (tfjs-node) backend: TensorFlow ops registered through TensorFlow's stable C
// kernel API (tensorflow/c/kernels.h, ops.h) from a Node-API addon, so TF.js runs them by name like any
// built-in op (backend.executeMultipleOutputs; src/backend/native-ops.ts wraps them as TF.js kernels).
//
// Why: with small heads (stories260K: d = 8) attention is memory-bound in TF.js. Built from stock ops it
// writes the T×T scores, their softmax and their gradients to memory a dozen times per layer; PyTorch's
// SDPA kernel never materialises them. These kernels take 4 or 8 query rows at a time: their scores live in a
// few T-float rows in L1, and the backward recomputes the probabilities from the saved log-sum-exp
// (FlashAttention's scheme, Dao et al. 2022) instead of storing them. RoPE is applied on the way in (and
// its transpose on the gradients on the way out), which saves the ~35 small TF.js ops per layer it took.
// The other kernels replace runs of small TF.js ops (launch overhead dominates on small models).
//
//   RlhfCausalAttention(q [B,T,H,d], k [B,T,kvH,d], v [B,T,kvH,d], cos [T,d/2], sin [T,d/2]; scale)
//       -> o [B,T,H,d], lse [B,H,T]      (q and k are rotated here: RoPE in HF's rotate-half convention)
//   RlhfCausalAttentionGrad(q, k, v, cos, sin, o, lse, do; scale) -> dq, dk, dv (for the unrotated q, k)
//   RlhfSegmentAttention(q, k, v, cos, sin, layout [B,T,4]; scale) -> o, lse   (packed rows: per-token key ranges
//       and position ids; see its section)      RlhfSegmentAttentionGrad(..., layout, o, lse, do; scale) -> dq, dk, dv
//   RlhfSumSquares(x: N tensors) -> Σ x² over all of them (the global gradient norm²)
//   RlhfAdamW(p, m, v, g: N tensors each, hyper [7], decay [N]) -> p', m', v' (one step for every parameter)
//   RlhfRmsNorm(x [..., D], w [D]; eps) -> y, r [...];   RlhfRmsNormGrad(x, w, r, dy) -> dx, dw
//   RlhfSiluMul(g, u) -> silu(g)·u;                        RlhfSiluMulGrad(g, u, dy) -> dg, du
//   RlhfLogSoftmaxPick(logits [N,V], targets [N]) -> picked [N] = log softmax(logits)[n, targets[n]], lse [N]
//   RlhfLogSoftmaxPickGrad(logits, lse, targets, dy [N]) -> g [N,V] = dy·(onehot(targets) − softmax(logits))
//
// Beside the ops, the addon exports a decoder session for batched sampling (native/decoder.h: weights in native
// memory, a KV cache per row, a whole forward step per call), plain Node-API functions, not TensorFlow ops.
//
// Query head h reads kv head h / (H / kvH) (HF's GQA order). Causal over the same positions only (no
// cache offset, no padding mask: the TS side uses these only for unpadded or right-padded batches, where
// a real query never sees a pad key). Work is split over (batch, kv head) pairs (the segment kernels: (span of
// items, kv head) pairs, SegSpans) on a small thread pool of one thread per core, the calling thread included.
//
// Does NOT: support other dtypes than float32, masks, dropout or a KV cache (the TS fallback does).
#include <node_api.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sched.h>
#endif

#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

// Bumped whenever an op's inputs, outputs or attributes change (or the decoder session's functions); the TS
// loader refuses a mismatch. 6: RlhfSegmentAttention and the decoder session in one addon (two branches had each
// added one as 5, so an addon built from either would have passed the other's check). 7: a negative s in the
// segment layout marks a query nobody reads (an addon of 6 would reject such a layout). 8: RlhfLogSoftmaxPick(Grad).
#define RLHF_OPS_ABI 8

// Hot loops are compiled for AVX-512, AVX2+FMA and baseline x86-64; the loader picks one at run time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RLHF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RLHF_CLONES
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// A persistent pool: run(count, fn) calls fn(0..count-1) spread over all threads and returns when done.

// Flush-to-zero and denormals-are-zero (SSE control register bits 15 and 6) for the scope: a float below 1.2e-38
// becomes 0 instead of a denormal, whose arithmetic costs ~100 cycles an instruction on x86. TensorFlow sets both on
// its own threads and around the kernels it runs, so the calling thread computes with them; the pool's workers did
// not, and an attention backward on real activations (tiny probabilities times small gradients) ran ~4x slower on
// the worker than on the caller, and its results depended on which thread ran a task. Every thread of the pool now
// computes with both. (x86 only; elsewhere a no-op: ARM's FPCR.FZ would be the equivalent, not done.)
class ScopedFlushDenormals {
 public:
#if defined(__x86_64__) && defined(__GNUC__)
  ScopedFlushDenormals() : saved_(__builtin_ia32_stmxcsr()) { __builtin_ia32_ldmxcsr(saved_ | 0x8040u); }
  ~ScopedFlushDenormals() { __builtin_ia32_ldmxcsr(saved_); }

 private:
  unsigned saved_;
#else
  ScopedFlushDenormals() {}  // user-provided, so a const instance is well-formed
#endif
};

class Pool {
 public:
  explicit Pool(int threads) {
    // A thread that cannot be started (a process or container thread limit) shrinks the pool instead of
    // ending the process: this runs while the addon loads.
    for (threads_ = 1; threads_ < std::max(1, threads); threads_++) {
      try {
        std::thread([this] { Loop(); }).detach();
      } catch (const std::system_error&) {
        break;
      }
    }
  }
  int threads() const { return threads_; }

  // Returns when every task has run. It does not wait for workers that have not woken up yet: on a busy machine
  // a sleeping worker can take milliseconds to be scheduled, and the calling thread meanwhile claims the tasks
  // itself. A worker that wakes late finds its job's tasks all claimed and goes back to sleep (each Run has its
  // own job and counters, so it can never run a newer job's tasks with an older job's function).
  // linger: the workers keep polling for the next job for a short while after this one (200 µs) instead
  // of going to sleep at once, so a caller that runs many short jobs back to back (the decoder's products) does
  // not pay a wake-up per job. Off by default: between the TensorFlow kernels the cores belong to TF's threads.
  void Run(int count, const std::function<void(int)>& fn, bool linger = false) {
    std::lock_guard<std::mutex> serial(serial_);  // one Run at a time (TF may call kernels from several threads)
    const ScopedFlushDenormals flush;  // as on the workers (a decoder call from Node-API has no TF scope around it)
    if (threads_ == 1 || count <= 1) {
      for (int i = 0; i < count; i++) fn(i);
      return;
    }
    auto job = std::make_shared<Job>(&fn, count, linger);
    {
      std::lock_guard<std::mutex> l(m_);
      job_ = job;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    job->Work();
    job->WaitDone();
  }

 private:
  struct Job {
    Job(const std::function<void(int)>* f, int n, bool l) : fn(f), count(n), linger(l) {}
    // Claims and runs tasks until none are left; the last finisher wakes the caller.
    void Work() {
      int finished = 0;
      for (int i; (i = next.fetch_add(1)) < count; finished++) (*fn)(i);
      if (finished > 0 && done.fetch_add(finished) + finished == count) {
        std::lock_guard<std::mutex> l(m);
        cv.notify_all();
      }
    }
    void WaitDone() {
      SpinWhile([this] { return done.load() < count; }, std::chrono::microseconds(50));
      std::unique_lock<std::mutex> l(m);
      cv.wait(l, [this] { return done.load() == count; });
    }
    const std::function<void(int)>* fn;  // the caller's: only dereferenced for claimed tasks, all done before Run returns
    const int count;
    const bool linger;
    std::atomic<int> next{0}, done{0};
    std::mutex m;
    std::condition_variable cv;
  };

  // Spins (pause instructions; a pause is 10-140 cycles depending on the CPU, hence the clock) while busy() holds,
  // for at most `limit`.
  template <typename F>
  static void SpinWhile(F busy, std::chrono::microseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (busy()) {
      for (int i = 0; i < 32; i++) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      if (std::chrono::steady_clock::now() > end) return;
    }
  }

  void Loop() {
    const ScopedFlushDenormals flush;  // for the thread's whole life
    uint64_t seen = 0;
    bool linger = false;
    for (;;) {
      // After a lingering job, poll for the next one for a while before sleeping.
      if (linger) SpinWhile([&] { return generation_.load(std::memory_order_acquire) == seen; }, std::chrono::microseconds(200));
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> l(m_);
        wake_.wait(l, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        job = job_;
      }
      job->Work();
      linger = job->linger;
    }
  }

  int threads_ = 1;
  std::mutex serial_, m_;
  std::condition_variable wake_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> generation_{0};
};

// The CPUs this process may really use. A container is often held to fewer than the host's cores by a cgroup
// CPU quota, which neither hardware_concurrency() nor the affinity mask shows; a pool sized to the host would
// wake more threads than there are CPUs on every kernel call, and each call waits for the last of them. (Not
// measured as a slowdown here: 32 threads on these 2 CPUs, no quota, ran a DPO step as fast as 2.)
// RLHF_NATIVE_THREADS (validated by the TS loader) overrides.
int QuotaCpus(const char* max_path, const char* quota_path, const char* period_path) {
  long long quota = -1, period = 0;
  if (FILE* f = std::fopen(max_path, "r")) {  // cgroup v2: "max 100000" or "200000 100000"
    char q[32] = {0};
    if (std::fscanf(f, "%31s %lld", q, &period) == 2 && std::strcmp(q, "max") != 0) quota = std::atoll(q);
    std::fclose(f);
  } else if (FILE* fq = std::fopen(quota_path, "r")) {  // cgroup v1: quota -1 means none
    if (std::fscanf(fq, "%lld", &quota) != 1) quota = -1;
    std::fclose(fq);
    if (FILE* fp = std::fopen(period_path, "r")) {
      if (std::fscanf(fp, "%lld", &period) != 1) period = 0;
      std::fclose(fp);
    }
  }
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);
}

int UsableCpus() {
  if (const char* s = std::getenv("RLHF_NATIVE_THREADS")) {
    const int n = std::atoi(s);
    if (n >= 1) return std::min(n, 256);
  }
  int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = std::min(n, CPU_COUNT(&set));
  const int quota = QuotaCpus("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (quota > 0) n = std::min(n, quota);
#endif
  return std::max(1, n);
}

Pool& pool() {
  // Never destroyed: detached workers may still wait on its condition variable at process exit.
  static Pool* p = new Pool(UsableCpus());
  return *p;
}

// ---------------------------------------------------------------------------------------------
// Kernels. Keys are processed in chunks of W lanes (one AVX-512 register; two AVX2 or four SSE registers in
// the other clones) and queries in blocks of R consecutive positions of one head, so each key chunk loaded
// from memory feeds R multiply-adds. K and V of one (batch, kv head) are copied feature-major ([d][Tp],
// Tp = T rounded up to W, zero tail), so every chunk is contiguous.
//
// Row i sees keys j <= i. Chunks below the block's first row end are visible to all R rows; the last chunk
// or two are masked per lane, so a masked key contributes nothing at all (not even a NaN).

constexpr int W = 16;
constexpr int R = 4;
// For helpers that take or return vectors: always inlined into each clone, never called across the clones'
// vector ABIs (a 64-byte vector goes in memory for baseline code, in a register for AVX-512 code).
#define RLHF_VECTOR_INLINE inline __attribute__((always_inline))
typedef float vf __attribute__((vector_size(W * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(W * sizeof(int32_t))));

RLHF_VECTOR_INLINE vf Load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
RLHF_VECTOR_INLINE void Store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
static_assert(W == 16, "Lanes() lists W lanes");
// A constant, not a loop filling lanes: GCC 12 lowered the loop's vector to scalar code in target_clones functions.
RLHF_VECTOR_INLINE vi Lanes() { return vi{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }
RLHF_VECTOR_INLINE float Sum(vf v) {
  float s = 0.0f;
  for (int i = 0; i < W; i++) s += v[i];
  return s;
}
RLHF_VECTOR_INLINE vf Splat(float x) { return vf{} + x; }
RLHF_VECTOR_INLINE vi Bits(vf v) {
  vi b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
RLHF_VECTOR_INLINE vf Floats(vi b) {
  vf v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// Lane masks (-1 where a condition holds, else 0) are built from sign bits and applied with bit operations.
// Not with comparisons combined by & or | and then ?: : GCC 12 compiles such selects into scalar code, lane by
// lane, inside target_clones functions (measured: the segment softmax 4x slower). A single comparison as the
// condition of ?: stays vector code and is used where it suffices.
// -1 where lo <= j <= hi (all values far below 2^30, so the differences cannot overflow).
RLHF_VECTOR_INLINE vi InRange(vi j, int lo, int hi) { return ~(((j - lo) | (hi - j)) >> 31); }
// v where m, else +0 (also where v is NaN: a masked lane contributes nothing).
RLHF_VECTOR_INLINE vf Keep(vf v, vi m) { return Floats(Bits(v) & m); }
// a where m, else b.
RLHF_VECTOR_INLINE vf Blend(vi m, vf a, vf b) { return Floats((Bits(a) & m) | (Bits(b) & ~m)); }
// Σa, Σb, Σc, Σd in lanes 0, 4, 8 and 12: four sums with 10 shuffles and adds where one sum alone takes 8.
RLHF_VECTOR_INLINE vf Sum4(vf a, vf b, vf c, vf d) {
  const vf ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const vf cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const vf x = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
               __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  const vf y = x + __builtin_shufflevector(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
  return y + __builtin_shufflevector(y, y, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
}
// out[r·ldo] = alpha[r] · Σ acc[r] for the RR rows of a block (RR a multiple of 4: four sums together).
template <int RR>
RLHF_VECTOR_INLINE void StoreSums(const vf* acc, const float* alpha, float* out, int ldo) {
  if constexpr (RR % 4 == 0) {
    for (int g = 0; g < RR; g += 4) {
      const vf t = Sum4(acc[g], acc[g + 1], acc[g + 2], acc[g + 3]);
      for (int r = 0; r < 4; r++) out[(g + r) * ldo] = alpha[g + r] * t[4 * r];
    }
  } else {
    for (int r = 0; r < RR; r++) out[r * ldo] = alpha[r] * Sum(acc[r]);
  }
}
// The largest lane (lanes are never NaN where this is used: the maxima below skip NaN scores).
RLHF_VECTOR_INLINE float Max(vf v) {
  float m = v[0];
  for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
  return m;
}

// exp(x) for x <= 0 (softmax arguments: score minus the row's max or log-sum-exp). Cody-Waite reduction
// to r in [-ln2/2, ln2/2] and a degree-6 polynomial: relative error ~2e-7. Branch-free so it vectorises.
// Below -87 the result is clamped to ~1.6e-38 (a weight of zero beside the row's max of 1). NaN stays NaN.
inline float ExpNonPositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  // n = floor(x·log2 e + 0.5) by truncation: x·log2 e + 128.5 >= 3 here (x >= -87), where truncating is the floor
  // (5 vector instructions fewer than an exact floor for every sign; the vector version below does the same).
  const int32_t i = static_cast<int32_t>(x * 1.44269504088896341f + 128.5f);  // n + 128
  const float n = static_cast<float>(i) - 128.0f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * r) * r + r + 1.0f;
  const uint32_t bits = (static_cast<uint32_t>(i) - 1u) << 23;  // (n + 127) << 23: 2^n (unsigned: NaN's i wraps)
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

// ExpNonPositive on W lanes: the same operations in the same order, so each lane equals the scalar function.
RLHF_VECTOR_INLINE vf ExpNonPositive(vf x) {
  x = x < -87.0f ? Splat(-87.0f) : x;
  const vi i = __builtin_convertvector(x * 1.44269504088896341f + 128.5f, vi);
  const vf n = __builtin_convertvector(i, vf) - 128.0f;
  const vf r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  vf p = Splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * r) * r + r + 1.0f;
  const vi bits = (i - 1) << 23;
  vf two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

// One block of rows: `rows` <= R positions i0.. of one head. Row r sees n_r = i0 + r + 1 keys.
struct Block {
  int i0, rows, d, Tp;
  int full;    // chunks every row sees in full
  int chunks;  // chunks any row sees
  Block(int i0_, int rows_, int d_, int Tp_) : i0(i0_), rows(rows_), d(d_), Tp(Tp_), full((i0_ + 1) / W), chunks((i0_ + rows_ + W - 1) / W) {}
  int Keys(int r) const { return i0 + r + 1; }
};

// out[r][j] = alpha · Σ_c a[r·lda + c] · X[c][j] for every lane j of the block's chunks (masking comes later).
template <int RR>
RLHF_CLONES void ScoresT(const Block& b, const float* a, int lda, const float* X, float alpha, float* out) {
  for (int jc = 0; jc < b.chunks; jc++) {
    vf acc[RR] = {};
    for (int c = 0; c < b.d; c++) {
      const vf x = Load(X + static_cast<size_t>(c) * b.Tp + jc * W);
      for (int r = 0; r < RR; r++) acc[r] += a[r * lda + c] * x;
    }
    for (int r = 0; r < RR; r++) Store(out + static_cast<size_t>(r) * b.Tp + jc * W, alpha * acc[r]);
  }
}

// out[r·ldo + c] = alpha[r] · Σ_{j < n_r} w[r][j] · X[c][j].
template <int RR>
// Features go CG at a time: each loaded chunk of w feeds CG features (CG·RR accumulators in registers).
RLHF_CLONES void WeightedT(const Block& b, const float* w, const float* X, const float* alpha, float* out, int ldo) {
  const vi lanes = Lanes();
  constexpr int CG = RR >= 8 ? 2 : 4;  // CG·RR <= 16 accumulators
  int c0 = 0;
  for (; c0 + CG <= b.d; c0 += CG) {
    const float* xr = X + static_cast<size_t>(c0) * b.Tp;
    vf acc[CG][RR] = {};
    for (int jc = 0; jc < b.chunks; jc++) {
      vf wr[RR];
      for (int r = 0; r < RR; r++) wr[r] = Load(w + static_cast<size_t>(r) * b.Tp + jc * W);
      if (jc < b.full) {
        for (int k = 0; k < CG; k++) {
          const vf x = Load(xr + static_cast<size_t>(k) * b.Tp + jc * W);
          for (int r = 0; r < RR; r++) acc[k][r] += wr[r] * x;
        }
      } else {
        const vi j = lanes + jc * W;
        for (int k = 0; k < CG; k++) {
          const vf x = Load(xr + static_cast<size_t>(k) * b.Tp + jc * W);
          for (int r = 0; r < RR; r++) {
            const vf prod = wr[r] * x;
            acc[k][r] += j < b.Keys(r) ? prod : vf{};
          }
        }
      }
    }
    for (int k = 0; k < CG; k++) StoreSums<RR>(acc[k], alpha, out + c0 + k, ldo);
  }
  for (int c = c0; c < b.d; c++) {
    const float* xr = X + static_cast<size_t>(c) * b.Tp;
    vf acc[RR] = {};
    for (int jc = 0; jc < b.full; jc++) {
      const vf x = Load(xr + jc * W);
      for (int r = 0; r < RR; r++) acc[r] += Load(w + static_cast<size_t>(r) * b.Tp + jc * W) * x;
    }
    for (int jc = b.full; jc < b.chunks; jc++) {
      const vf x = Load(xr + jc * W);
      const vi j = lanes + jc * W;
      for (int r = 0; r < RR; r++) {
        const vf prod = Load(w + static_cast<size_t>(r) * b.Tp + jc * W) * x;
        acc[r] += j < b.Keys(r) ? prod : vf{};
      }
    }
    StoreSums<RR>(acc, alpha, out + c, ldo);
  }
}

// X[c][j] += Σ_r [j < n_r] · alpha · a[r·lda + c] · w[r][j] (rank-R update of a [d][Tp] accumulator).
template <int RR>
RLHF_CLONES void AccumulateT(const Block& b, const float* a, int lda, float alpha, const float* w, float* X) {
  const vi lanes = Lanes();
  for (int c = 0; c < b.d; c++) {
    float* xr = X + static_cast<size_t>(c) * b.Tp;
    float ar[RR];
    for (int r = 0; r < RR; r++) ar[r] = alpha * a[r * lda + c];
    for (int jc = 0; jc < b.full; jc++) {
      vf x = Load(xr + jc * W);
      for (int r = 0; r < RR; r++) x += ar[r] * Load(w + static_cast<size_t>(r) * b.Tp + jc * W);
      Store(xr + jc * W, x);
    }
    for (int jc = b.full; jc < b.chunks; jc++) {
      vf x = Load(xr + jc * W);
      const vi j = lanes + jc * W;
      for (int r = 0; r < RR; r++) {
        const vf prod = ar[r] * Load(w + static_cast<size_t>(r) * b.Tp + jc * W);
        x += j < b.Keys(r) ? prod : vf{};
      }
      Store(xr + jc * W, x);
    }
  }
}

// Full blocks use R rows with R accumulators in registers; the last partial block goes one row at a time.
void Scores(const Block& b, const float* a, int lda, const float* X, float alpha, float* out) {
  if (b.rows == R) return ScoresT<R>(b, a, lda, X, alpha, out);
  for (int r = 0; r < b.rows; r++) ScoresT<1>(Block(b.i0 + r, 1, b.d, b.Tp), a + r * lda, lda, X, alpha, out + static_cast<size_t>(r) * b.Tp);
}
void Weighted(const Block& b, const float* w, const float* X, const float* alpha, float* out, int ldo) {
  if (b.rows == R) return WeightedT<R>(b, w, X, alpha, out, ldo);
  for (int r = 0; r < b.rows; r++) WeightedT<1>(Block(b.i0 + r, 1, b.d, b.Tp), w + static_cast<size_t>(r) * b.Tp, X, alpha + r, out + r * ldo, ldo);
}
void Accumulate(const Block& b, const float* a, int lda, float alpha, const float* w, float* X) {
  if (b.rows == R) return AccumulateT<R>(b, a, lda, alpha, w, X);
  for (int r = 0; r < b.rows; r++) AccumulateT<1>(Block(b.i0 + r, 1, b.d, b.Tp), a + r * lda, lda, alpha, w + static_cast<size_t>(r) * b.Tp, X);
}

// One row's softmax passes (the decoder's, native/decoder.h), W lanes at a time; the last chunk of the row
// (lanes past n) is masked.
// The largest of s[0..n) that is not NaN (-Inf if none; a NaN score still makes its row NaN through the exp).
RLHF_CLONES float RowMax(const float* s, int n) {
  vf m = Splat(-INFINITY);
  const int full = n / W;
  for (int jc = 0; jc < full; jc++) {
    const vf x = Load(s + jc * W);
    m = x > m ? x : m;
  }
  if (full * W < n) {
    const vf x = Blend(InRange(Lanes() + full * W, 0, n - 1), Load(s + full * W), Splat(-INFINITY));
    m = x > m ? x : m;
  }
  return Max(m);
}

// s[j] <- exp(s[j] - shift) for j < n and 0 for n <= j < end (end a multiple of W); returns Σ_{j<n} s[j].
RLHF_CLONES float ExpShifted(float* s, int n, int end, float shift) {
  vf sum = {};
  const int chunks = (n + W - 1) / W;
  for (int jc = 0; jc < chunks; jc++) {
    const vf e = Keep(ExpNonPositive(Load(s + jc * W) - shift), InRange(Lanes() + jc * W, 0, n - 1));
    Store(s + jc * W, e);
    sum += e;
  }
  for (int j = chunks * W; j < end; j += W) Store(s + j, vf{});
  return Sum(sum);
}

// The rows' softmax passes go W lanes at a time, all RR rows of a block chunk by chunk (their exponentials are
// independent work for the core). Chunks below b.full are seen whole by every row; the others are masked per
// row (lanes j >= n_r), so a masked key contributes nothing at all (not even a NaN).
// -1 in the lanes of chunk jc that row r sees.
RLHF_VECTOR_INLINE vi KeysLanes(const Block& b, int r, int jc) { return InRange(Lanes() + jc * W, 0, b.Keys(r) - 1); }

// Σ_{j<n} s[j] as a plain loop (the compiler's vector order, as the causal kernel always summed its
// exponentials: the IPO parity test against TRL (test/parity/trl.test.ts) compares a loss that amplifies the
// float rounding of these sums ~10x, and a 16-lane masked sum, as accurate, landed 8 ulps away instead of 1).
RLHF_CLONES float RowSum(const float* s, int n) {
  float sum = 0.0f;
  for (int j = 0; j < n; j++) sum += s[j];
  return sum;
}

// s[r][j] <- exp(s[r][j] − m_r) for j < n_r, 0 for n_r <= j < chunks·W, with m_r the largest score of row r
// that is not NaN (-Inf if none; a NaN score still makes its row NaN through the exp); then
// lse[r] <- m_r + log Σ_j and inv[r] <- 1 / Σ_j.
template <int RR>
RLHF_CLONES void SoftmaxT(const Block& b, float* s, float* lse, float* inv) {
  vf m[RR];
  for (int r = 0; r < RR; r++) m[r] = Splat(-INFINITY);
  for (int jc = 0; jc < b.chunks; jc++) {
    for (int r = 0; r < RR; r++) {
      vf v = Load(s + static_cast<size_t>(r) * b.Tp + jc * W);
      if (jc >= b.full) v = Blend(KeysLanes(b, r, jc), v, Splat(-INFINITY));
      m[r] = v > m[r] ? v : m[r];
    }
  }
  float mx[RR];
  for (int r = 0; r < RR; r++) mx[r] = Max(m[r]);
  for (int jc = 0; jc < b.chunks; jc++) {
    for (int r = 0; r < RR; r++) {
      float* sr = s + static_cast<size_t>(r) * b.Tp + jc * W;
      vf e = ExpNonPositive(Load(sr) - mx[r]);
      if (jc >= b.full) e = Keep(e, KeysLanes(b, r, jc));
      Store(sr, e);
    }
  }
  for (int r = 0; r < RR; r++) {
    const float l = RowSum(s + static_cast<size_t>(r) * b.Tp, b.Keys(r));
    inv[r] = 1.0f / l;
    lse[r] = mx[r] + std::log(l);
  }
}

// The backward's first pass in one loop over the block's chunks, for RR rows: S = scale·q·kᵀ and dP = dO·vᵀ,
// then P = exp(S − lse) for j < n_r (else exactly 0) and dS = P ∘ (dP − D) (lanes past n_r are masked again by
// the products that read it). q is [RR][d] (rotated), dO rows are ldo apart; p and ds get RR rows of Tp.
template <int RR>
RLHF_CLONES void ScoresBackwardT(const Block& b, const float* q, const float* dO, int ldo, const float* kt, const float* vt, float scale,
                                 const float* lse, const float* Di, float* p, float* ds) {
  for (int jc = 0; jc < b.chunks; jc++) {
    vf sc[RR] = {}, dp[RR] = {};
    for (int c = 0; c < b.d; c++) {
      const vf x = Load(kt + static_cast<size_t>(c) * b.Tp + jc * W), y = Load(vt + static_cast<size_t>(c) * b.Tp + jc * W);
      for (int r = 0; r < RR; r++) {
        sc[r] += q[r * b.d + c] * x;
        dp[r] += dO[r * ldo + c] * y;
      }
    }
    for (int r = 0; r < RR; r++) {
      const size_t at = static_cast<size_t>(r) * b.Tp + jc * W;
      vf e = ExpNonPositive(scale * sc[r] - lse[r]);
      if (jc >= b.full) e = Keep(e, KeysLanes(b, r, jc));
      Store(p + at, e);
      Store(ds + at, e * (dp[r] - Di[r]));
    }
  }
}

// Full blocks take all R rows at once; the last partial block goes one row at a time.
void Softmax(const Block& b, float* s, float* lse, float* inv) {
  if (b.rows == R) return SoftmaxT<R>(b, s, lse, inv);
  for (int r = 0; r < b.rows; r++) SoftmaxT<1>(Block(b.i0 + r, 1, b.d, b.Tp), s + static_cast<size_t>(r) * b.Tp, lse + r, inv + r);
}
void ScoresBackward(const Block& b, const float* q, const float* dO, int ldo, const float* kt, const float* vt, float scale, const float* lse,
                    const float* Di, float* p, float* ds) {
  if (b.rows == R) return ScoresBackwardT<R>(b, q, dO, ldo, kt, vt, scale, lse, Di, p, ds);
  for (int r = 0; r < b.rows; r++) {
    const size_t at = static_cast<size_t>(r) * b.Tp;
    ScoresBackwardT<1>(Block(b.i0 + r, 1, b.d, b.Tp), q + r * b.d, dO + r * ldo, ldo, kt, vt, scale, lse + r, Di + r, p + at, ds + at);
  }
}

struct Dims {
  int64_t B, T, H, kvH, d;
  size_t QIndex(int64_t b, int64_t t, int64_t h) const { return static_cast<size_t>(((b * T + t) * H + h) * d); }
};

// Per-thread scratch memory that only grows: after the first step the kernels allocate nothing on the
// pool's threads (per-call vectors there made glibc's per-thread arenas fragment and RSS creep upwards).
// Slices are handed out from one buffer; Reset() starts a new call.
class Scratch {
 public:
  void Reset(size_t floats) {
    if (buf_.size() < floats) buf_.resize(floats);
    used_ = 0;
  }
  // `n` floats, zeroed if `zero`.
  float* Take(size_t n, bool zero) {
    float* p = buf_.data() + used_;
    used_ += n;
    if (zero) std::fill(p, p + n, 0.0f);
    return p;
  }

 private:
  std::vector<float> buf_;
  size_t used_ = 0;
};
thread_local Scratch scratch;

// Rotary position embedding, Hugging Face's rotate-half convention: pair (x[i], x[i + d/2]) at position t
// turns by the angle whose cosine and sine are cos[t][i], sin[t][i] ([T][d/2] tables from the caller).
struct Rope {
  const float *cos, *sin;
  int half;
  // y = R_t x
  void Rotate(const float* x, int t, float* y) const {
    const float *c = cos + static_cast<size_t>(t) * half, *s = sin + static_cast<size_t>(t) * half;
    for (int i = 0; i < half; i++) {
      y[i] = x[i] * c[i] - x[i + half] * s[i];
      y[i + half] = x[i + half] * c[i] + x[i] * s[i];
    }
  }
  // y = R_tᵀ g: a gradient with respect to the rotated vector, taken back to the unrotated one.
  void RotateBack(const float* g, int t, float* y) const {
    const float *c = cos + static_cast<size_t>(t) * half, *s = sin + static_cast<size_t>(t) * half;
    for (int i = 0; i < half; i++) {
      y[i] = g[i] * c[i] + g[i + half] * s[i];
      y[i + half] = g[i + half] * c[i] - g[i] * s[i];
    }
  }
};

// Position t's rotary position: its layout entry (packed rows: layout [B,T,4], position first) or t itself.
int PositionOf(const float* layout, const Dims& D, int64_t b, int64_t t) {
  return layout ? static_cast<int>(layout[static_cast<size_t>((b * D.T + t) * 4)]) : static_cast<int>(t);
}

// Positions [first, first + len) of (b, head)'s [T][d] slab in a [B,T,heads,d] tensor -> [d][Tp] (position first +
// j in column j; tail already zero), rotated if rope (by PositionOf). The causal kernels take the whole row (0, T);
// the segment kernels one span of it. W positions at a time through `tile` (W·d floats of scratch), so each
// feature's row is written a whole chunk at a time rather than one float per cache line.
void GatherTransposed(const float* x, const float* layout, const Dims& D, int64_t heads, int64_t b, int64_t h, int64_t first, int64_t len, int Tp,
                      const Rope* rope, float* tile, float* xt) {
  const int d = static_cast<int>(D.d);
  for (int64_t t0 = 0; t0 < len; t0 += W) {
    const int n = static_cast<int>(std::min<int64_t>(W, len - t0));
    for (int k = 0; k < n; k++) {
      const float* src = x + static_cast<size_t>(((b * D.T + first + t0 + k) * heads + h) * d);
      if (rope) rope->Rotate(src, PositionOf(layout, D, b, first + t0 + k), tile + k * d);
      else std::memcpy(tile + k * d, src, sizeof(float) * d);
    }
    for (int c = 0; c < d; c++) {
      float* out = xt + static_cast<size_t>(c) * Tp + t0;
      for (int k = 0; k < n; k++) out[k] = tile[k * d + c];
    }
  }
}

// The inverse of GatherTransposed for gradients: [d][Tp] -> positions [first, first + len) of the [T][d] slab,
// rotated back if rope.
void ScatterTransposed(const float* xt, const float* layout, const Dims& D, int64_t heads, int64_t b, int64_t h, int64_t first, int64_t len, int Tp,
                       const Rope* rope, float* tile, float* x) {
  const int d = static_cast<int>(D.d);
  for (int64_t t0 = 0; t0 < len; t0 += W) {
    const int n = static_cast<int>(std::min<int64_t>(W, len - t0));
    for (int c = 0; c < d; c++) {
      const float* in = xt + static_cast<size_t>(c) * Tp + t0;
      for (int k = 0; k < n; k++) tile[k * d + c] = in[k];
    }
    for (int k = 0; k < n; k++) {
      float* dst = x + static_cast<size_t>(((b * D.T + first + t0 + k) * heads + h) * d);
      if (rope) rope->RotateBack(tile + k * d, PositionOf(layout, D, b, first + t0 + k), dst);
      else std::memcpy(dst, tile + k * d, sizeof(float) * d);
    }
  }
}

// The block's query rows (positions i0.., head h), rotated, into qr [rows][d].
void GatherRows(const float* q, const Dims& D, const Block& blk, int64_t b, int64_t h, const Rope& rope, float* qr) {
  for (int r = 0; r < blk.rows; r++) rope.Rotate(q + D.QIndex(b, blk.i0 + r, h), blk.i0 + r, qr + static_cast<size_t>(r) * D.d);
}

int PaddedLength(int64_t T) { return static_cast<int>((T + W - 1) / W * W); }

void ForwardPair(const float* q, const float* k, const float* v, const Rope& rope, float* o, float* lse, const Dims& D, float scale,
                 int64_t b, int64_t kh) {
  const int T = static_cast<int>(D.T), d = static_cast<int>(D.d), Tp = PaddedLength(D.T);
  const int ld = static_cast<int>(D.H * D.d);  // between consecutive positions of one head
  const int64_t g = D.H / D.kvH;
  const size_t dT = static_cast<size_t>(d) * Tp;
  scratch.Reset(2 * dT + static_cast<size_t>(R) * Tp + static_cast<size_t>(R) * d + static_cast<size_t>(W) * d);
  float* const kt = scratch.Take(dT, true);  // zero tails past T
  float* const vt = scratch.Take(dT, true);
  float* const s = scratch.Take(static_cast<size_t>(R) * Tp, false);
  float* const qr = scratch.Take(static_cast<size_t>(R) * d, false);
  float* const tile = scratch.Take(static_cast<size_t>(W) * d, false);
  GatherTransposed(k, nullptr, D, D.kvH, b, kh, 0, D.T, Tp, &rope, tile, kt);
  GatherTransposed(v, nullptr, D, D.kvH, b, kh, 0, D.T, Tp, nullptr, tile, vt);
  float inv[R];
  for (int64_t gi = 0; gi < g; gi++) {
    const int64_t h = kh * g + gi;
    for (int i0 = 0; i0 < T; i0 += R) {
      const Block blk(i0, std::min(R, T - i0), d, Tp);
      GatherRows(q, D, blk, b, h, rope, qr);
      Scores(blk, qr, d, kt, scale, s);
      Softmax(blk, s, lse + static_cast<size_t>((b * D.H + h) * D.T + i0), inv);
      Weighted(blk, s, vt, inv, o + D.QIndex(b, i0, h), ld);
    }
  }
}

void BackwardPair(const float* q, const float* k, const float* v, const Rope& rope, const float* o, const float* lse, const float* dout,
                  float* dq, float* dk, float* dv, const Dims& D, float scale, int64_t b, int64_t kh) {
  const int T = static_cast<int>(D.T), d = static_cast<int>(D.d), Tp = PaddedLength(D.T);
  const int ld = static_cast<int>(D.H * D.d);
  const int64_t g = D.H / D.kvH;
  const size_t dT = static_cast<size_t>(d) * Tp;
  scratch.Reset(4 * dT + 2 * static_cast<size_t>(R) * Tp + 2 * static_cast<size_t>(R) * d + static_cast<size_t>(W) * d);
  float* const kt = scratch.Take(dT, true);  // zero tails past T
  float* const vt = scratch.Take(dT, true);
  float* const dkt = scratch.Take(dT, true);  // accumulators
  float* const dvt = scratch.Take(dT, true);
  float* const p = scratch.Take(static_cast<size_t>(R) * Tp, false);
  float* const ds = scratch.Take(static_cast<size_t>(R) * Tp, false);
  float* const qr = scratch.Take(static_cast<size_t>(R) * d, false);
  float* const dqr = scratch.Take(static_cast<size_t>(R) * d, false);
  float* const tile = scratch.Take(static_cast<size_t>(W) * d, false);
  GatherTransposed(k, nullptr, D, D.kvH, b, kh, 0, D.T, Tp, &rope, tile, kt);
  GatherTransposed(v, nullptr, D, D.kvH, b, kh, 0, D.T, Tp, nullptr, tile, vt);
  float scales[R];
  std::fill(scales, scales + R, scale);
  for (int64_t gi = 0; gi < g; gi++) {
    const int64_t h = kh * g + gi;
    for (int i0 = 0; i0 < T; i0 += R) {
      const Block blk(i0, std::min(R, T - i0), d, Tp);
      const size_t qi = D.QIndex(b, i0, h);
      GatherRows(q, D, blk, b, h, rope, qr);
      float Di[R];  // rowsum(dO ∘ O)
      for (int r = 0; r < blk.rows; r++) {
        const size_t at = qi + static_cast<size_t>(r) * ld;
        Di[r] = 0.0f;
        for (int c = 0; c < d; c++) Di[r] += dout[at + c] * o[at + c];
      }
      ScoresBackward(blk, qr, dout + qi, ld, kt, vt, scale, lse + static_cast<size_t>((b * D.H + h) * D.T + i0), Di, p, ds);  // P, dS
      Weighted(blk, ds, kt, scales, dqr, d);       // dq (rotated) = scale · dS·k
      for (int r = 0; r < blk.rows; r++) rope.RotateBack(dqr + static_cast<size_t>(r) * d, i0 + r, dq + qi + static_cast<size_t>(r) * ld);
      Accumulate(blk, qr, d, scale, ds, dkt);      // dk (rotated) += dSᵀ·(scale·q)
      Accumulate(blk, dout + qi, ld, 1.0f, p, dvt);       // dv += Pᵀ·dO
    }
  }
  ScatterTransposed(dkt, nullptr, D, D.kvH, b, kh, 0, D.T, Tp, &rope, tile, dk);
  ScatterTransposed(dvt, nullptr, D, D.kvH, b, kh, 0, D.T, Tp, nullptr, tile, dv);
}

// ---------------------------------------------------------------------------------------------
// Optimizer kernels: one call for all parameters instead of ~12 TF.js ops per parameter (on stories260K
// the optimizer alone was ~600 kernel launches a step).
//
// AdamW with torch's arithmetic, operation for operation as src/train/optimizer.ts writes it in TF.js ops
// (each product and sum rounded to float32, no fused multiply-add, no reassociation), so both paths give
// bit-identical parameters and moments.

struct AdamWHyper {
  float b1, c1, b2, c2, bc2, eps, step;  // β1, 1−β1, β2, 1−β2, √(1−β2ᵗ), ε, lr/(1−β1ᵗ)
};

__attribute__((optimize("no-associative-math", "fp-contract=off"))) void AdamWRange(const float* p, const float* m, const float* v,
                                                                                      const float* g, float decay, const AdamWHyper& h,
                                                                                      float* po, float* mo, float* vo, size_t begin,
                                                                                      size_t end) {
  for (size_t i = begin; i < end; i++) {
    const float gi = g[i];
    const float mi = m[i] * h.b1 + gi * h.c1;
    const float gg = gi * gi;
    const float vi = v[i] * h.b2 + gg * h.c2;
    const float denom = std::sqrt(vi) / h.bc2 + h.eps;
    const float update = (mi / denom) * h.step;
    mo[i] = mi;
    vo[i] = vi;
    po[i] = p[i] * decay - update;  // decay is exactly 1 for parameters without weight decay
  }
}

RLHF_CLONES float SumSquaresRange(const float* x, size_t begin, size_t end) {
  float s = 0.0f;
  for (size_t i = begin; i < end; i++) s += x[i] * x[i];
  return s;
}

// Element ranges of at most kChunk over a list of tensors, the unit of work for the pool.
constexpr size_t kChunk = 1 << 15;
struct Range {
  int tensor;
  size_t begin, end;
};
std::vector<Range> Ranges(const std::vector<size_t>& sizes) {
  std::vector<Range> out;
  for (size_t t = 0; t < sizes.size(); t++) {
    for (size_t b = 0; b < sizes[t]; b += kChunk) out.push_back({static_cast<int>(t), b, std::min(sizes[t], b + kChunk)});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RMSNorm and the SwiGLU gate: forward and backward each one pass where TF.js needs 6-9 small ops.

// y = (x·r)·w, r = 1/√(mean(x²) + eps) for rows [r0, r1) of D values.
RLHF_CLONES void RmsNormRows(const float* x, const float* w, float eps, int D, size_t r0, size_t r1, float* y, float* r) {
  for (size_t row = r0; row < r1; row++) {
    const float* xi = x + row * D;
    float ss = 0.0f;
    for (int c = 0; c < D; c++) ss += xi[c] * xi[c];
    const float rr = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    r[row] = rr;
    float* yi = y + row * D;
    for (int c = 0; c < D; c++) yi[c] = (xi[c] * rr) * w[c];
  }
}

// dx = r·(g − x̂·mean(g·x̂)) with x̂ = x·r, g = dy·w; dw_part += dy·x̂ (one partial per task, summed in order).
RLHF_CLONES void RmsNormGradRows(const float* x, const float* w, const float* r, const float* dy, int D, size_t r0, size_t r1, float* dx,
                                 float* dw_part) {
  for (size_t row = r0; row < r1; row++) {
    const float *xi = x + row * D, *dyi = dy + row * D;
    const float rr = r[row];
    float dot = 0.0f;
    for (int c = 0; c < D; c++) dot += dyi[c] * w[c] * (xi[c] * rr);
    const float mean = dot / static_cast<float>(D);
    float* dxi = dx + row * D;
    for (int c = 0; c < D; c++) {
      const float xh = xi[c] * rr;
      dxi[c] = rr * (dyi[c] * w[c] - xh * mean);
      dw_part[c] += dyi[c] * xh;
    }
  }
}

// σ(g) for any g, from exp(−|g|) <= 1 (no overflow).
inline float Sigmoid(float g) {
  const float e = ExpNonPositive(g < 0.0f ? g : -g);
  return (g >= 0.0f ? 1.0f : e) / (1.0f + e);
}

// y = silu(g)·u = g·σ(g)·u.
RLHF_CLONES void SiluMulRange(const float* g, const float* u, float* y, size_t begin, size_t end) {
  for (size_t i = begin; i < end; i++) y[i] = g[i] * Sigmoid(g[i]) * u[i];
}

// dg = dy·u·σ·(1 + g·(1 − σ)), du = dy·g·σ.
RLHF_CLONES void SiluMulGradRange(const float* g, const float* u, const float* dy, float* dg, float* du, size_t begin, size_t end) {
  for (size_t i = begin; i < end; i++) {
    const float s = Sigmoid(g[i]);
    dg[i] = dy[i] * u[i] * (s * (1.0f + g[i] * (1.0f - s)));
    du[i] = dy[i] * (g[i] * s);
  }
}

// The LM head's log-softmax and target pick (src/model/logprobs.ts headLogProbs), one pass per row where TF.js
// takes ~6 ops forward (max, subtract, exp, sum, log, gather) and ~6 backward (softmax's four, one-hot, the
// difference times dy), each a full pass over [rows, V] floats: 64 MB a chunk with a 49k vocabulary.

// Σ_{j<n} exp(x[j] − shift) for shift >= max x (x is not written): W lanes at a time, the tail one by one.
RLHF_CLONES float SumExpShifted(const float* x, int n, float shift) {
  vf acc = {};
  const int full = n / W;
  for (int jc = 0; jc < full; jc++) acc += ExpNonPositive(Load(x + jc * W) - shift);
  float sum = Sum(acc);
  for (int j = full * W; j < n; j++) sum += ExpNonPositive(x[j] - shift);
  return sum;
}

// Rows [begin, end) of x [N][V]: lse = max + log Σ exp(x − max), picked = x[target] − lse.
RLHF_CLONES void LogSoftmaxPickRows(const float* x, const int32_t* target, int V, size_t begin, size_t end, float* picked, float* lse) {
  for (size_t i = begin; i < end; i++) {
    const float* row = x + i * V;
    const float m = RowMax(row, V);
    const float l = m + std::log(SumExpShifted(row, V, m));
    lse[i] = l;
    picked[i] = row[target[i]] - l;
  }
}

// Rows [begin, end): g = dy·(onehot(target) − exp(x − lse)), the gradient of picked with respect to x.
RLHF_CLONES void LogSoftmaxPickGradRows(const float* x, const float* lse, const int32_t* target, const float* dy, int V, size_t begin,
                                        size_t end, float* g) {
  for (size_t i = begin; i < end; i++) {
    const float *row = x + i * V, l = lse[i], d = dy[i];
    float* gi = g + i * V;
    const int full = V / W;
    // x − lse <= 0 but for rounding (a row whose one logit dominates): ExpNonPositive is exact enough just above 0.
    for (int jc = 0; jc < full; jc++) Store(gi + jc * W, -d * ExpNonPositive(Load(row + jc * W) - l));
    for (int j = full * W; j < V; j++) gi[j] = -d * ExpNonPositive(row[j] - l);
    gi[target[i]] += d;
  }
}

// ---------------------------------------------------------------------------------------------
// TensorFlow glue.

struct Attrs {
  float value;  // the op's one float attribute: `scale` (attention) or `eps` (RMSNorm)
};

void* CreateFloatAttrKernel(TF_OpKernelConstruction* ctx, const char* name) {
  auto* a = new Attrs{1.0f};
  TF_Status* st = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrFloat(ctx, name, &a->value, st);
  if (TF_GetCode(st) != TF_OK) TF_OpKernelConstruction_Failure(ctx, st);
  TF_DeleteStatus(st);
  return a;
}
void* CreateKernel(TF_OpKernelConstruction* ctx) { return CreateFloatAttrKernel(ctx, "scale"); }
void* CreateEpsKernel(TF_OpKernelConstruction* ctx) { return CreateFloatAttrKernel(ctx, "eps"); }

void DeleteKernel(void* kernel) { delete static_cast<Attrs*>(kernel); }

void Fail(TF_OpKernelContext* ctx, const std::string& msg) {
  TF_Status* st = TF_NewStatus();
  TF_SetStatus(st, TF_INVALID_ARGUMENT, msg.c_str());
  TF_OpKernelContext_Failure(ctx, st);
  TF_DeleteStatus(st);
}

// The inputs, released on scope exit.
struct Inputs {
  std::vector<TF_Tensor*> t;
  ~Inputs() {
    for (TF_Tensor* x : t) TF_DeleteTensor(x);
  }
  const float* data(int i) const { return static_cast<const float*>(TF_TensorData(t[i])); }
};

std::string ShapeOf(TF_Tensor* t) {
  std::string s = "[";
  for (int i = 0; i < TF_NumDims(t); i++) s += (i ? "," : "") + std::to_string(TF_Dim(t, i));
  return s + "]";
}

// Reads every input; false after reporting a failure (then `in` holds what was read, released by its owner).
bool ReadAll(TF_OpKernelContext* ctx, const char* op, Inputs* in) {
  TF_Status* st = TF_NewStatus();
  const int n = TF_NumInputs(ctx);
  for (int i = 0; i < n; i++) {
    TF_Tensor* t = nullptr;
    TF_GetInput(ctx, i, &t, st);
    if (TF_GetCode(st) != TF_OK) {
      TF_OpKernelContext_Failure(ctx, st);
      TF_DeleteStatus(st);
      return false;
    }
    in->t.push_back(t);
    if (TF_TensorType(t) != TF_FLOAT) {
      TF_DeleteStatus(st);
      return Fail(ctx, std::string(op) + ": inputs must be float32"), false;
    }
  }
  TF_DeleteStatus(st);
  return true;
}

// Reads the inputs (`count` of them, as the op is defined) and checks q/k/v shapes; false after reporting a failure.
bool ReadInputs(TF_OpKernelContext* ctx, const char* op, int count, Inputs* in, Dims* D) {
  if (!ReadAll(ctx, op, in)) return false;
  if (static_cast<int>(in->t.size()) != count) return Fail(ctx, std::string(op) + ": expected " + std::to_string(count) + " inputs"), false;
  TF_Tensor *q = in->t[0], *k = in->t[1], *v = in->t[2];
  if (TF_NumDims(q) != 4 || TF_NumDims(k) != 4 || TF_NumDims(v) != 4) {
    return Fail(ctx, std::string(op) + ": q, k, v must be [B,T,heads,d]; got " + ShapeOf(q) + ", " + ShapeOf(k) + ", " + ShapeOf(v)), false;
  }
  *D = Dims{TF_Dim(q, 0), TF_Dim(q, 1), TF_Dim(q, 2), TF_Dim(k, 2), TF_Dim(q, 3)};
  const bool ok = TF_Dim(k, 0) == D->B && TF_Dim(k, 1) == D->T && TF_Dim(k, 3) == D->d && D->kvH > 0 && D->H % D->kvH == 0 &&
                  ShapeOf(k) == ShapeOf(v) && D->T > 0 && D->d > 0;
  if (!ok) return Fail(ctx, std::string(op) + ": expected q [B,T,H,d], k = v [B,T,kvH,d] with kvH dividing H; got " + ShapeOf(q) + ", " + ShapeOf(k) + ", " + ShapeOf(v)), false;
  return true;
}

// Allocates output `index` with `dims`; nullptr after reporting a failure.
float* Output(TF_OpKernelContext* ctx, int index, std::vector<int64_t> dims, std::vector<TF_Tensor*>* keep) {
  size_t n = 1;
  for (int64_t x : dims) n *= static_cast<size_t>(x);
  TF_Status* st = TF_NewStatus();
  TF_Tensor* t = TF_AllocateOutput(ctx, index, TF_FLOAT, dims.data(), static_cast<int>(dims.size()), n * sizeof(float), st);
  const bool ok = TF_GetCode(st) == TF_OK;
  if (!ok) TF_OpKernelContext_Failure(ctx, st);
  TF_DeleteStatus(st);
  if (!ok) return nullptr;
  keep->push_back(t);
  return static_cast<float*>(TF_TensorData(t));
}

// cos and sin (inputs `first` and `first + 1`) must be [T, d/2]; returns false after reporting a failure.
bool ReadRope(TF_OpKernelContext* ctx, const char* op, const Inputs& in, int first, const Dims& D, Rope* rope) {
  TF_Tensor *c = in.t[first], *s = in.t[first + 1];
  const bool ok = D.d % 2 == 0 && TF_NumDims(c) == 2 && TF_Dim(c, 0) == D.T && TF_Dim(c, 1) == D.d / 2 && ShapeOf(c) == ShapeOf(s);
  if (!ok) {
    return Fail(ctx, std::string(op) + ": cos and sin must be [T, d/2] = [" + std::to_string(D.T) + "," + std::to_string(D.d / 2) +
                         "] with an even head size d = " + std::to_string(D.d) + "; got " + ShapeOf(c) + ", " + ShapeOf(s)), false;
  }
  *rope = Rope{in.data(first), in.data(first + 1), static_cast<int>(D.d / 2)};
  return true;
}

// Both attention kernels start with q, k, v, cos, sin (then `n` inputs in all); false after reporting a failure.
bool ReadAttention(TF_OpKernelContext* ctx, const char* op, int n, Inputs* in, Dims* D, Rope* rope) {
  return ReadInputs(ctx, op, n, in, D) && ReadRope(ctx, op, *in, 3, *D, rope);
}

// Inputs q, k, v, cos, sin; outputs o [B,T,H,d], lse [B,H,T].
void ComputeForward(void* kernel, TF_OpKernelContext* ctx) {
  const float scale = static_cast<Attrs*>(kernel)->value;
  Inputs in;
  Dims D;
  Rope rope;
  if (!ReadAttention(ctx, "RlhfCausalAttention", 5, &in, &D, &rope)) return;
  std::vector<TF_Tensor*> outs;
  float* o = Output(ctx, 0, {D.B, D.T, D.H, D.d}, &outs);
  float* lse = o ? Output(ctx, 1, {D.B, D.H, D.T}, &outs) : nullptr;
  if (o && lse) {
    const float *q = in.data(0), *k = in.data(1), *v = in.data(2);
    pool().Run(static_cast<int>(D.B * D.kvH), [&](int i) { ForwardPair(q, k, v, rope, o, lse, D, scale, i / D.kvH, i % D.kvH); });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Inputs q, k, v, cos, sin, o, lse, do; outputs dq, dk, dv (with respect to the unrotated q and k).
void ComputeBackward(void* kernel, TF_OpKernelContext* ctx) {
  const float scale = static_cast<Attrs*>(kernel)->value;
  Inputs in;
  Dims D;
  Rope rope;
  if (!ReadAttention(ctx, "RlhfCausalAttentionGrad", 8, &in, &D, &rope)) return;
  const std::string qs = ShapeOf(in.t[0]);
  if (ShapeOf(in.t[5]) != qs || ShapeOf(in.t[7]) != qs || TF_NumDims(in.t[6]) != 3 || TF_Dim(in.t[6], 0) != D.B ||
      TF_Dim(in.t[6], 1) != D.H || TF_Dim(in.t[6], 2) != D.T) {
    return Fail(ctx, "RlhfCausalAttentionGrad: o and do must be shaped like q " + qs + " and lse [B,H,T]; got " + ShapeOf(in.t[5]) +
                         ", " + ShapeOf(in.t[7]) + ", " + ShapeOf(in.t[6]));
  }
  std::vector<TF_Tensor*> outs;
  float* dq = Output(ctx, 0, {D.B, D.T, D.H, D.d}, &outs);
  float* dk = dq ? Output(ctx, 1, {D.B, D.T, D.kvH, D.d}, &outs) : nullptr;
  float* dv = dk ? Output(ctx, 2, {D.B, D.T, D.kvH, D.d}, &outs) : nullptr;
  if (dq && dk && dv) {
    const float *q = in.data(0), *k = in.data(1), *v = in.data(2), *o = in.data(5), *lse = in.data(6), *dout = in.data(7);
    pool().Run(static_cast<int>(D.B * D.kvH),
               [&](int i) { BackwardPair(q, k, v, rope, o, lse, dout, dq, dk, dv, D, scale, i / D.kvH, i % D.kvH); });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

void* CreatePlainKernel(TF_OpKernelConstruction*) { return nullptr; }
void DeletePlainKernel(void*) {}

void ComputeSumSquares(void*, TF_OpKernelContext* ctx) {
  Inputs in;
  if (!ReadAll(ctx, "RlhfSumSquares", &in)) return;
  std::vector<size_t> sizes;
  for (TF_Tensor* t : in.t) sizes.push_back(TF_TensorElementCount(t));
  const std::vector<Range> ranges = Ranges(sizes);
  std::vector<float> partial(ranges.size(), 0.0f);
  pool().Run(static_cast<int>(ranges.size()), [&](int i) {
    const Range& r = ranges[i];
    partial[i] = SumSquaresRange(in.data(r.tensor), r.begin, r.end);
  });
  double total = 0.0;
  for (float x : partial) total += x;
  std::vector<TF_Tensor*> outs;
  float* out = Output(ctx, 0, {}, &outs);
  if (out) *out = static_cast<float>(total);
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Inputs: p[N], m[N], v[N], g[N] (flattened lists), hyper [7], decay [N]; outputs p'[N], m'[N], v'[N].
void ComputeAdamW(void*, TF_OpKernelContext* ctx) {
  Inputs in;
  if (!ReadAll(ctx, "RlhfAdamW", &in)) return;
  const int total = static_cast<int>(in.t.size());
  const int N = (total - 2) / 4;
  if (N < 1 || 4 * N + 2 != total) return Fail(ctx, "RlhfAdamW: expected 4·N + 2 inputs (p, m, v, g lists, hyper, decay); got " + std::to_string(total));
  TF_Tensor* hyper = in.t[4 * N];
  TF_Tensor* decay = in.t[4 * N + 1];
  if (TF_TensorElementCount(hyper) != 7 || TF_TensorElementCount(decay) != N) {
    return Fail(ctx, "RlhfAdamW: hyper must hold 7 values and decay N = " + std::to_string(N) + "; got " + ShapeOf(hyper) + ", " + ShapeOf(decay));
  }
  std::vector<size_t> sizes;
  for (int i = 0; i < N; i++) {
    const std::string shape = ShapeOf(in.t[i]);
    for (int k = 1; k < 4; k++) {
      if (ShapeOf(in.t[k * N + i]) != shape) {
        return Fail(ctx, "RlhfAdamW: parameter " + std::to_string(i) + " is " + shape + " but its moment or gradient is " + ShapeOf(in.t[k * N + i]));
      }
    }
    sizes.push_back(TF_TensorElementCount(in.t[i]));
  }
  const float* hv = in.data(4 * N);
  const AdamWHyper h{hv[0], hv[1], hv[2], hv[3], hv[4], hv[5], hv[6]};
  const float* dv = in.data(4 * N + 1);
  std::vector<TF_Tensor*> outs;
  std::vector<float*> po(N), mo(N), vo(N);
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < N; i++) {
      std::vector<int64_t> dims;
      for (int a = 0; a < TF_NumDims(in.t[i]); a++) dims.push_back(TF_Dim(in.t[i], a));
      float* o = Output(ctx, k * N + i, dims, &outs);
      if (!o) {
        for (TF_Tensor* t : outs) TF_DeleteTensor(t);
        return;
      }
      (k == 0 ? po : k == 1 ? mo : vo)[i] = o;
    }
  }
  const std::vector<Range> ranges = Ranges(sizes);
  pool().Run(static_cast<int>(ranges.size()), [&](int r) {
    const Range& x = ranges[r];
    const int i = x.tensor;
    AdamWRange(in.data(i), in.data(N + i), in.data(2 * N + i), in.data(3 * N + i), dv[i], h, po[i], mo[i], vo[i], x.begin, x.end);
  });
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

std::vector<int64_t> DimsOf(TF_Tensor* t, int drop_last = 0) {
  std::vector<int64_t> dims;
  for (int a = 0; a + drop_last < TF_NumDims(t); a++) dims.push_back(TF_Dim(t, a));
  return dims;
}

constexpr size_t kRowsPerTask = 64;

// Inputs x [..., D], w [D]; outputs y [..., D], r [...].
void ComputeRmsNorm(void* kernel, TF_OpKernelContext* ctx) {
  const float eps = static_cast<Attrs*>(kernel)->value;
  Inputs in;
  if (!ReadAll(ctx, "RlhfRmsNorm", &in)) return;
  TF_Tensor *x = in.t[0], *w = in.t[1];
  if (TF_NumDims(x) < 1 || TF_NumDims(w) != 1 || TF_Dim(w, 0) != TF_Dim(x, TF_NumDims(x) - 1)) {
    return Fail(ctx, "RlhfRmsNorm: expected x [..., D] and w [D]; got " + ShapeOf(x) + ", " + ShapeOf(w));
  }
  const int D = static_cast<int>(TF_Dim(w, 0));
  const size_t rows = D ? TF_TensorElementCount(x) / D : 0;
  std::vector<TF_Tensor*> outs;
  float* y = Output(ctx, 0, DimsOf(x), &outs);
  float* r = y ? Output(ctx, 1, DimsOf(x, 1), &outs) : nullptr;
  if (y && r) {
    const float *xd = in.data(0), *wd = in.data(1);
    const int tasks = static_cast<int>((rows + kRowsPerTask - 1) / kRowsPerTask);
    pool().Run(tasks, [&](int t) { RmsNormRows(xd, wd, eps, D, t * kRowsPerTask, std::min(rows, (t + 1) * kRowsPerTask), y, r); });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Inputs x, w, r, dy; outputs dx, dw.
void ComputeRmsNormGrad(void*, TF_OpKernelContext* ctx) {
  Inputs in;
  if (!ReadAll(ctx, "RlhfRmsNormGrad", &in)) return;
  TF_Tensor *x = in.t[0], *w = in.t[1], *r = in.t[2], *dy = in.t[3];
  const int nd = TF_NumDims(x);
  const bool ok = nd >= 1 && TF_NumDims(w) == 1 && TF_Dim(w, 0) == TF_Dim(x, nd - 1) && ShapeOf(dy) == ShapeOf(x) &&
                  DimsOf(r) == DimsOf(x, 1);
  if (!ok) return Fail(ctx, "RlhfRmsNormGrad: expected x = dy [..., D], w [D], r [...]; got " + ShapeOf(x) + ", " + ShapeOf(w) + ", " + ShapeOf(r) + ", " + ShapeOf(dy));
  const int D = static_cast<int>(TF_Dim(w, 0));
  const size_t rows = D ? TF_TensorElementCount(x) / D : 0;
  std::vector<TF_Tensor*> outs;
  float* dx = Output(ctx, 0, DimsOf(x), &outs);
  float* dw = dx ? Output(ctx, 1, {D}, &outs) : nullptr;
  if (dx && dw) {
    const int tasks = static_cast<int>((rows + kRowsPerTask - 1) / kRowsPerTask);
    std::vector<float> parts(static_cast<size_t>(tasks) * D, 0.0f);
    pool().Run(tasks, [&](int t) {
      RmsNormGradRows(in.data(0), in.data(1), in.data(2), in.data(3), D, t * kRowsPerTask, std::min(rows, (t + 1) * kRowsPerTask), dx,
                      parts.data() + static_cast<size_t>(t) * D);
    });
    // Partials summed in task order: the result does not depend on which thread ran which task.
    for (int c = 0; c < D; c++) dw[c] = 0.0f;
    for (int t = 0; t < tasks; t++)
      for (int c = 0; c < D; c++) dw[c] += parts[static_cast<size_t>(t) * D + c];
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Inputs g, u (same shape); output silu(g)·u.
void ComputeSiluMul(void*, TF_OpKernelContext* ctx) {
  Inputs in;
  if (!ReadAll(ctx, "RlhfSiluMul", &in)) return;
  if (ShapeOf(in.t[0]) != ShapeOf(in.t[1])) return Fail(ctx, "RlhfSiluMul: g and u must have one shape; got " + ShapeOf(in.t[0]) + ", " + ShapeOf(in.t[1]));
  std::vector<TF_Tensor*> outs;
  float* y = Output(ctx, 0, DimsOf(in.t[0]), &outs);
  if (y) {
    const std::vector<Range> ranges = Ranges({TF_TensorElementCount(in.t[0])});
    pool().Run(static_cast<int>(ranges.size()), [&](int i) { SiluMulRange(in.data(0), in.data(1), y, ranges[i].begin, ranges[i].end); });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Inputs g, u, dy; outputs dg, du.
void ComputeSiluMulGrad(void*, TF_OpKernelContext* ctx) {
  Inputs in;
  if (!ReadAll(ctx, "RlhfSiluMulGrad", &in)) return;
  const std::string shape = ShapeOf(in.t[0]);
  if (ShapeOf(in.t[1]) != shape || ShapeOf(in.t[2]) != shape) {
    return Fail(ctx, "RlhfSiluMulGrad: g, u and dy must have one shape; got " + shape + ", " + ShapeOf(in.t[1]) + ", " + ShapeOf(in.t[2]));
  }
  std::vector<TF_Tensor*> outs;
  float* dg = Output(ctx, 0, DimsOf(in.t[0]), &outs);
  float* du = dg ? Output(ctx, 1, DimsOf(in.t[0]), &outs) : nullptr;
  if (dg && du) {
    const std::vector<Range> ranges = Ranges({TF_TensorElementCount(in.t[0])});
    pool().Run(static_cast<int>(ranges.size()),
               [&](int i) { SiluMulGradRange(in.data(0), in.data(1), in.data(2), dg, du, ranges[i].begin, ranges[i].end); });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Reads logits [N, V] and targets [N] (whole numbers in [0, V), as float32: every input here is float) from inputs 0 and
// `t`; fills idx with the targets; false after reporting a failure.
bool ReadHead(TF_OpKernelContext* ctx, const char* op, const Inputs& in, int t, std::vector<int32_t>* idx) {
  TF_Tensor *x = in.t[0], *tg = in.t[t];
  if (TF_NumDims(x) != 2 || TF_Dim(x, 1) < 1 || TF_NumDims(tg) != 1 || TF_Dim(tg, 0) != TF_Dim(x, 0)) {
    return Fail(ctx, std::string(op) + ": expected logits [N,V] with V >= 1 and targets [N]; got " + ShapeOf(x) + ", " + ShapeOf(tg)), false;
  }
  const int64_t N = TF_Dim(x, 0), V = TF_Dim(x, 1);
  const float* f = in.data(t);
  idx->resize(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; i++) {
    if (!(f[i] >= 0.0f && f[i] < static_cast<float>(V) && f[i] == std::floor(f[i]))) {
      return Fail(ctx, std::string(op) + ": targets[" + std::to_string(i) + "] = " + std::to_string(f[i]) + " is not a token id in [0, " +
                           std::to_string(V) + ")"), false;
    }
    (*idx)[static_cast<size_t>(i)] = static_cast<int32_t>(f[i]);
  }
  return true;
}

// Rows per pool task: about 64k logits (one row of a 49k vocabulary, 128 of a 512 one).
size_t HeadRowsPerTask(int64_t V) { return std::max<size_t>(1, static_cast<size_t>((1 << 16) / std::max<int64_t>(V, 1))); }

// Inputs logits [N,V], targets [N]; outputs picked [N], lse [N].
void ComputeLogSoftmaxPick(void*, TF_OpKernelContext* ctx) {
  Inputs in;
  std::vector<int32_t> idx;
  if (!ReadAll(ctx, "RlhfLogSoftmaxPick", &in) || !ReadHead(ctx, "RlhfLogSoftmaxPick", in, 1, &idx)) return;
  const int64_t N = TF_Dim(in.t[0], 0), V = TF_Dim(in.t[0], 1);
  std::vector<TF_Tensor*> outs;
  float* picked = Output(ctx, 0, {N}, &outs);
  float* lse = picked ? Output(ctx, 1, {N}, &outs) : nullptr;
  if (picked && lse) {
    const size_t rows = HeadRowsPerTask(V), n = static_cast<size_t>(N);
    pool().Run(static_cast<int>((n + rows - 1) / rows), [&](int t) {
      LogSoftmaxPickRows(in.data(0), idx.data(), static_cast<int>(V), t * rows, std::min(n, (t + 1) * rows), picked, lse);
    });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Inputs logits [N,V], lse [N], targets [N], dy [N]; output g [N,V].
void ComputeLogSoftmaxPickGrad(void*, TF_OpKernelContext* ctx) {
  Inputs in;
  std::vector<int32_t> idx;
  if (!ReadAll(ctx, "RlhfLogSoftmaxPickGrad", &in) || !ReadHead(ctx, "RlhfLogSoftmaxPickGrad", in, 2, &idx)) return;
  const int64_t N = TF_Dim(in.t[0], 0), V = TF_Dim(in.t[0], 1);
  const std::string rows1 = "[" + std::to_string(N) + "]";
  if (ShapeOf(in.t[1]) != rows1 || ShapeOf(in.t[3]) != rows1) {
    return Fail(ctx, "RlhfLogSoftmaxPickGrad: lse and dy must be " + rows1 + " like the logits' rows; got " + ShapeOf(in.t[1]) + ", " + ShapeOf(in.t[3]));
  }
  std::vector<TF_Tensor*> outs;
  float* g = Output(ctx, 0, {N, V}, &outs);
  if (g) {
    const size_t rows = HeadRowsPerTask(V), n = static_cast<size_t>(N);
    pool().Run(static_cast<int>((n + rows - 1) / rows), [&](int t) {
      LogSoftmaxPickGradRows(in.data(0), in.data(1), idx.data(), in.data(3), static_cast<int>(V), t * rows, std::min(n, (t + 1) * rows), g);
    });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// ---------------------------------------------------------------------------------------------
// Segment attention: packed rows (padding-free batches; a prompt laid out once for a chosen and a rejected
// completion). The causal kernels above see keys 0..i; here each query t sees two key ranges of its row,
//
//   keys [p0, p1) ∪ [s, t]        (p1 <= s <= t: a prefix segment before its own segment, possibly empty)
//
// and q_t, k_t are rotated by the table row of their position id, not of t: a segment's positions restart
// (or continue from its prefix: the rejected completion of a shared prompt sits at prompt length + offset).
//
//   RlhfSegmentAttention(q [B,T,H,d], k, v [B,T,kvH,d], cos, sin [T,d/2], layout [B,T,4]; scale) -> o, lse [B,H,T]
//   RlhfSegmentAttentionGrad(q, k, v, cos, sin, layout, o, lse, do; scale) -> dq, dk, dv
//
// layout[b][t] = (position, s, p0, p1) as floats (integers below 2^24 are exact; TF's C kernel API reads a
// float input like every other here). s stored as -1 - s (negative) marks a query whose output nobody reads
// (the last layer of a forward that reads some rows only): a block of 8 such rows is not computed (o and lse 0
// forward; dq 0 and nothing into dk, dv backward, exact since such an output's gradient is 0); in a block with
// a read row it is computed as usual. Its position still rotates its key, which later queries read. Positions
// index the [T, d/2] tables: a packed position never exceeds its index in the row. The key ranges are checked before any work (a bad layout is an error naming the
// token). Query blocks of RS = 8 rows are kept (8 rows share each loaded key chunk); a block may straddle segments,
// so each row carries its own ranges and the block visits only the key chunks some row sees ("live" chunks):
// a rejected completion's block skips the chosen completion between it and its prompt. Scores of keys a row
// does not see are set to exactly 0 after the exponential, so the weighted sums need no mask (as in the
// TF.js path, a non-finite key or value a row does not see would still reach it through 0·x: the layout never
// holds one, and the TF.js path's additive mask behaves the same).

struct SegRow {
  int i, pos, s, p0, p1;  // query index, its position, own segment start, prefix range
  bool read;              // false: nobody reads this query's output (layout's s stored as -1 - s)
  bool Sees(int j) const { return (j >= s && j <= i) || (j >= p0 && j < p1); }
};

// Query `first + i` of row b, its indices (i and the ranges) counted from `first`: a span's kernels work in the span's
// own coordinates. The position is not shifted (it indexes the rope tables).
SegRow ReadSegRow(const float* layout, int64_t b, int64_t T, int i, int first = 0) {
  const float* l = layout + static_cast<size_t>((b * T + first + i) * 4);
  const int s = static_cast<int>(l[1]);
  return SegRow{i, static_cast<int>(l[0]), (s < 0 ? -1 - s : s) - first, static_cast<int>(l[2]) - first, static_cast<int>(l[3]) - first, s >= 0};
}

// A span of packed row b: positions [first, first + len) whose queries see no key outside it (its items attend
// only to themselves). The segment kernels compute span by span, each in its own coordinates, so the results of an
// item that is a span of its own do not depend on where in a row it was packed or what shares the row, and one long
// row (a whole batch packed into a single row) splits into as many tasks as a batch of short rows.
struct SegSpan {
  int64_t b;
  int first, len;
};

// Spans are at least this long (a row's last may be shorter): consecutive items shorter than that share a span,
// so unused cells (a segment of one each) and short sequences do not become tasks of their own.
constexpr int kMinSpan = 256;

// Row by row, the spans the layout allows: position t can start a span when no query at or after t sees a key
// before t (the first key a query sees: its prefix start, or its segment start without a prefix). Cut greedily
// at the first such position once a span holds kMinSpan positions. From the layout alone, so the tasks (and with
// them every result) are the same for any number of threads.
std::vector<SegSpan> SegSpans(const float* layout, const Dims& D) {
  std::vector<SegSpan> spans;
  const int T = static_cast<int>(D.T);
  std::vector<unsigned char> can_start(T);
  for (int64_t b = 0; b < D.B; b++) {
    int first_seen = T;  // the smallest first key over queries t.. T-1
    for (int t = T - 1; t >= 0; t--) {
      const SegRow r = ReadSegRow(layout, b, D.T, t);
      first_seen = std::min(first_seen, r.p1 > r.p0 ? r.p0 : r.s);
      can_start[t] = first_seen >= t;
    }
    int start = 0;
    for (int t = 1; t < T; t++) {
      if (can_start[t] && t - start >= kMinSpan) {
        spans.push_back({b, start, t - start});
        start = t;
      }
    }
    spans.push_back({b, start, T - start});
  }
  return spans;
}

// Grow-only per-thread list of live chunk indices and their whole flags (no allocation after the first calls, as
// Scratch).
thread_local std::vector<int> live_chunks;
thread_local std::vector<unsigned char> whole_chunks;

// Segment blocks take RS = 8 query rows, twice the causal kernel's R: K, V and their gradients are d·Tp floats
// each (15m: 86 KB), beyond L1, so each key chunk loaded from L2 should feed as many rows as the registers allow
// (bench/attention-kernel.ts, 1 thread: 15m shapes forward ~21 -> 14 ms, backward ~47 -> 31 ms per call;
// stories260K shapes ~8 -> 5.6 and ~13 -> 9). The causal kernel measured no better with 8 rows (stories260K
// shapes slower), so it keeps 4.
constexpr int RS = 8;

// A block of `rows` <= RS query rows i0.. with their ranges and the key chunks any of them sees. A live chunk is
// "whole" when every row sees all of its W keys (inside one row's prompt range or own segment): the softmax
// passes skip the lane masks there, which cost as much as the exponential (most chunks of a long prompt are
// whole; only those at a segment's edges and the diagonal are not).
struct SegBlock {
  int i0, rows, d, Tp;
  SegRow row[RS];
  const int* live;
  const unsigned char* whole;
  int nlive;
  bool skip;  // no row of the block is read: the block is not computed (nothing set below but `row`)
  // Rows i0.. of the span starting at `first` (indices from the span's start).
  SegBlock(const float* layout, int64_t b, int64_t T, int first, int i0_, int rows_, int d_, int Tp_) : i0(i0_), rows(rows_), d(d_), Tp(Tp_) {
    int lo = INT32_MAX, hi = 0;
    skip = true;
    for (int r = 0; r < rows; r++) {
      row[r] = ReadSegRow(layout, b, T, i0 + r, first);
      skip = skip && !row[r].read;
      lo = std::min(lo, row[r].p1 > row[r].p0 ? row[r].p0 : row[r].s);
      hi = std::max(hi, row[r].i + 1);
    }
    if (skip) {
      live = nullptr;
      whole = nullptr;
      nlive = 0;
      return;
    }
    const int lo_chunk = lo / W, end = (hi + W - 1) / W;
    if (static_cast<int>(live_chunks.size()) < end) {
      live_chunks.resize(end);
      whole_chunks.resize(end);
    }
    nlive = 0;
    for (int c = lo_chunk; c < end; c++) {
      const int a = c * W, z = a + W;  // lanes [a, z)
      bool any = false, all = true;
      // Once some row sees the chunk and some row does not see all of it, it is live and masked: the rest can't change that.
      for (int r = 0; r < rows && (all || !any); r++) {
        const SegRow& x = row[r];
        any = any || (a <= x.i && z > x.s) || (a < x.p1 && z > x.p0);
        all = all && ((a >= x.s && z - 1 <= x.i) || (a >= x.p0 && z <= x.p1));
      }
      if (any) {
        whole_chunks[nlive] = all;
        live_chunks[nlive++] = c;
      }
    }
    live = live_chunks.data();
    whole = whole_chunks.data();
  }
  // The block of row r alone (the last, partial block goes one row at a time): a chunk whole for all rows is whole
  // for this one.
  SegBlock(const SegBlock& parent, int r)
      : i0(parent.i0 + r), rows(1), d(parent.d), Tp(parent.Tp), live(parent.live), whole(parent.whole), nlive(parent.nlive), skip(false) {
    row[0] = parent.row[r];
  }
};

// out[r][j] = alpha · Σ_c a[r·lda + c] · X[c][j] over the live chunks.
template <int RR>
RLHF_CLONES void SegScoresT(const SegBlock& b, const float* a, int lda, const float* X, float alpha, float* out) {
  for (int n = 0; n < b.nlive; n++) {
    const int jc = b.live[n];
    vf acc[RR] = {};
    for (int c = 0; c < b.d; c++) {
      const vf x = Load(X + static_cast<size_t>(c) * b.Tp + jc * W);
      for (int r = 0; r < RR; r++) acc[r] += a[r * lda + c] * x;
    }
    for (int r = 0; r < RR; r++) Store(out + static_cast<size_t>(r) * b.Tp + jc * W, alpha * acc[r]);
  }
}

// out[r·ldo + c] = alpha[r] · Σ_j w[r][j] · X[c][j] over the live chunks (w is 0 where row r sees no key).
template <int RR>
// Features go CG at a time: each loaded chunk of w feeds CG features (CG·RR accumulators in registers).
RLHF_CLONES void SegWeightedT(const SegBlock& b, const float* w, const float* X, const float* alpha, float* out, int ldo) {
  constexpr int CG = RR >= 8 ? 2 : 4;  // CG·RR <= 16 accumulators
  int c = 0;
  for (; c + CG <= b.d; c += CG) {
    const float* xr = X + static_cast<size_t>(c) * b.Tp;
    vf acc[CG][RR] = {};
    for (int n = 0; n < b.nlive; n++) {
      const int a = b.live[n] * W;
      vf wr[RR];
      for (int r = 0; r < RR; r++) wr[r] = Load(w + static_cast<size_t>(r) * b.Tp + a);
      for (int k = 0; k < CG; k++) {
        const vf x = Load(xr + static_cast<size_t>(k) * b.Tp + a);
        for (int r = 0; r < RR; r++) acc[k][r] += wr[r] * x;
      }
    }
    for (int k = 0; k < CG; k++) StoreSums<RR>(acc[k], alpha, out + c + k, ldo);
  }
  for (; c < b.d; c++) {
    const float* xr = X + static_cast<size_t>(c) * b.Tp;
    vf acc[RR] = {};
    for (int n = 0; n < b.nlive; n++) {
      const int jc = b.live[n];
      const vf x = Load(xr + jc * W);
      for (int r = 0; r < RR; r++) acc[r] += Load(w + static_cast<size_t>(r) * b.Tp + jc * W) * x;
    }
    StoreSums<RR>(acc, alpha, out + c, ldo);
  }
}

void SegScores(const SegBlock& b, const float* a, int lda, const float* X, float alpha, float* out) {
  if (b.rows == RS) return SegScoresT<RS>(b, a, lda, X, alpha, out);
  for (int r = 0; r < b.rows; r++) SegScoresT<1>(SegBlock(b, r), a + r * lda, lda, X, alpha, out + static_cast<size_t>(r) * b.Tp);
}
void SegWeighted(const SegBlock& b, const float* w, const float* X, const float* alpha, float* out, int ldo) {
  if (b.rows == RS) return SegWeightedT<RS>(b, w, X, alpha, out, ldo);
  for (int r = 0; r < b.rows; r++) SegWeightedT<1>(SegBlock(b, r), w + static_cast<size_t>(r) * b.Tp, X, alpha + r, out + r * ldo, ldo);
}

// Row x's mask over the keys a..a+W-1 (all lanes -1 where it sees the key, 0 elsewhere): x.Sees for W lanes.
RLHF_VECTOR_INLINE vi SeesLanes(const SegRow& x, int a) {
  const vi j = Lanes() + a;
  return InRange(j, x.s, x.i) | InRange(j, x.p0, x.p1 - 1);
}

// The block's softmax, all RR rows chunk by chunk (their exponentials are independent work for the core):
// s[r][j] <- exp(s[r][j] − m_r) where row r sees key j, else exactly 0, with m_r the largest score row r sees
// that is not NaN (-Inf if none; a NaN score still makes its row NaN through the exp); then
// lse[r] <- m_r + log Σ_j and inv[r] <- 1 / Σ_j.
template <int RR>
RLHF_CLONES void SegSoftmaxT(const SegBlock& b, float* s, float* lse, float* inv) {
  vf m[RR];
  for (int r = 0; r < RR; r++) m[r] = Splat(-INFINITY);
  for (int n = 0; n < b.nlive; n++) {
    const int a = b.live[n] * W;
    if (b.whole[n]) {
      for (int r = 0; r < RR; r++) {
        const vf v = Load(s + static_cast<size_t>(r) * b.Tp + a);
        m[r] = v > m[r] ? v : m[r];
      }
      continue;
    }
    for (int r = 0; r < RR; r++) {
      const vf v = Blend(SeesLanes(b.row[r], a), Load(s + static_cast<size_t>(r) * b.Tp + a), Splat(-INFINITY));
      m[r] = v > m[r] ? v : m[r];
    }
  }
  float mx[RR];
  vf sum[RR];
  for (int r = 0; r < RR; r++) {
    mx[r] = Max(m[r]);
    sum[r] = vf{};
  }
  for (int n = 0; n < b.nlive; n++) {
    const int a = b.live[n] * W;
    const bool whole = b.whole[n];
    for (int r = 0; r < RR; r++) {
      float* sr = s + static_cast<size_t>(r) * b.Tp + a;
      vf e = ExpNonPositive(Load(sr) - mx[r]);
      if (!whole) e = Keep(e, SeesLanes(b.row[r], a));
      Store(sr, e);
      sum[r] += e;
    }
  }
  for (int r = 0; r < RR; r++) {
    const float l = Sum(sum[r]);
    inv[r] = 1.0f / l;
    lse[r] = mx[r] + std::log(l);
  }
}

// The backward's first pass in one loop over the live chunks, for RR rows: the scores S = scale·q·kᵀ and
// dP = dO·vᵀ, then P = exp(S − lse) where the row sees the key, else exactly 0, and dS = P ∘ (dP − D).
// q is [RR][d] (rotated), dO rows are ldo apart; p and ds get RR rows of Tp.
template <int RR>
RLHF_CLONES void SegScoresBackwardT(const SegBlock& b, const float* q, const float* dO, int ldo, const float* kt, const float* vt, float scale,
                                    const float* lse, const float* Di, float* p, float* ds) {
  for (int n = 0; n < b.nlive; n++) {
    const int a = b.live[n] * W;
    // Two loops of RR accumulators each rather than one of 2·RR: with both in one loop GCC kept the arrays in
    // memory and cleared them with `rep stos` on every chunk (~10% of this function's time in perf).
    vf sc[RR], dp[RR];
    for (int r = 0; r < RR; r++) sc[r] = dp[r] = vf{};
    for (int c = 0; c < b.d; c++) {
      const vf x = Load(kt + static_cast<size_t>(c) * b.Tp + a);
      for (int r = 0; r < RR; r++) sc[r] += q[r * b.d + c] * x;
    }
    for (int c = 0; c < b.d; c++) {
      const vf y = Load(vt + static_cast<size_t>(c) * b.Tp + a);
      for (int r = 0; r < RR; r++) dp[r] += dO[r * ldo + c] * y;
    }
    const bool whole = b.whole[n];
    for (int r = 0; r < RR; r++) {
      const size_t at = static_cast<size_t>(r) * b.Tp + a;
      vf e = ExpNonPositive(scale * sc[r] - lse[r]);
      if (!whole) e = Keep(e, SeesLanes(b.row[r], a));
      Store(p + at, e);
      Store(ds + at, e * (dp[r] - Di[r]));
    }
  }
}

// X[c][a..a+W) += Σ_r coef[r·ldc + c] · w[r][a..a+W) for every feature c (w rows Tp apart), four features at a
// time: four independent sums per row of w. One feature at a time made each chunk a chain of RR dependent
// multiply-adds (GCC then split it into multiplies and adds), latency-bound (perf: the backward's second-largest
// function).
template <int RR>
RLHF_VECTOR_INLINE void AccumulateChunk(const float* coef, int ldc, const float* w, int Tp, int a, int d, float* X) {
  vf wr[RR];
  for (int r = 0; r < RR; r++) wr[r] = Load(w + static_cast<size_t>(r) * Tp + a);
  int c = 0;
  for (; c + 4 <= d; c += 4) {
    vf x[4];
    for (int k = 0; k < 4; k++) x[k] = Load(X + static_cast<size_t>(c + k) * Tp + a);
    for (int r = 0; r < RR; r++) {
      for (int k = 0; k < 4; k++) x[k] += coef[r * ldc + c + k] * wr[r];
    }
    for (int k = 0; k < 4; k++) Store(X + static_cast<size_t>(c + k) * Tp + a, x[k]);
  }
  for (; c < d; c++) {
    vf x = Load(X + static_cast<size_t>(c) * Tp + a);
    for (int r = 0; r < RR; r++) x += coef[r * ldc + c] * wr[r];
    Store(X + static_cast<size_t>(c) * Tp + a, x);
  }
}

// dk[c][j] += Σ_r qs[r][c]·ds[r][j] and dv[c][j] += Σ_r dO[r][c]·p[r][j] over the live chunks (qs = scale·q,
// [RR][d]; p and ds are 0 where a row sees no key), chunk by chunk.
template <int RR>
RLHF_CLONES void SegAccumulateKVT(const SegBlock& b, const float* qs, const float* dO, int ldo, const float* p, const float* ds, float* dkt,
                                  float* dvt) {
  for (int n = 0; n < b.nlive; n++) {
    const int a = b.live[n] * W;
    AccumulateChunk<RR>(qs, b.d, ds, b.Tp, a, b.d, dkt);
    AccumulateChunk<RR>(dO, ldo, p, b.Tp, a, b.d, dvt);
  }
}

// Full blocks take all R rows at once; the last partial block goes one row at a time.
void SegSoftmax(const SegBlock& b, float* s, float* lse, float* inv) {
  if (b.rows == RS) return SegSoftmaxT<RS>(b, s, lse, inv);
  for (int r = 0; r < b.rows; r++) SegSoftmaxT<1>(SegBlock(b, r), s + static_cast<size_t>(r) * b.Tp, lse + r, inv + r);
}
void SegScoresBackward(const SegBlock& b, const float* q, const float* dO, int ldo, const float* kt, const float* vt, float scale, const float* lse,
                       const float* Di, float* p, float* ds) {
  if (b.rows == RS) return SegScoresBackwardT<RS>(b, q, dO, ldo, kt, vt, scale, lse, Di, p, ds);
  for (int r = 0; r < b.rows; r++) {
    const size_t at = static_cast<size_t>(r) * b.Tp;
    SegScoresBackwardT<1>(SegBlock(b, r), q + r * b.d, dO + r * ldo, ldo, kt, vt, scale, lse + r, Di + r, p + at, ds + at);
  }
}
void SegAccumulateKV(const SegBlock& b, const float* qs, const float* dO, int ldo, const float* p, const float* ds, float* dkt, float* dvt) {
  if (b.rows == RS) return SegAccumulateKVT<RS>(b, qs, dO, ldo, p, ds, dkt, dvt);
  for (int r = 0; r < b.rows; r++) {
    const size_t at = static_cast<size_t>(r) * b.Tp;
    SegAccumulateKVT<1>(SegBlock(b, r), qs + r * b.d, dO + r * ldo, ldo, p + at, ds + at, dkt, dvt);
  }
}

// One span of one kv head (its g query heads), forward.
void SegForwardSpan(const float* q, const float* k, const float* v, const Rope& rope, const float* layout, float* o, float* lse, const Dims& D,
                    float scale, const SegSpan& sp, int64_t kh) {
  const int64_t b = sp.b;
  const int T = sp.len, first = sp.first, d = static_cast<int>(D.d), Tp = PaddedLength(sp.len);
  const int ld = static_cast<int>(D.H * D.d);
  const int64_t g = D.H / D.kvH;
  const size_t dT = static_cast<size_t>(d) * Tp;
  scratch.Reset(2 * dT + static_cast<size_t>(RS) * Tp + static_cast<size_t>(RS) * d + static_cast<size_t>(W) * d);
  float* const kt = scratch.Take(dT, true);
  float* const vt = scratch.Take(dT, true);
  float* const s = scratch.Take(static_cast<size_t>(RS) * Tp, false);
  float* const qr = scratch.Take(static_cast<size_t>(RS) * d, false);
  float* const tile = scratch.Take(static_cast<size_t>(W) * d, false);
  GatherTransposed(k, layout, D, D.kvH, b, kh, first, T, Tp, &rope, tile, kt);
  GatherTransposed(v, layout, D, D.kvH, b, kh, first, T, Tp, nullptr, tile, vt);
  float inv[RS];
  for (int i0 = 0; i0 < T; i0 += RS) {
    const SegBlock blk(layout, b, D.T, first, i0, std::min(RS, T - i0), d, Tp);
    for (int64_t gi = 0; gi < g; gi++) {
      const int64_t h = kh * g + gi;
      float* const lse_at = lse + static_cast<size_t>((b * D.H + h) * D.T + first + i0);
      if (blk.skip) {  // outputs nobody reads: zeros, so the tensor holds no uninitialised memory
        for (int r = 0; r < blk.rows; r++) std::fill_n(o + D.QIndex(b, first + i0 + r, h), d, 0.0f);
        std::fill_n(lse_at, blk.rows, 0.0f);
        continue;
      }
      for (int r = 0; r < blk.rows; r++) rope.Rotate(q + D.QIndex(b, first + i0 + r, h), blk.row[r].pos, qr + static_cast<size_t>(r) * d);
      SegScores(blk, qr, d, kt, scale, s);
      SegSoftmax(blk, s, lse_at, inv);
      SegWeighted(blk, s, vt, inv, o + D.QIndex(b, first + i0, h), ld);
    }
  }
}

// One span of one kv head, backward: its queries' dq, and dk, dv of its keys (which no other span's queries see).
void SegBackwardSpan(const float* q, const float* k, const float* v, const Rope& rope, const float* layout, const float* o, const float* lse,
                     const float* dout, float* dq, float* dk, float* dv, const Dims& D, float scale, const SegSpan& sp, int64_t kh) {
  const int64_t b = sp.b;
  const int T = sp.len, first = sp.first, d = static_cast<int>(D.d), Tp = PaddedLength(sp.len);
  const int ld = static_cast<int>(D.H * D.d);
  const int64_t g = D.H / D.kvH;
  const size_t dT = static_cast<size_t>(d) * Tp;
  scratch.Reset(4 * dT + 2 * static_cast<size_t>(RS) * Tp + 3 * static_cast<size_t>(RS) * d + static_cast<size_t>(W) * d);
  float* const kt = scratch.Take(dT, true);
  float* const vt = scratch.Take(dT, true);
  float* const dkt = scratch.Take(dT, true);
  float* const dvt = scratch.Take(dT, true);
  float* const p = scratch.Take(static_cast<size_t>(RS) * Tp, false);
  float* const ds = scratch.Take(static_cast<size_t>(RS) * Tp, false);
  float* const qr = scratch.Take(static_cast<size_t>(RS) * d, false);
  float* const qs = scratch.Take(static_cast<size_t>(RS) * d, false);
  float* const dqr = scratch.Take(static_cast<size_t>(RS) * d, false);
  float* const tile = scratch.Take(static_cast<size_t>(W) * d, false);
  GatherTransposed(k, layout, D, D.kvH, b, kh, first, T, Tp, &rope, tile, kt);
  GatherTransposed(v, layout, D, D.kvH, b, kh, first, T, Tp, nullptr, tile, vt);
  float scales[RS];
  std::fill(scales, scales + RS, scale);
  for (int i0 = 0; i0 < T; i0 += RS) {
    const SegBlock blk(layout, b, D.T, first, i0, std::min(RS, T - i0), d, Tp);
    for (int64_t gi = 0; gi < g; gi++) {
      const int64_t h = kh * g + gi;
      const size_t qi = D.QIndex(b, first + i0, h);
      if (blk.skip) {  // unread outputs have a zero gradient: dq is 0 there and dk, dv get nothing from them
        for (int r = 0; r < blk.rows; r++) std::fill_n(dq + qi + static_cast<size_t>(r) * ld, d, 0.0f);
        continue;
      }
      float Di[RS];  // rowsum(dO ∘ O)
      for (int r = 0; r < blk.rows; r++) {
        rope.Rotate(q + qi + static_cast<size_t>(r) * ld, blk.row[r].pos, qr + static_cast<size_t>(r) * d);
        for (int c = 0; c < d; c++) qs[r * d + c] = scale * qr[r * d + c];
        const size_t at = qi + static_cast<size_t>(r) * ld;
        Di[r] = 0.0f;
        for (int c = 0; c < d; c++) Di[r] += dout[at + c] * o[at + c];
      }
      SegScoresBackward(blk, qr, dout + qi, ld, kt, vt, scale, lse + static_cast<size_t>((b * D.H + h) * D.T + first + i0), Di, p, ds);  // P, dS
      SegWeighted(blk, ds, kt, scales, dqr, d);  // dq (rotated) = scale · dS·k
      for (int r = 0; r < blk.rows; r++) rope.RotateBack(dqr + static_cast<size_t>(r) * d, blk.row[r].pos, dq + qi + static_cast<size_t>(r) * ld);
      SegAccumulateKV(blk, qs, dout + qi, ld, p, ds, dkt, dvt);  // dk (rotated) += dSᵀ·(scale·q), dv += Pᵀ·dO
    }
  }
  ScatterTransposed(dkt, layout, D, D.kvH, b, kh, first, T, Tp, &rope, tile, dk);
  ScatterTransposed(dvt, layout, D, D.kvH, b, kh, first, T, Tp, nullptr, tile, dv);
}

// layout (input `index`) must be [B,T,4] with every token's ranges inside its row and position inside the
// tables; false after reporting the first token that is not.
bool ReadSegLayout(TF_OpKernelContext* ctx, const char* op, const Inputs& in, int index, const Dims& D) {
  TF_Tensor* l = in.t[index];
  if (TF_NumDims(l) != 3 || TF_Dim(l, 0) != D.B || TF_Dim(l, 1) != D.T || TF_Dim(l, 2) != 4) {
    return Fail(ctx, std::string(op) + ": layout must be [B,T,4] = [" + std::to_string(D.B) + "," + std::to_string(D.T) + ",4]; got " + ShapeOf(l)), false;
  }
  const float* x = in.data(index);
  for (int64_t b = 0; b < D.B; b++) {
    for (int64_t t = 0; t < D.T; t++) {
      const float* e = x + static_cast<size_t>((b * D.T + t) * 4);
      const SegRow r = ReadSegRow(x, b, D.T, static_cast<int>(t));
      const bool whole = e[0] == r.pos && e[1] == (r.read ? r.s : -1 - r.s) && e[2] == r.p0 && e[3] == r.p1;
      if (!whole || r.pos < 0 || r.pos >= D.T || r.p0 < 0 || r.p0 > r.p1 || r.p1 > r.s || r.s > t) {
        return Fail(ctx, std::string(op) + ": layout[" + std::to_string(b) + "][" + std::to_string(t) + "] = (" + std::to_string(e[0]) + ", " +
                             std::to_string(e[1]) + ", " + std::to_string(e[2]) + ", " + std::to_string(e[3]) +
                             "); expected integers (position < T, s or -1 - s, p0, p1) with 0 <= p0 <= p1 <= s <= t"), false;
      }
    }
  }
  return true;
}

// Inputs q, k, v, cos, sin, layout; outputs o [B,T,H,d], lse [B,H,T].
void ComputeSegForward(void* kernel, TF_OpKernelContext* ctx) {
  const float scale = static_cast<Attrs*>(kernel)->value;
  Inputs in;
  Dims D;
  Rope rope;
  if (!ReadAttention(ctx, "RlhfSegmentAttention", 6, &in, &D, &rope) || !ReadSegLayout(ctx, "RlhfSegmentAttention", in, 5, D)) return;
  std::vector<TF_Tensor*> outs;
  float* o = Output(ctx, 0, {D.B, D.T, D.H, D.d}, &outs);
  float* lse = o ? Output(ctx, 1, {D.B, D.H, D.T}, &outs) : nullptr;
  if (o && lse) {
    const float *q = in.data(0), *k = in.data(1), *v = in.data(2), *layout = in.data(5);
    const std::vector<SegSpan> spans = SegSpans(layout, D);
    pool().Run(static_cast<int>(spans.size() * D.kvH), [&](int i) { SegForwardSpan(q, k, v, rope, layout, o, lse, D, scale, spans[i / D.kvH], i % D.kvH); });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Inputs q, k, v, cos, sin, layout, o, lse, do; outputs dq, dk, dv (with respect to the unrotated q and k).
void ComputeSegBackward(void* kernel, TF_OpKernelContext* ctx) {
  const float scale = static_cast<Attrs*>(kernel)->value;
  Inputs in;
  Dims D;
  Rope rope;
  const char* op = "RlhfSegmentAttentionGrad";
  if (!ReadAttention(ctx, op, 9, &in, &D, &rope) || !ReadSegLayout(ctx, op, in, 5, D)) return;
  const std::string qs = ShapeOf(in.t[0]);
  if (ShapeOf(in.t[6]) != qs || ShapeOf(in.t[8]) != qs || TF_NumDims(in.t[7]) != 3 || TF_Dim(in.t[7], 0) != D.B || TF_Dim(in.t[7], 1) != D.H ||
      TF_Dim(in.t[7], 2) != D.T) {
    return Fail(ctx, std::string(op) + ": o and do must be shaped like q " + qs + " and lse [B,H,T]; got " + ShapeOf(in.t[6]) + ", " +
                         ShapeOf(in.t[8]) + ", " + ShapeOf(in.t[7]));
  }
  std::vector<TF_Tensor*> outs;
  float* dq = Output(ctx, 0, {D.B, D.T, D.H, D.d}, &outs);
  float* dk = dq ? Output(ctx, 1, {D.B, D.T, D.kvH, D.d}, &outs) : nullptr;
  float* dv = dk ? Output(ctx, 2, {D.B, D.T, D.kvH, D.d}, &outs) : nullptr;
  if (dq && dk && dv) {
    const float *q = in.data(0), *k = in.data(1), *v = in.data(2), *layout = in.data(5), *o = in.data(6), *lse = in.data(7), *dout = in.data(8);
    const std::vector<SegSpan> spans = SegSpans(layout, D);
    pool().Run(static_cast<int>(spans.size() * D.kvH),
               [&](int i) { SegBackwardSpan(q, k, v, rope, layout, o, lse, dout, dq, dk, dv, D, scale, spans[i / D.kvH], i % D.kvH); });
  }
  for (TF_Tensor* t : outs) TF_DeleteTensor(t);
}

// Registers both segment-attention ops and their CPU kernels; `check(what)` records the first failure.
void RegisterSegmentAttention(TF_Status* st, const std::function<void(const char*)>& check) {
  TF_OpDefinitionBuilder* f = TF_NewOpDefinitionBuilder("RlhfSegmentAttention");
  for (const char* s : {"q: float", "k: float", "v: float", "cos: float", "sin: float", "layout: float"}) TF_OpDefinitionBuilderAddInput(f, s);
  TF_OpDefinitionBuilderAddOutput(f, "o: float");
  TF_OpDefinitionBuilderAddOutput(f, "lse: float");
  TF_OpDefinitionBuilderAddAttr(f, "scale: float");
  TF_RegisterOpDefinition(f, st);
  check("RlhfSegmentAttention op");
  TF_OpDefinitionBuilder* g = TF_NewOpDefinitionBuilder("RlhfSegmentAttentionGrad");
  for (const char* s : {"q: float", "k: float", "v: float", "cos: float", "sin: float", "layout: float", "o: float", "lse: float", "do: float"}) {
    TF_OpDefinitionBuilderAddInput(g, s);
  }
  for (const char* s : {"dq: float", "dk: float", "dv: float"}) TF_OpDefinitionBuilderAddOutput(g, s);
  TF_OpDefinitionBuilderAddAttr(g, "scale: float");
  TF_RegisterOpDefinition(g, st);
  check("RlhfSegmentAttentionGrad op");
  TF_RegisterKernelBuilder("RlhfSegmentAttention", TF_NewKernelBuilder("RlhfSegmentAttention", "CPU", CreateKernel, ComputeSegForward, DeleteKernel), st);
  check("RlhfSegmentAttention kernel");
  TF_RegisterKernelBuilder("RlhfSegmentAttentionGrad",
                           TF_NewKernelBuilder("RlhfSegmentAttentionGrad", "CPU", CreateKernel, ComputeSegBackward, DeleteKernel), st);
  check("RlhfSegmentAttentionGrad kernel");
}

std::string Register() {
  static std::string result = [] {
    // Registered once per process: a second addon load (e.g. a fresh jest module registry) reuses them.
    TF_Status* st = TF_NewStatus();
    std::string err;
    auto check = [&](const char* what) {
      if (err.empty() && TF_GetCode(st) != TF_OK) err = std::string(what) + ": " + TF_Message(st);
    };
    TF_OpDefinitionBuilder* f = TF_NewOpDefinitionBuilder("RlhfCausalAttention");
    for (const char* s : {"q: float", "k: float", "v: float", "cos: float", "sin: float"}) TF_OpDefinitionBuilderAddInput(f, s);
    TF_OpDefinitionBuilderAddOutput(f, "o: float");
    TF_OpDefinitionBuilderAddOutput(f, "lse: float");
    TF_OpDefinitionBuilderAddAttr(f, "scale: float");
    TF_RegisterOpDefinition(f, st);
    check("RlhfCausalAttention op");
    TF_OpDefinitionBuilder* g = TF_NewOpDefinitionBuilder("RlhfCausalAttentionGrad");
    for (const char* s : {"q: float", "k: float", "v: float", "cos: float", "sin: float", "o: float", "lse: float", "do: float"}) TF_OpDefinitionBuilderAddInput(g, s);
    for (const char* s : {"dq: float", "dk: float", "dv: float"}) TF_OpDefinitionBuilderAddOutput(g, s);
    TF_OpDefinitionBuilderAddAttr(g, "scale: float");
    TF_RegisterOpDefinition(g, st);
    check("RlhfCausalAttentionGrad op");
    TF_RegisterKernelBuilder("RlhfCausalAttention", TF_NewKernelBuilder("RlhfCausalAttention", "CPU", CreateKernel, ComputeForward, DeleteKernel), st);
    check("RlhfCausalAttention kernel");
    TF_RegisterKernelBuilder("RlhfCausalAttentionGrad",
                             TF_NewKernelBuilder("RlhfCausalAttentionGrad", "CPU", CreateKernel, ComputeBackward, DeleteKernel), st);
    check("RlhfCausalAttentionGrad kernel");
    RegisterSegmentAttention(st, check);
    TF_OpDefinitionBuilder* ss = TF_NewOpDefinitionBuilder("RlhfSumSquares");
    TF_OpDefinitionBuilderAddInput(ss, "x: N * float");
    TF_OpDefinitionBuilderAddOutput(ss, "sum: float");
    TF_OpDefinitionBuilderAddAttr(ss, "N: int >= 1");
    TF_RegisterOpDefinition(ss, st);
    check("RlhfSumSquares op");
    TF_OpDefinitionBuilder* aw = TF_NewOpDefinitionBuilder("RlhfAdamW");
    for (const char* s : {"p: N * float", "m: N * float", "v: N * float", "g: N * float", "hyper: float", "decay: float"}) TF_OpDefinitionBuilderAddInput(aw, s);
    for (const char* s : {"p_out: N * float", "m_out: N * float", "v_out: N * float"}) TF_OpDefinitionBuilderAddOutput(aw, s);
    TF_OpDefinitionBuilderAddAttr(aw, "N: int >= 1");
    TF_RegisterOpDefinition(aw, st);
    check("RlhfAdamW op");
    TF_RegisterKernelBuilder("RlhfSumSquares", TF_NewKernelBuilder("RlhfSumSquares", "CPU", CreatePlainKernel, ComputeSumSquares, DeletePlainKernel), st);
    check("RlhfSumSquares kernel");
    TF_RegisterKernelBuilder("RlhfAdamW", TF_NewKernelBuilder("RlhfAdamW", "CPU", CreatePlainKernel, ComputeAdamW, DeletePlainKernel), st);
    check("RlhfAdamW kernel");
    struct Simple {
      const char* name;
      std::vector<const char*> inputs, outputs, attrs;
      void* (*create)(TF_OpKernelConstruction*);
      void (*compute)(void*, TF_OpKernelContext*);
      void (*remove)(void*);
    };
    const Simple simple[] = {
        {"RlhfRmsNorm", {"x: float", "w: float"}, {"y: float", "r: float"}, {"eps: float"}, CreateEpsKernel, ComputeRmsNorm, DeleteKernel},
        {"RlhfRmsNormGrad", {"x: float", "w: float", "r: float", "dy: float"}, {"dx: float", "dw: float"}, {}, CreatePlainKernel,
         ComputeRmsNormGrad, DeletePlainKernel},
        {"RlhfSiluMul", {"g: float", "u: float"}, {"y: float"}, {}, CreatePlainKernel, ComputeSiluMul, DeletePlainKernel},
        {"RlhfSiluMulGrad", {"g: float", "u: float", "dy: float"}, {"dg: float", "du: float"}, {}, CreatePlainKernel, ComputeSiluMulGrad,
         DeletePlainKernel},
        {"RlhfLogSoftmaxPick", {"logits: float", "targets: float"}, {"picked: float", "lse: float"}, {}, CreatePlainKernel,
         ComputeLogSoftmaxPick, DeletePlainKernel},
        {"RlhfLogSoftmaxPickGrad", {"logits: float", "lse: float", "targets: float", "dy: float"}, {"g: float"}, {}, CreatePlainKernel,
         ComputeLogSoftmaxPickGrad, DeletePlainKernel},
    };
    for (const Simple& op : simple) {
      TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder(op.name);
      for (const char* x : op.inputs) TF_OpDefinitionBuilderAddInput(b, x);
      for (const char* x : op.outputs) TF_OpDefinitionBuilderAddOutput(b, x);
      for (const char* x : op.attrs) TF_OpDefinitionBuilderAddAttr(b, x);
      TF_RegisterOpDefinition(b, st);
      check(op.name);
      TF_RegisterKernelBuilder(op.name, TF_NewKernelBuilder(op.name, "CPU", op.create, op.compute, op.remove), st);
      check(op.name);
    }
    TF_DeleteStatus(st);
    return err;
  }();
  return result;
}

#include "decoder.h"

napi_value Init(napi_env env, napi_value exports) {
  const std::string err = Register();
  RegisterDecoder(env, exports);
  napi_value abi, threads, error;
  napi_create_int32(env, RLHF_OPS_ABI, &abi);
  napi_create_int32(env, pool().threads(), &threads);
  napi_set_named_property(env, exports, "abi", abi);
  napi_set_named_property(env, exports, "threads", threads);
  if (!err.empty()) {
    napi_create_string_utf8(env, err.c_str(), err.size(), &error);
    napi_set_named_property(env, exports, "error", error);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
