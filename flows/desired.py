"""The whole desired state of one switch: every flow, group and meter it should hold for a set of
VIPs, given where their members are and the balancer's settings."""
from dataclasses import dataclass, field
from typing import Dict

from flows import arp, icmp, monitor, pipeline, vip as vipflows
from flows.dsr import dsr_vip_flows
from flows.ir import Meter


@dataclass(frozen=True)
class Settings:
    cluster_id: int = 0          # byte 4 of the balancer's MACs (see pipeline.own_mac)
    arp_punt_pps: int = 100      # ARP packets per second the controller gets at most ...
    arp_punt_burst: int = 50     # ... after a burst of this many
    member_arp_pps: int = 100    # the same for ARP from members' addresses, counted apart
    reject_pps: int = 100        # refused connections the controller answers per second at most
    gateways: tuple = ()         # the balancer's gateway addresses on the subnets it routes between
    gateway_group: int = 1       # ... and their redundancy group (their MAC)
    monitor_address: str = None  # the source of health probes (its MAC: the gateways')
    monitor_pps: int = 1000      # replies to health probes the controller gets per second at most


@dataclass
class SwitchState:
    flows: Dict[tuple, object] = field(default_factory=dict)    # Flow.key -> Flow
    groups: Dict[int, object] = field(default_factory=dict)     # group id -> SelectGroup
    meters: Dict[int, object] = field(default_factory=dict)     # meter id -> Meter
    slots: Dict[int, tuple] = field(default_factory=dict)       # VIP id -> slot table (not sent:
    # the switch sees it as buckets or slot flows; kept so the next state moves as little as can be)
    parts: Dict[tuple, tuple] = field(default_factory=dict)     # (vip, located, down, settings) -> that
    # VIP's (flows, group, slot table): what the next state reuses while they stay the same


def vip_mac(vip, settings):
    return pipeline.own_mac(settings.cluster_id, vip.redundancy_group)


def desired_state(vips, places, settings=Settings(), previous=None, down=None):
    """`vips`: the VIPs (any order); `places`: a mapping of host IP -> Place on this switch;
    `previous`: the state this one follows; `down`: VIP id -> ids of its members that its health
    monitor holds down. Its slot tables are kept as far as they can be, and
    each VIP's flows are reused while the VIP and the sets of its located and down members stay the same:
    a member that moves changes only its one `locate` flow, and recomputing costs little however
    many VIPs there are."""
    state = SwitchState()
    arp_flows, meters = arp.pipeline_flows(settings)
    for flow in arp_flows + vipflows.pipeline_flows():
        state.flows[flow.key] = flow
    for meter in meters:
        state.meters[meter.meter_id] = meter
    members = set()
    reuse = previous.parts if previous else {}
    for vip in sorted(vips, key=lambda v: v.id):
        located = frozenset(m.address for m in vip.members if m.address in places)
        held_down = down.get(vip.id, frozenset()) if down else frozenset()
        key = (vip, located, held_down, settings)
        flows, group, table = state.parts[key] = reuse.get(key) or _vip_flows(
            vip, located, held_down, settings, previous.slots.get(vip.id) if previous else None)
        for flow in flows:
            # Two VIPs can need the same flow (VIPs sharing an address answer ARP once; a member
            # serving two VIPs has one reply catch). The VIP with the lowest id owns it.
            state.flows.setdefault(flow.key, flow)
        if group is not None:
            state.groups[group.group_id] = group
        if table is not None:
            state.slots[vip.id] = table
        members.update(m.address for m in vip.members)
    for address in sorted(members):
        for flow in arp.member_flows(address) + vipflows.host_flows(address, places.get(address)):
            state.flows[flow.key] = flow
    gateway_mac = pipeline.own_mac(settings.cluster_id, settings.gateway_group)
    for address in settings.gateways + ((settings.monitor_address,) if settings.monitor_address else ()):
        for flow in own_address_flows(address, gateway_mac, pipeline.host_cookie(address)):
            state.flows.setdefault(flow.key, flow)
    if settings.monitor_address:
        for flow in monitor.reply_flows(settings.monitor_address):
            state.flows[flow.key] = flow
        state.meters[pipeline.MONITOR_METER] = Meter(pipeline.MONITOR_METER, settings.monitor_pps, settings.monitor_pps)
    return state


def _vip_flows(vip, located, down, settings, previous_slots):
    mac = vip_mac(vip, settings)
    if vip.mode == "dsr":
        flows, group, table = dsr_vip_flows(vip, located, previous_slots, down)
    else:
        flows, group, table = vipflows.vip_flows(vip, located, mac, previous_slots, down)
    vip_cookie = pipeline.cookie(vip.id)
    for address in (vip.address,) + tuple(vip.snat_addresses):
        flows += own_address_flows(address, mac, vip_cookie)
    return flows, group, table


def own_address_flows(address, mac, cookie):
    """An address the balancer owns: it answers ARP and ping for it, and defends it."""
    return [arp.responder(address, mac, cookie), arp.claim_guard(address, cookie),
            icmp.echo_responder(address, mac, cookie)]
