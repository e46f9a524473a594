"""Slot tables: exact shares, and minimal movement when members come and go."""
from collections import Counter

from flows.slots import SLOTS, assign, quotas


def shares(table):
    return Counter(table)


def test_equal_members_share_exactly():
    table = assign(None, {1: 1, 2: 1, 3: 1})
    assert sorted(shares(table).values()) == [85, 85, 86]
    assert sorted(shares(assign(None, {i: 1 for i in range(1, 9)})).values()) == [32] * 8


def test_weights_are_exact_to_one_slot():
    assert shares(assign(None, {1: 1, 2: 2, 3: 3})) == {1: 43, 2: 85, 3: 128}
    assert quotas({1: 1, 2: 255}) == {1: 1, 2: 255}


def test_removing_a_member_moves_only_its_slots():
    before = assign(None, {i: 1 for i in range(1, 9)})
    after = assign(before, {i: 1 for i in range(1, 8)})
    moved = [s for s in range(SLOTS) if before[s] != after[s]]
    assert len(moved) == 32 and all(before[s] == 8 for s in moved)
    assert sorted(shares(after).values()) == [36, 36, 36, 37, 37, 37, 37]


def test_adding_a_member_takes_slots_only_from_others_and_only_as_many_as_it_needs():
    before = assign(None, {i: 1 for i in range(1, 8)})
    after = assign(before, {i: 1 for i in range(1, 9)})
    moved = [s for s in range(SLOTS) if before[s] != after[s]]
    assert len(moved) == 32 and all(after[s] == 8 for s in moved)


def test_draining_and_returning():
    before = assign(None, {1: 1, 2: 1})
    assert assign(before, {}) is None
    assert shares(assign(before, {2: 1})) == {2: SLOTS}
    assert assign(assign(before, {1: 1, 2: 1}), {1: 1, 2: 1}) == before, "stable when nothing changes"
