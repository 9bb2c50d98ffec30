import pytest

from barriosms.domain.cms import classify


@pytest.mark.parametrize("code, permanent", [
    (1, True), (21, True), (28, True), (29, True), (304, True),
    (38, False), (41, False), (42, False), (330, False), (331, False), (332, False), (500, False),
    (515, False), (9999, False),
])
def test_transient_or_permanent(code, permanent):
    assert classify(code).permanent is permanent


def test_descriptions_name_the_cause():
    assert classify(38).description == "network out of order"
    assert classify(1).description == "unassigned (unallocated) number"
    assert classify(600).description == "manufacturer specific"
