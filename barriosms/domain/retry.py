"""When to try sending an SMS again."""

from __future__ import annotations


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Capped exponential back-off: base, 2*base, 4*base, ... never more than max_seconds.

    `attempts` is how many attempts have failed so far (1 after the first failure).
    """
    if attempts < 1:
        return 0.0
    # min() before the power would overflow for a message retried for weeks.
    exponent = min(attempts - 1, 32)
    return float(min(max_seconds, base_seconds * (2 ** exponent)))
