"""Slot tables: exact shares, and minimal movement when members come and go."""
from collections import Counter

from flows.slots import SLOTS, assign, moved, quotas


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


# ---------------------------------------------------------------- moved slots (dsr's grace)

A, B, C = 1, 2, 3


def table_of(*owners):
    """A table whose slot 0 is `owners[0]`, slot 1 `owners[1]`...; the other slots member A's."""
    return tuple(owners) + (A,) * (SLOTS - len(owners))


def test_a_slot_that_changes_owner_keeps_the_old_owner_for_exactly_the_grace():
    before, after = table_of(B), table_of(C)
    assert moved(before, after, {}, alive={A, B, C}, now=100.0, grace=0.5) == {0: (B, 100.5)}
    assert moved(before, after, {}, alive={A, B, C}, now=100.0, grace=0) == {}, "no grace: no moved slot"
    assert moved(before, after, {}, alive={A, C}, now=100.0, grace=0.5) == {}, "an old owner gone: nothing to wait for"


def test_a_moved_slot_keeps_its_grace_end_until_it_changes_owner_again():
    moves = {0: (B, 110.0)}   # slot 0 went from B to C, its grace ends at 110
    assert moved(table_of(C), table_of(C), moves, {A, B, C}, now=105.0, grace=10.0) == {0: (B, 110.0)}
    # Changed again within the grace: its connections are still B's, and the grace starts afresh.
    assert moved(table_of(C), table_of(A), moves, {A, B, C}, now=105.0, grace=10.0) == {0: (B, 115.0)}
    assert moved(table_of(C), table_of(B), moves, {A, B, C}, now=105.0, grace=10.0) == {}, "back to B: plain again"


def test_a_grace_ends_at_its_end_time():
    moves = {0: (B, 110.0)}
    assert moved(table_of(C), table_of(C), moves, {A, B, C}, now=109.9, grace=10.0) == {0: (B, 110.0)}
    assert moved(table_of(C), table_of(C), moves, {A, B, C}, now=110.0, grace=10.0) == {}
    assert moved(table_of(C), table_of(C), moves, {A, B, C}, now=200.0, grace=10.0) == {}
