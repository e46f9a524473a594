"""Desired versus installed state -> the fewest changes, in an order that is safe to apply:
meters and groups exist before a flow points at them, and outlive every flow that pointed at them."""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Change:
    op: str        # add_/modify_/delete_ + meter, group or flow (flows are replaced by an add)
    item: object   # a Flow, SelectGroup or Meter (for a delete: the one being removed)


def diff(installed, desired) -> Tuple[Change, ...]:
    changes = []
    for kind in ("meter", "group"):
        wanted, have = getattr(desired, kind + "s"), getattr(installed, kind + "s")
        for ident, item in sorted(wanted.items()):
            if ident not in have:
                changes.append(Change("add_" + kind, item))
            elif have[ident] != item:
                changes.append(Change("modify_" + kind, item))
    for key, flow in sorted(installed.flows.items(), key=_order):
        if key not in desired.flows:
            changes.append(Change("delete_flow", flow))
    for key, flow in sorted(desired.flows.items(), key=_order):
        if installed.flows.get(key) != flow:
            # An add with the key of an installed flow replaces it, cookie and actions alike.
            changes.append(Change("add_flow", flow))
    for kind in ("group", "meter"):
        wanted, have = getattr(desired, kind + "s"), getattr(installed, kind + "s")
        for ident, item in sorted(have.items()):
            if ident not in wanted:
                changes.append(Change("delete_" + kind, item))
    return tuple(changes)


def _order(item):
    (table, priority, match), _ = item
    return (table, -priority, repr(match))
