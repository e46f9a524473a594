"""The slot table of a VIP: SLOTS entries, each naming the member that new connections hashed to
that slot go to. The switch hashes (a dp_hash select group of SLOTS equal buckets, or `multipath`
into SLOTS slot flows); the controller decides here who owns each slot. That gives what no switch
hash offers by itself:

- evenness and weights exact to 1/SLOTS: shares are quotas, not luck (Open vSwitch's own dp_hash
  splits three equal members 6/5/5 of 16);
- minimal disruption: a member that leaves frees only its own slots, and a member that arrives
  takes slots only from those above their new quota, so no other connection changes member.

Pure: the previous table and the eligible members in, the new table out.
"""
import heapq

SLOTS = 256   # the most buckets Open vSwitch's dp_hash takes with one slot each


def quotas(members):
    """{member id: weight} -> {member id: slots}, largest remainder first, ties by id."""
    total = sum(members.values())
    if total == 0:
        return {}
    exact = {m: w * SLOTS / total for m, w in members.items()}
    share = {m: int(x) for m, x in exact.items()}
    left = SLOTS - sum(share.values())
    for m in sorted(exact, key=lambda m: (-(exact[m] - share[m]), m))[:left]:
        share[m] += 1
    return share


def assign(previous, members):
    """The new table (a tuple of SLOTS member ids, or None when no member is eligible).

    `previous`: the table in force (or None); `members`: {member id: weight > 0} eligible now.
    Every member keeps as many of its slots as its new quota allows; the rest are handed out in
    slot order to the members furthest below their quota."""
    want = quotas(members)
    if not want:
        return None
    table = list(previous) if previous is not None and len(previous) == SLOTS else [None] * SLOTS
    kept = dict.fromkeys(want, 0)
    for slot, owner in enumerate(table):
        if owner in want and kept[owner] < want[owner]:
            kept[owner] += 1
        else:
            table[slot] = None
    # The member furthest below its quota first, the lowest id among equals: a heap of
    # (slots kept - quota, id) gives it in log N rather than a scan of every member per slot.
    needy = [(kept[m] - want[m], m) for m in want]
    heapq.heapify(needy)
    for slot, owner in enumerate(table):
        if owner is None:
            below, member = needy[0]
            table[slot] = member
            heapq.heapreplace(needy, (below + 1, member))
    return tuple(table)


def moved(previous, table, previous_moves, alive, now, grace):
    """The slots of `table` still in their grace period after a change of owner: {slot: (the owner
    before the change, when the grace ends)}. `previous`, `previous_moves`: the table and moved
    slots in force until now (None, {}: none); `alive`: the members whose connections are worth
    waiting for (still listed and located). A slot that changes owner again within its grace keeps
    the owner of before the first change (its connections are the old ones) and starts the grace
    afresh; one that changes back to that owner is plain again."""
    if table is None or grace <= 0:
        return {}
    moves = {}
    for slot, owner in enumerate(table):
        old, until = previous_moves.get(slot, (None, now))
        before = previous[slot] if previous is not None and len(previous) == SLOTS else owner
        if until > now and old != owner and old in alive:
            moves[slot] = (old, until if before == owner else now + grace)
        elif until <= now and before != owner and before in alive:
            moves[slot] = (before, now + grace)
    return moves
