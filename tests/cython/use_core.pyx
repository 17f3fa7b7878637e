# distutils: language = c++
# distutils: extra_compile_args = -std=c++20 -ffp-contract=off
# cython: language_level=3, boundscheck=False, wraparound=False
"""A compiled consumer of the engine's C++ API through liqcascade/cascade_core.pxd."""

import numpy as np

from liqcascade.cascade_core cimport Purpose, Stream, liquidation_price


def liquidation_prices(signed char[::1] side, double[::1] qty, double[::1] entry, double[::1] margin,
                       double[::1] mmr, double[::1] maint):
    out = np.empty(side.shape[0])
    cdef double[::1] view = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(side.shape[0]):
            view[i] = liquidation_price(side[i], qty[i], entry[i], margin[i], mmr[i], maint[i])
    return out


def uniforms(unsigned long long seed, unsigned long long scenario, unsigned int item, int n,
             unsigned int purpose=<unsigned int>Purpose.position):
    cdef Stream* stream = new Stream(seed, scenario, <Purpose>purpose, item)
    try:
        return [stream.uniform32() for _ in range(n)]
    finally:
        del stream
