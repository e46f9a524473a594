"""The whole desired state of one switch: every flow and group it should hold for a set of VIPs."""
from dataclasses import dataclass, field
from typing import Dict

from flows import arp, pipeline, vip as vipflows


@dataclass
class SwitchState:
    flows: Dict[tuple, object] = field(default_factory=dict)    # Flow.key -> Flow
    groups: Dict[int, object] = field(default_factory=dict)     # group id -> SelectGroup


def desired_state(vips, where):
    """`vips`: the VIPs (any order); `where(ip)`: a host's place on this switch, or None."""
    state = SwitchState()
    for flow in arp.pipeline_flows() + vipflows.pipeline_flows():
        state.flows[flow.key] = flow
    for vip in sorted(vips, key=lambda v: v.id):
        flows, group = vipflows.vip_flows(vip, where)
        flows.append(arp.responder(vip.address, pipeline.cookie(vip.id)))
        for flow in flows:
            # Two VIPs can need the same flow (VIPs sharing an address answer ARP once; a member
            # serving two VIPs has one reply catch). The VIP with the lowest id owns it.
            state.flows.setdefault(flow.key, flow)
        state.groups[group.group_id] = group
    return state
