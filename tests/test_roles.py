"""domain/roles.py: who may do what (viewer reads, staff act on cases, admin manages the rest)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from barriosms.domain.roles import ACTIONS, ROLES, may

STAFF_ACTIONS = {"read", "cases", "inbox", "categories"}


@given(st.sampled_from(ACTIONS))
def test_a_viewer_may_only_read(action):
    assert may("viewer", action) == (action == "read")


@given(st.sampled_from(ACTIONS))
def test_admin_may_everything_staff_may_and_staff_everything_a_viewer_may(action):
    assert not may("viewer", action) or may("staff", action)
    assert not may("staff", action) or may("admin", action)
    assert may("admin", action)


@given(st.sampled_from(ACTIONS))
def test_staff_act_on_cases_but_manage_nothing(action):
    assert may("staff", action) == (action in STAFF_ACTIONS)


@given(st.sampled_from(ROLES), st.text().filter(lambda a: a not in ACTIONS))
def test_an_unknown_action_is_an_error_not_a_refusal(role, action):
    with pytest.raises(ValueError, match="unknown action"):
        may(role, action)


@given(st.text().filter(lambda r: r not in ROLES), st.sampled_from(ACTIONS))
def test_an_unknown_role_is_an_error(role, action):
    with pytest.raises(ValueError, match="unknown role"):
        may(role, action)
