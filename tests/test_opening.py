"""Opening a case: its tracking number is free, counted, and grows a digit when 7 get scarce."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from barriosms.cases.opening import open_case, tracking_lengths, unused_tracking
from barriosms.domain.tracking import GROW_AT, damm_check_digit, is_valid_tracking, new_tracking
from barriosms.store.models import Case, PracticeCase, TrackingFill, database
from barriosms.templates.loader import load_categories

T0 = dt.datetime(2026, 12, 6, 12, 0)


class CountingRandom(random.Random):
    """A seeded generator that counts the numbers drawn: the cost of finding a free number."""

    draws = 0

    def randint(self, a: int, b: int) -> int:
        self.draws += 1
        return super().randint(a, b)

    def randrange(self, *args, **kwargs) -> int:  # type: ignore[override]
        self.draws += 1
        return super().randrange(*args, **kwargs)


def fill() -> dict[int, int]:
    return {row.length: row.used for row in TrackingFill.select()}


def opened(hoods, n: int, rng: random.Random) -> list[Case]:
    with database.atomic():
        return [open_case(None, hoods["B12"], "hay un bache", T0, categories=load_categories(), rng=rng)
                for _ in range(n)]


def test_every_case_counts_its_number_in_its_own_transaction(hoods):
    cases = opened(hoods, 3, random.Random(1))
    assert [len(c.tracking) for c in cases] == [7, 7, 7]
    assert fill() == {7: 3}
    assert tracking_lengths() == {7}
    # A case that is rolled back takes its count with it.
    with pytest.raises(RuntimeError), database.atomic():
        open_case(None, hoods["B12"], "hay un bache", T0, categories=load_categories(), rng=random.Random(2))
        raise RuntimeError("power cut")
    assert fill() == {7: 3} and Case.select().count() == 3


def test_numbers_grow_to_8_digits_when_half_of_the_7_digit_ones_are_taken(hoods):
    TrackingFill.create(length=7, used=GROW_AT[7] - 1)
    first, second, third = opened(hoods, 3, random.Random(3))
    assert len(first.tracking) == 7
    assert len(second.tracking) == 8 and len(third.tracking) == 8
    assert all(is_valid_tracking(c.tracking) for c in (first, second, third))
    assert fill() == {7: GROW_AT[7], 8: 2}
    assert tracking_lengths() == {7, 8}


def test_practice_numbers_are_counted_and_never_a_real_case(hoods):
    rng = random.Random(4)
    taken = {c.tracking for c in opened(hoods, 5, rng)}
    with database.atomic():
        number = unused_tracking(random.Random(4))  # the same draws as the cases above
    assert number not in taken
    PracticeCase.create(tracking=number, phone="+59171234567", neighborhood=hoods["B12"], category="vias", text="x")
    assert fill() == {7: 6}


@pytest.mark.slow
def test_allocation_stays_cheap_and_right_when_the_7_digit_space_is_nearly_full(hoods):
    # 449,990 of the 900,000 seven-digit numbers taken, as a database would have them after years:
    # the next cases still get free, valid numbers in about two draws each, the last 7-digit ones
    # first, then 8 digits, and no typo of a new number is another case's number.
    rng = random.Random(16)
    taken: set[str] = set()
    while len(taken) < GROW_AT[7] - 10:
        taken.add(new_tracking(rng))
    hood_id = hoods["B12"].id
    rows = [(t, hood_id, "vias", "x", "", "received", T0.isoformat(" "), T0.isoformat(" ")) for t in taken]
    with database.atomic():
        database.execute_sql("DELETE FROM tracking_fill")
        database.connection().executemany(
            'INSERT INTO "case" (tracking, neighborhood_id, category, text, phone, status, created_at, updated_at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        TrackingFill.create(length=7, used=len(taken))
    counting = CountingRandom(17)
    new = opened(hoods, 40, counting)
    numbers = [c.tracking for c in new]
    assert [len(n) for n in numbers] == [7] * 10 + [8] * 30
    assert len(set(numbers)) == 40 and not set(numbers) & taken
    assert all(is_valid_tracking(n) for n in numbers)
    # Half full: a free 7-digit number every other draw; 8 digits: a valid one about every other
    # draw (no store involved) and nearly all free.
    assert counting.draws <= 40 * 6, counting.draws
    assert fill() == {7: GROW_AT[7], 8: 30}
    every = taken | set(numbers)
    for number in numbers:
        for i in range(len(number)):
            for d in "0123456789":
                typo = number[:i] + d + number[i + 1:]
                assert typo == number or typo not in every
            assert number[:i] + number[i + 1:] not in every  # a digit left out
    assert damm_check_digit(numbers[-1][:-1]) == numbers[-1][-1]
