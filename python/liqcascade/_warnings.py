"""The library's own warnings: input that is accepted, because it is well defined, but that is
most likely a mistake (filter them as ``liqcascade.LiqcascadeWarning``)."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["SHOCK_WARN_ABOVE", "LiqcascadeWarning", "warn"]

#: A relative shock larger than this in magnitude (1.0 = +-100 %) is accepted but warned
#: about: ``shock=5`` means +500 %, not 5 %.
SHOCK_WARN_ABOVE = 1.0


class LiqcascadeWarning(UserWarning):
    """Accepted input that is most likely a mistake: positions already past their liquidation
    price at the reference price, a relative shock beyond +-100 %, leverage above the tier's
    maximum, a Student-t with ``df <= 1`` (no mean), a negative insurance fund."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def warn(message: str) -> None:
    """Issue a :class:`LiqcascadeWarning` attributed to the first caller outside this package
    (the user's line, however deep inside the library the check runs)."""
    level = 2  # warnings.warn counts itself as 1: 2 is the caller of warn()
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, LiqcascadeWarning, stacklevel=level)
