// (Private to the core's .cpp files.) A loop-heavy function marked CASCADE_CORE_SIMD_CLONES
// is compiled twice where the compiler can dispatch at run time (GCC on x86-64 Linux): for
// AVX2 and for the baseline, chosen when the library loads. Both clones do the same IEEE
// operations (no FMA: the core is built with -ffp-contract=off), so the same bits.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CASCADE_CORE_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CASCADE_CORE_SIMD_CLONES
#endif
