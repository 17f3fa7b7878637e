// (Private to the core's .cpp files.) A loop-heavy function marked CASCADE_CORE_SIMD_CLONES
// is compiled three times where the compiler can dispatch at run time (GCC on x86-64 Linux):
// for AVX-512 (x86-64-v4), for AVX2 and for the baseline, chosen when the library loads. All
// clones do the same IEEE operations (no FMA: the core is built with -ffp-contract=off), so
// the same bits (tests/test_montecarlo.py pins them with a hash).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __GNUC__ >= 12
#define CASCADE_CORE_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
// (the arch= level is used from GCC 12 on, the oldest GCC it was built and tested with)
#define CASCADE_CORE_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CASCADE_CORE_SIMD_CLONES
#endif
