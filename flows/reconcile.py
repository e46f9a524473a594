"""Desired versus installed state -> the fewest changes, in an order that is safe to apply:
groups exist before a flow points at them, and outlive every flow that pointed at them."""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Change:
    op: str        # add_group, modify_group, delete_flow, add_flow, delete_group
    item: object   # a Flow or a SelectGroup (delete_group: the SelectGroup being removed)


def diff(installed, desired) -> Tuple[Change, ...]:
    changes = []
    for gid, group in sorted(desired.groups.items()):
        if gid not in installed.groups:
            changes.append(Change("add_group", group))
        elif installed.groups[gid] != group:
            changes.append(Change("modify_group", group))
    for key, flow in sorted(installed.flows.items(), key=_order):
        if key not in desired.flows:
            changes.append(Change("delete_flow", flow))
    for key, flow in sorted(desired.flows.items(), key=_order):
        if installed.flows.get(key) != flow:
            # An add with the key of an installed flow replaces it, cookie and actions alike.
            changes.append(Change("add_flow", flow))
    for gid, group in sorted(installed.groups.items()):
        if gid not in desired.groups:
            changes.append(Change("delete_group", group))
    return tuple(changes)


def _order(item):
    (table, priority, match), _ = item
    return (table, -priority, repr(match))
