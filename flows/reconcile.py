"""Desired versus installed state -> the fewest changes, in an order that is safe to apply:
meters and groups exist before a flow points at them, and outlive every flow that pointed at them."""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Change:
    op: str        # add_/modify_/delete_ + meter, group or flow (flows are replaced by an add)
    item: object   # a Flow, SelectGroup or Meter (for a delete: the one being removed)


def diff(installed, desired) -> Tuple[Change, ...]:
    # A state computed from the installed one says which flows and groups may differ from it (see
    # flows.desired): only those are compared, not the thousands of others.
    follows = desired.follows
    if follows is not None and follows[0]() is installed:
        _, flow_keys, group_ids = follows
    else:
        flow_keys = group_ids = None
    changes = []
    for kind in ("meter", "group"):
        wanted, have = getattr(desired, kind + "s"), getattr(installed, kind + "s")
        for ident, item in _items(wanted, group_ids if kind == "group" else None):
            if ident not in have:
                changes.append(Change("add_" + kind, item))
            elif have[ident] != item:
                changes.append(Change("modify_" + kind, item))
    gone = [flow for key, flow in _items(installed.flows, flow_keys, sort=False) if key not in desired.flows]
    # Flows reused from the cache are the very same objects: `is` settles most of them at once.
    new = [flow for key, flow in _items(desired.flows, flow_keys, sort=False)
           if installed.flows.get(key) is not flow and installed.flows.get(key) != flow]
    # An add with the key of an installed flow replaces it, cookie and actions alike.
    changes += [Change("delete_flow", f) for f in sorted(gone, key=_order)]
    changes += [Change("add_flow", f) for f in sorted(new, key=_order)]
    for kind in ("group", "meter"):
        wanted, have = getattr(desired, kind + "s"), getattr(installed, kind + "s")
        for ident, item in _items(have, group_ids if kind == "group" else None):
            if ident not in wanted:
                changes.append(Change("delete_" + kind, item))
    return tuple(changes)


def _items(mapping, keys, sort=True):
    """mapping's items (sorted by key), or only those of `keys` (None: all)."""
    if keys is None:
        return sorted(mapping.items()) if sort else mapping.items()
    picked = [(key, mapping[key]) for key in keys if key in mapping]
    return sorted(picked) if sort else picked


def adopt(found, desired, keep_tables=()):
    """The changes that take a switch whose state was read from it (`found`: a SwitchState whose
    flows are keyed like desired ones, values unknown) to `desired` without emptying it first:
    every desired flow is (re)added -- an add replaces a flow with the same key in place, so
    packets never miss it -- and what the switch holds beyond `desired` is deleted, except in
    `keep_tables` (flows the switch learned by itself)."""
    changes = []
    for kind in ("meter", "group"):
        wanted, have = getattr(desired, kind + "s"), getattr(found, kind + "s")
        changes += [Change(("modify_" if ident in have else "add_") + kind, item) for ident, item in sorted(wanted.items())]
    stray = [flow for key, flow in found.flows.items() if key not in desired.flows and flow.table not in keep_tables]
    changes += [Change("delete_flow", f) for f in sorted(stray, key=_order)]
    changes += [Change("add_flow", f) for f in sorted(desired.flows.values(), key=_order)]
    for kind in ("group", "meter"):
        wanted, have = getattr(desired, kind + "s"), getattr(found, kind + "s")
        changes += [Change("delete_" + kind, item) for ident, item in sorted(have.items()) if ident not in wanted]
    return tuple(changes)


def _order(flow):
    return (flow.table, -flow.priority, repr(flow.match))
