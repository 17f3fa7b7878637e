#include "cascade_core/rng.hpp"

#include <array>

#if defined(__GNUC__) && defined(__x86_64__)
#define CASCADE_CORE_PHILOX_AVX2 1
#include <immintrin.h>
#endif

namespace cascade_core {

namespace {

void philox_scalar(std::size_t begin, std::size_t n, const std::uint32_t* item, std::uint32_t c1,
                   std::uint32_t c2, std::uint32_t c3, PhiloxKey key, std::uint32_t* w0,
                   std::uint32_t* w1, std::uint32_t* w2, std::uint32_t* w3) noexcept {
  for (std::size_t i = begin; i < n; ++i) {
    const PhiloxCounter w = philox4x32_10({item[i], c1, c2, c3}, key);
    w0[i] = w[0];
    w1[i] = w[1];
    w2[i] = w[2];
    w3[i] = w[3];
  }
}

#ifdef CASCADE_CORE_PHILOX_AVX2
constexpr std::uint32_t m0 = 0xD2511F53U, m1 = 0xCD9E8D57U;

struct KeySchedule {
  std::array<std::uint32_t, 10> k0, k1;  // the round keys, the same for every counter
  explicit KeySchedule(PhiloxKey key) {
    for (std::uint32_t round = 0; round < 10; ++round) {
      k0[round] = key[0] + round * 0x9E3779B9U;
      k1[round] = key[1] + round * 0xBB67AE85U;
    }
  }
};

// The low halves of a's and b's lanes, as 8 words.
__attribute__((target("avx2"))) inline void store_low_halves(std::uint32_t* out, __m256i a, __m256i b) noexcept {
  const __m256i pack = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // low halves first
  const __m128i lo = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(a, pack));
  const __m128i hi = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(b, pack));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_set_m128i(hi, lo));
}

// Four counters per vector, each word in the low half of a 64-bit lane: a 32x32->64 product
// is one vpmuludq (which reads only low halves), so the high halves that x1 and x3 carry
// from the products are never read. Two vectors at a time for instruction-level parallelism.
// Returns how many counters it did (a multiple of 8); the rest go to philox_scalar.
__attribute__((target("avx2"))) std::size_t philox_avx2(
    std::size_t n, const std::uint32_t* item, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
    const KeySchedule& ks, std::uint32_t* w0, std::uint32_t* w1, std::uint32_t* w2,
    std::uint32_t* w3) noexcept {
  const __m256i mul0 = _mm256_set1_epi64x(m0), mul1 = _mm256_set1_epi64x(m1);
  const __m256i v1 = _mm256_set1_epi64x(c1), v2 = _mm256_set1_epi64x(c2), v3 = _mm256_set1_epi64x(c3);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i a0 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(item + i)));
    __m256i b0 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(item + i + 4)));
    __m256i a1 = v1, b1 = v1, a2 = v2, b2 = v2, a3 = v3, b3 = v3;
    for (int round = 0; round < 10; ++round) {
      const __m256i k0 = _mm256_set1_epi64x(ks.k0[round]), k1 = _mm256_set1_epi64x(ks.k1[round]);
      const __m256i pa0 = _mm256_mul_epu32(a0, mul0), pa1 = _mm256_mul_epu32(a2, mul1);
      const __m256i pb0 = _mm256_mul_epu32(b0, mul0), pb1 = _mm256_mul_epu32(b2, mul1);
      a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa1, 32), a1), k0);
      b0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb1, 32), b1), k0);
      a1 = pa1;
      b1 = pb1;
      a2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa0, 32), a3), k1);
      b2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb0, 32), b3), k1);
      a3 = pa0;
      b3 = pb0;
    }
    store_low_halves(w0 + i, a0, b0);
    store_low_halves(w1 + i, a1, b1);
    store_low_halves(w2 + i, a2, b2);
    store_low_halves(w3 + i, a3, b3);
  }
  return i;
}

// The same with eight counters per vector (AVX-512F), sixteen per iteration; the low halves
// are stored with one vpmovqd. (GCC 12's avx512fintrin.h trips -Wmaybe-uninitialized on its
// own _mm512_undefined_* placeholders: silenced for these two functions only.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) inline void store_low_halves(std::uint32_t* out, __m512i a, __m512i b) noexcept {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtepi64_epi32(a));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), _mm512_cvtepi64_epi32(b));
}

__attribute__((target("avx512f"))) std::size_t philox_avx512(
    std::size_t n, const std::uint32_t* item, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
    const KeySchedule& ks, std::uint32_t* w0, std::uint32_t* w1, std::uint32_t* w2,
    std::uint32_t* w3) noexcept {
  const __m512i mul0 = _mm512_set1_epi64(m0), mul1 = _mm512_set1_epi64(m1);
  const __m512i v1 = _mm512_set1_epi64(c1), v2 = _mm512_set1_epi64(c2), v3 = _mm512_set1_epi64(c3);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i a0 = _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(item + i)));
    __m512i b0 = _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(item + i + 8)));
    __m512i a1 = v1, b1 = v1, a2 = v2, b2 = v2, a3 = v3, b3 = v3;
    for (int round = 0; round < 10; ++round) {
      const __m512i k0 = _mm512_set1_epi64(ks.k0[round]), k1 = _mm512_set1_epi64(ks.k1[round]);
      const __m512i pa0 = _mm512_mul_epu32(a0, mul0), pa1 = _mm512_mul_epu32(a2, mul1);
      const __m512i pb0 = _mm512_mul_epu32(b0, mul0), pb1 = _mm512_mul_epu32(b2, mul1);
      a0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(pa1, 32), a1), k0);
      b0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(pb1, 32), b1), k0);
      a1 = pa1;
      b1 = pb1;
      a2 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(pa0, 32), a3), k1);
      b2 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(pb0, 32), b3), k1);
      a3 = pa0;
      b3 = pb0;
    }
    store_low_halves(w0 + i, a0, b0);
    store_low_halves(w1 + i, a1, b1);
    store_low_halves(w2 + i, a2, b2);
    store_low_halves(w3 + i, a3, b3);
  }
  return i;
}
#pragma GCC diagnostic pop
#endif

}  // namespace

std::size_t philox_width() noexcept {
#ifdef CASCADE_CORE_PHILOX_AVX2
  static const std::size_t width =
      __builtin_cpu_supports("avx512f") ? 16 : (__builtin_cpu_supports("avx2") ? 8 : 1);
  return width;
#else
  return 1;
#endif
}

void philox_blocks(std::size_t n, const std::uint32_t* item, std::uint32_t c1, std::uint32_t c2,
                   std::uint32_t c3, PhiloxKey key, std::uint32_t* w0, std::uint32_t* w1,
                   std::uint32_t* w2, std::uint32_t* w3) noexcept {
  std::size_t done = 0;
#ifdef CASCADE_CORE_PHILOX_AVX2
  const std::size_t width = philox_width();
  if (width > 1) {
    const KeySchedule ks(key);
    // the widest the CPU has, then AVX2 for a remainder of 8 or more, then one by one
    if (width == 16) done = philox_avx512(n, item, c1, c2, c3, ks, w0, w1, w2, w3);
    done += philox_avx2(n - done, item + done, c1, c2, c3, ks, w0 + done, w1 + done, w2 + done, w3 + done);
  }
#endif
  philox_scalar(done, n, item, c1, c2, c3, key, w0, w1, w2, w3);
}

}  // namespace cascade_core
