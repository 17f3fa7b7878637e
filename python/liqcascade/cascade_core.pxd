# cython: language_level=3
# Cython declarations of the engine's header-only C++ API, for compiled code (Cython
# extensions) that wants the engine's exact formulas and random streams without Python:
#
#     # distutils: language = c++
#     # distutils: extra_compile_args = -std=c++20
#     from liqcascade.cascade_core cimport liquidation_price, Stream, Purpose
#
# and build with include_dirs=[liqcascade.get_include()]. Everything here is nogil.

from libc.stdint cimport uint32_t, uint64_t


cdef extern from "cascade_core/margin.hpp" namespace "cascade_core" nogil:
    # docs/design.md's liquidation price (side +1 long, -1 short) and bankruptcy price
    double liquidation_price(double side, double qty, double entry, double margin, double mmr,
                             double maint_amount)
    double bankruptcy_price(double side, double qty, double entry, double margin)


cdef extern from "cascade_core/rng.hpp" namespace "cascade_core" nogil:
    cpdef enum class Purpose(uint32_t):
        scenario
        book_bids
        book_asks
        position
        side
        entry

    # A counter-based stream (Philox4x32-10): a pure function of (seed, scenario, purpose, item)
    cdef cppclass Stream:
        Stream(uint64_t seed, uint64_t scenario, Purpose purpose, uint32_t item)
        uint32_t next_u32()
        double uniform()
        double uniform32()
        double normal()
        double student_t(double df)
