"""The library's own warnings (issue 16): accepted input that is most likely a mistake."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.datasets import binance_btcusdt_depth

W = lc.LiqcascadeWarning


def test_the_warning_class_is_a_user_warning():
    assert issubclass(W, UserWarning) and lc.LiqcascadeWarning is W


@pytest.fixture(scope="module")
def snapshot() -> lc.OrderBook:
    return binance_btcusdt_depth()  # mid 61,800


@pytest.fixture(scope="module")
def around_100k() -> lc.Positions:
    return lc.PositionPopulation(count=20_000).sample(seed=0)  # sampled around 100,000


def test_positions_past_liquidation_at_the_reference_price_are_counted(snapshot, around_100k):
    longs_past = int(np.count_nonzero((around_100k.side > 0) & (around_100k.liquidation_price >= snapshot.mid)))
    assert longs_past > 1000
    with pytest.warns(W, match=rf"^positions: {longs_past:,} of [\d,]+ long positions are already past"):
        lc.cascade(snapshot, around_100k, -0.001)
    with pytest.warns(W, match=rf"{longs_past:,} of [\d,]+ long positions"):
        lc.cascade_many(snapshot, around_100k, [-0.001, -0.002])
    with pytest.warns(W, match="long positions are already past"):
        lc.simulate(snapshot, around_100k, "binance", steps=2)


def test_no_warning_for_a_population_around_the_books_mid(snapshot):
    positions = lc.PositionPopulation(count=20_000).sample(seed=0, book_model=lc.BookModel(mid=snapshot.mid))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lc.cascade(snapshot, positions, -0.002)
        lc.cascade(snapshot, positions, 0.002)
        lc.cascade_many(snapshot, positions, [-0.002, 0.0, 0.002])
        lc.simulate(snapshot, positions, "binance", steps=3, insurance_fund=1e6)


def test_the_warning_points_at_the_callers_line(snapshot, around_100k):
    with pytest.warns(W) as record:
        lc.cascade(snapshot, around_100k, -0.001)
    assert record[0].filename == __file__


def test_shocks_beyond_the_documented_bound():
    assert lc._warnings.SHOCK_WARN_ABOVE == 1.0
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=2_000).sample(seed=1)
    with pytest.warns(W, match=r"^shock: 5 is a relative move of \+500%"):
        lc.cascade(book, positions, 5)
    with pytest.warns(W, match=r"^shocks: 1 of 3 shocks, first shocks\[2\] = 1.5"):
        lc.cascade_many(book, positions, [0.1, -0.1, 1.5])
    with pytest.warns(W, match=r"^shock: 2 is a relative move"):
        lc.simulate(book, positions, "binance", steps=2, shock=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lc.cascade(book, positions, 1.0)  # +100 %: at the bound, no warning
        lc.cascade(book, positions, -0.5)


def test_student_t_without_a_mean():
    with pytest.warns(W, match=r"^df: a Student-t with df <= 1 has no mean \(df = 1\)"):
        lc.ShockModel.student_t(df=1, scale=0.02)
    with pytest.warns(W, match=r"df = 0.5"):
        lc.ShockModel.student_t(df=0.5, scale=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lc.ShockModel.student_t(df=1.5, scale=0.02)
        lc.ShockModel.student_t(df=3, scale=0.02)


def test_negative_insurance_fund():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=2_000).sample(seed=1)
    with pytest.warns(W, match=r"^insurance_fund: starts negative \(-1,000.00\)"):
        lc.simulate(book, positions, "binance", steps=2, insurance_fund=-1000.0)
