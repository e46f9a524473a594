"""The whole desired state of one switch: every flow, group and meter it should hold for a set of
VIPs, given where their members are and the balancer's settings.

A state computed from the one before it (`previous`) looks again only at what changed: the VIPs
that are new, gone or different, and the members that came, went, moved or went down. So a REST
change costs about the same with 10 VIPs as with 1,000 (some 22,000 flows with 8 members each),
and the state says which of its flows and groups may differ from the one before (`follows`): all
that reconcile.diff compares."""
import weakref
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Dict

from flows import arp, dsr, icmp, networks as netflows, ownership, pipeline, vip as vipflows
from flows.ir import Meter
from flows.networks import DEFAULT, Network


@dataclass(frozen=True)
class Settings:
    cluster_id: int = 0          # byte 3 of the balancer's MACs (see pipeline.own_mac)
    arp_punt_pps: int = 100      # ARP packets per second the controller gets at most ...
    arp_punt_burst: int = 50     # ... after a burst of this many
    member_arp_pps: int = 100    # the same for ARP from members' addresses, counted apart
    reject_pps: int = 100        # refused connections the controller answers per second at most
    networks: tuple = (Network(DEFAULT),)   # every network (the default one first), with the
    # balancer's gateways and monitor address on each
    monitor_pps: int = 1000      # replies to health probes the controller gets per second at most
    dsr_grace: float = pipeline.DSR_GRACE   # seconds a dsr slot's old owner keeps its connections

    def network(self, name):
        return _by_name(self.networks)[name]


@lru_cache(maxsize=8)
def _by_name(networks):
    return {network.name: network for network in networks}


@dataclass
class SwitchState:
    flows: Dict[tuple, object] = field(default_factory=dict)    # Flow.key -> Flow
    groups: Dict[int, object] = field(default_factory=dict)     # group id -> SelectGroup
    meters: Dict[int, object] = field(default_factory=dict)     # meter id -> Meter
    slots: Dict[int, tuple] = field(default_factory=dict)       # VIP id -> slot table (not sent:
    # the switch sees it as buckets or slot flows; kept so the next state moves as little as can be)
    moves: Dict[int, dict] = field(default_factory=dict)        # dsr VIP id -> its moved slots
    # ({slot: (old owner, grace end)}: flows.slots.moved)
    parts: Dict[int, tuple] = field(default_factory=dict)       # VIP id -> (vip, located, down, that
    # VIP's (flows, group, slot table)): what the next state reuses while they stay the same
    basis: object = field(default=None, compare=False, repr=False)     # _Basis: for the next state
    follows: object = field(default=None, compare=False, repr=False)   # (the state this one was
    # computed from (a weak reference), the flow keys and the group ids that may differ from it)


def vip_mac(vip, settings):
    return pipeline.own_mac(settings.cluster_id, settings.network(vip.network).id, vip.redundancy_group)


class _Basis:
    """What a state was computed from, and where each of its flows came from.

    Several sources may name one flow key. The state holds the flow of the first of: the replies
    to health probes, a member's own flows (its ARP, where it is), the pipeline, the VIPs (the
    lowest VIP id of those naming the key: VIPs sharing an address answer ARP once; a member
    serving two VIPs has one reply catch), the gateways and the monitor address."""

    def __init__(self, settings, places, down):
        self.settings = settings
        self.places = places       # host id -> Place, as this state saw them
        self.down = down           # VIP id -> ids of its members held down, as this state saw them
        self.standing_by = frozenset()   # (network, group) pairs this switch stands by for ...
        self.standby = {}          # ... and their flows: key -> flow
        self.monitor = {}          # key -> flow: the replies to health probes
        self.pipeline = {}         # key -> flow: the pipeline's flows
        self.networks = {}         # key -> flow: the networks' own flows (ingress, gateways, monitor address)
        self.meters = {}
        self.owners = {}           # key -> ids of the VIPs that name it, lowest first
        self.users = {}            # member host id -> how many VIPs list it
        self.addresses = {}        # member host id -> its key: (network, address)
        self.hosts = {}            # member host id -> its flows
        self.host_flows = {}       # key -> flow: the members' own flows

    def follow(self, places, down):
        """The basis of a state that follows this one: the same settings and fixed flows; its own
        copies of what changes."""
        basis = _Basis(self.settings, places, down)
        basis.monitor, basis.pipeline, basis.networks, basis.meters = self.monitor, self.pipeline, self.networks, self.meters
        basis.standing_by, basis.standby = self.standing_by, self.standby
        basis.owners, basis.users, basis.addresses = dict(self.owners), dict(self.users), dict(self.addresses)
        basis.hosts, basis.host_flows = dict(self.hosts), dict(self.host_flows)
        return basis


NOT_DOWN = frozenset()


def desired_state(vips, places, settings=Settings(), previous=None, down=None, now=0.0, standby=frozenset(),
                  pickup=frozenset(), slots_hint=None):
    """`vips`: the VIPs (any order); `places`: a mapping of host id -> Place on this switch;
    `previous`: the state this one follows; `down`: VIP id -> ids of its members that its health
    monitor holds down; `now` (monotonic seconds): when dsr's moved slots are measured from;
    `standby`: the (network name, redundancy group) pairs this switch stands by for (a cluster's
    other switch is active for them: see flows.networks.standby_flows); `pickup`: ids of the NAT-mode
    VIPs whose connections this switch picks up mid-stream (it took their group over: a packet
    conntrack does not know is spread and committed, SYN or not); `slots_hint`: VIP id -> the slot
    table to keep to (another switch's, the one active for the VIP's group: a cluster's switches
    hash alike, so a connection keeps its member across a takeover). Its
    slot tables are kept as far as they can be, and each VIP's flows are reused while the VIP and
    the sets of its located and down members stay the same and no grace of its ends: a member
    that moves changes only its one `locate` flow."""
    down = down or {}
    old = previous.basis if previous is not None else None
    if old is not None and old.settings != settings:
        old = None   # nothing can be reused (but the slot tables, below)
    state = SwitchState()
    if old is None:
        basis = _fixed(settings, dict(places), dict(down))
        touched = set(basis.monitor) | set(basis.pipeline) | set(basis.networks)
    else:
        basis = old.follow(dict(places), dict(down))
        state.flows, state.groups, state.slots, state.moves, state.parts = (
            dict(previous.flows), dict(previous.groups), dict(previous.slots), dict(previous.moves),
            dict(previous.parts))
        touched = set()
    state.meters = dict(basis.meters)
    state.basis = basis
    if old is None or basis.standing_by != standby:
        touched.update(basis.standby)
        basis.standing_by = frozenset(standby)
        basis.standby = {flow.key: flow for network, group in sorted(standby)
                         for flow in netflows.standby_flows(settings.network(network), group, settings)}
        touched.update(basis.standby)
    change = _Change(state, basis, touched, previous, now)

    # The VIPs gone, and those new or different, or whose located or down members differ.
    same_hosts = old is not None and places.keys() == old.places.keys()
    same_down = old is not None and down == old.down
    current = set()
    for vip in vips:
        current.add(vip.id)
        part = state.parts.get(vip.id)
        if part is not None and part.graces_end <= now:   # a grace ended: its slots are plain again
            change.drop(vip.id)
            part = None
        picks_up = vip.id in pickup
        hint = slots_hint.get(vip.id) if slots_hint else None
        if hint is not None and part is not None and part.table != hint:
            change.drop(vip.id)
            part = None
        if part is not None and part.vip is vip and same_hosts and same_down and part.pickup == picks_up:
            continue
        located = frozenset(m.host for m in vip.members if m.host in places)
        held_down = down.get(vip.id, NOT_DOWN)
        if part is not None and (part.vip is vip or part.vip == vip) and part.located == located \
                and part.down == held_down and part.pickup == picks_up:
            continue
        if part is not None:
            change.drop(vip.id)
        change.add(vip, located, held_down, settings, picks_up, hint)
    for vip_id in set(state.parts) - current:
        change.drop(vip_id)

    # The members' own flows: of members that came or went, and of hosts that moved.
    redo = set(change.members)
    if old is not None and places != old.places:
        redo.update(h for h in places.keys() | old.places.keys() if places.get(h) != old.places.get(h))
    for host in redo:
        change.host(host, places.get(host))

    for key in touched:
        flow = change.winner(key)
        if flow is None:
            state.flows.pop(key, None)
        else:
            state.flows[key] = flow
    if old is not None:
        state.follows = (weakref.ref(previous), frozenset(touched), frozenset(change.groups))
    return state


def _fixed(settings, places, down):
    """A basis with the flows and meters that depend on the settings alone."""
    basis = _Basis(settings, places, down)
    arp_flows, meters = arp.pipeline_flows(settings)
    for flow in (arp_flows + icmp.pipeline_flows(settings) + ownership.pipeline_flows(settings)
                 + netflows.pipeline_flows(settings) + vipflows.pipeline_flows(settings)
                 + dsr.pipeline_flows(settings.dsr_grace)):
        basis.pipeline[flow.key] = flow
    basis.meters = {meter.meter_id: meter for meter in meters}
    for network in settings.networks:
        for flow in netflows.network_flows(network, settings):
            into = basis.monitor if (flow.table, flow.priority) in MONITOR_BANDS else basis.networks
            into.setdefault(flow.key, flow)
    if any(network.monitor_address for network in settings.networks):
        basis.meters[pipeline.MONITOR_METER] = Meter(pipeline.MONITOR_METER, settings.monitor_pps, settings.monitor_pps)
    return basis


MONITOR_BANDS = {(pipeline.CLASSIFY.id, pipeline.CLASSIFY.MONITOR), (pipeline.MONITOR.id, pipeline.MONITOR.DEFAULT)}


class _Change:
    """The work of one desired_state: VIPs' parts dropped and added, members' flows redone, and the
    flow keys and group ids that touches."""

    def __init__(self, state, basis, touched, previous, now):
        self.state, self.basis, self.touched = state, basis, touched
        self.slots_before = previous.slots if previous is not None else {}
        self.moves_before = previous.moves if previous is not None else {}
        self.now = now
        self.groups = set()      # group ids touched
        self.members = set()     # member host ids that came or went
        self.first = {}          # key -> the flow of the lowest VIP naming it, where known

    def add(self, vip, located, held_down, settings, pickup=False, hint=None):
        previous_slots = hint if hint is not None else self.slots_before.get(vip.id)
        part = _vip_part(vip, located, held_down, settings, previous_slots, self.moves_before.get(vip.id), self.now,
                         pickup)
        flows, group, table = part.flows, part.group, part.table
        state, owners = self.state, self.basis.owners
        state.parts[vip.id] = part
        alone = (vip.id,)
        for flow in flows:
            key = flow.key
            named = owners.get(key)
            if named is None:
                owners[key] = alone
                self.first[key] = flow
            elif vip.id not in named:   # (a VIP naming one key twice: its first flow counts)
                owners[key] = tuple(sorted(named + alone))
                if vip.id < named[0]:
                    self.first[key] = flow
            self.touched.add(key)
        if group is not None:
            state.groups[group.group_id] = group
            self.groups.add(group.group_id)
        if table is not None:
            state.slots[vip.id] = table
        if part.moves:
            state.moves[vip.id] = part.moves
        users = self.basis.users
        for host, key in {(m.host, m.key) for m in vip.members}:
            users[host] = users.get(host, 0) + 1
            if users[host] == 1:
                self.basis.addresses[host] = key
                self.members.add(host)

    def drop(self, vip_id):
        state, owners = self.state, self.basis.owners
        part = state.parts.pop(vip_id)
        vip, group = part.vip, part.group
        for flow in part.flows:
            key = flow.key
            named = owners.get(key, ())
            if vip_id not in named:
                continue
            rest = tuple(i for i in named if i != vip_id)
            if rest:
                owners[key] = rest
            else:
                del owners[key]
            if named[0] == vip_id:
                self.first.pop(key, None)
            self.touched.add(key)
        if group is not None:
            del state.groups[group.group_id]
            self.groups.add(group.group_id)
        state.slots.pop(vip_id, None)
        state.moves.pop(vip_id, None)
        users = self.basis.users
        for host in {m.host for m in vip.members}:
            users[host] -= 1
            if not users[host]:
                del users[host]
                self.members.add(host)

    def host(self, host, place):
        """Redo the flows of one member host (none if no VIP lists it any more)."""
        basis = self.basis
        for flow in basis.hosts.pop(host, ()):
            if basis.host_flows.get(flow.key) is flow:   # (not already another host's: an address can
                del basis.host_flows[flow.key]             # change its host id from one state to the next)
            self.touched.add(flow.key)
        if host not in basis.users:
            basis.addresses.pop(host, None)
        else:
            network_name, address = basis.addresses[host]
            network = basis.settings.network(network_name)
            flows = basis.hosts[host] = (arp.member_flows(host, address, network)
                                         + vipflows.host_flows(host, address, place, network))
            for flow in flows:
                basis.host_flows[flow.key] = flow
                self.touched.add(flow.key)

    def winner(self, key):
        """The flow the state holds under `key` (None: no flow)."""
        basis = self.basis
        for fixed in (basis.standby, basis.monitor, basis.host_flows, basis.pipeline):
            if key in fixed:
                return fixed[key]
        named = basis.owners.get(key)
        if named is not None:
            flow = self.first.get(key)
            if flow is None:   # its lowest VIP changed nothing this time: look in that VIP's flows
                flow = next(f for f in self.state.parts[named[0]].flows if f.key == key)
            return vipflows.shared(flow) if len(named) > 1 else flow
        return basis.networks.get(key)


@dataclass(frozen=True)
class _Part:
    """One VIP's share of a state, and what it was computed from (reused while that stays so)."""
    vip: object
    located: frozenset
    down: frozenset
    flows: list
    group: object
    table: tuple
    moves: dict
    graces_end: float    # when the first of its moved slots' graces ends (inf: none)
    pickup: bool = False


def _vip_part(vip, located, down, settings, previous_slots, previous_moves, now, pickup=False):
    clients = settings.network(vip.network)
    if vip.mode == "dsr":
        mac = pipeline.own_mac(settings.cluster_id, clients.id, vip.redundancy_group)
        flows, group, table, moves = dsr.dsr_vip_flows(vip, located, previous_slots, down, previous_moves, now,
                                                       settings.dsr_grace, clients, mac)
    else:
        members = settings.network(vip.member_network)
        (flows, group, table), moves = vipflows.vip_flows(vip, located, previous_slots, down, (clients, members),
                                                          pickup), {}
    vip_cookie = pipeline.cookie(vip.id)
    for address in (vip.address,) + tuple(vip.snat_addresses):
        flows += ownership.owned_flows(clients.id, address, vip.redundancy_group, vip_cookie)
    graces_end = min((until for _, until in moves.values()), default=float("inf"))
    return _Part(vip, located, down, flows, group, table, moves, graces_end, pickup)


def graces_end(state):
    """When the first grace of a dsr moved slot in `state` ends (inf: none): its flows change then."""
    return min((part.graces_end for part in state.parts.values()), default=float("inf"))
