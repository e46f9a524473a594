"""The whole desired state of one switch: every flow, group and meter it should hold for a set of
VIPs, given where their members are and the balancer's settings."""
from dataclasses import dataclass, field
from typing import Dict

from flows import arp, pipeline, vip as vipflows


@dataclass(frozen=True)
class Settings:
    cluster_id: int = 0          # byte 4 of the balancer's MACs (see pipeline.own_mac)
    arp_punt_pps: int = 100      # ARP packets per second the controller gets at most ...
    arp_punt_burst: int = 50     # ... after a burst of this many


@dataclass
class SwitchState:
    flows: Dict[tuple, object] = field(default_factory=dict)    # Flow.key -> Flow
    groups: Dict[int, object] = field(default_factory=dict)     # group id -> SelectGroup
    meters: Dict[int, object] = field(default_factory=dict)     # meter id -> Meter


def vip_mac(vip, settings):
    return pipeline.own_mac(settings.cluster_id, vip.redundancy_group)


def desired_state(vips, where, settings=Settings()):
    """`vips`: the VIPs (any order); `where(ip)`: a host's place on this switch, or None."""
    state = SwitchState()
    arp_flows, meter = arp.pipeline_flows(settings)
    for flow in arp_flows + vipflows.pipeline_flows():
        state.flows[flow.key] = flow
    state.meters[meter.meter_id] = meter
    for vip in sorted(vips, key=lambda v: v.id):
        mac = vip_mac(vip, settings)
        flows, group = vipflows.vip_flows(vip, where, mac)
        vip_cookie = pipeline.cookie(vip.id)
        flows += [arp.responder(vip.address, mac, vip_cookie), arp.claim_guard(vip.address, vip_cookie)]
        for flow in flows:
            # Two VIPs can need the same flow (VIPs sharing an address answer ARP once; a member
            # serving two VIPs has one reply catch). The VIP with the lowest id owns it.
            state.flows.setdefault(flow.key, flow)
        state.groups[group.group_id] = group
    return state
