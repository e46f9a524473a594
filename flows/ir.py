"""The flow vocabulary: a small, hashable description of flows, groups and their actions.

Desired state is built from these values, compared with what is installed (`reconcile`) and only
then turned into OpenFlow messages or `ovs-ofctl` text (`render`). Field names are Ryu's OXM names.
"""
from dataclasses import dataclass, field
from typing import Optional, Tuple

# Special ports, named as `ovs-ofctl` prints them.
IN_PORT = "IN_PORT"
NORMAL = "NORMAL"
CONTROLLER = "CONTROLLER"
FLOOD = "FLOOD"


@dataclass(frozen=True)
class Output:
    port: object  # an int port number or one of the special ports above


@dataclass(frozen=True)
class OutputReg:
    """Output to the port number held in bits [ofs..ofs+n_bits) of a register."""
    field: str
    ofs: int
    n_bits: int


@dataclass(frozen=True)
class SetField:
    field: str
    value: object


@dataclass(frozen=True)
class Move:
    """Copy bits [src_ofs..src_ofs+n_bits) of field `src` into field `dst` from bit `dst_ofs`. To
    or from vlan_vid it moves the VLAN id alone, 12 bits (Open vSwitch's OXM_OF_VLAN_VID): the
    present bit (0x1000) is push_vlan's and pop_vlan's to change, and a move into the vlan_vid of
    a packet with no tag writes nothing to it."""
    src: str
    dst: str
    n_bits: int
    src_ofs: int = 0
    dst_ofs: int = 0


@dataclass(frozen=True)
class PushVlan:
    """Push an 802.1Q tag (TPID 0x8100) with VLAN id 0 and priority 0 (Open vSwitch copies nothing
    from a tag already there): `PushVlan(), Move(register, "vlan_vid", 12)` gives it its id."""


@dataclass(frozen=True)
class PopVlan:
    """Pop the outermost 802.1Q tag. In OpenFlow 1.3 Open vSwitch takes it only in a flow whose
    match (vlan_vid with the present bit set) or a push_vlan before it ensures there is one."""


@dataclass(frozen=True)
class Multipath:
    """Hash `fields` ("symmetric_l3l4+udp", "nw_src") into a slot 0..n_links-1, written to the low
    bits of register `dst` (Open vSwitch's multipath action, modulo_n)."""
    fields: str
    n_links: int
    dst: str
    n_bits: int


@dataclass(frozen=True)
class DecTtl:
    """Decrement the IP TTL (a routed hop); a packet whose TTL runs out is not forwarded."""


@dataclass(frozen=True)
class Resubmit:
    """Look the packet up in `table` now, then carry on with the actions after this one."""
    table: int


@dataclass(frozen=True)
class Learn:
    """Install, from this packet, a flow in `table` matching `fixed` plus the packet's own values of
    the fields in `copy` (a connection's 5-tuple, say), whose action loads `load` into `register`:
    a constant, or (a field's name) the value that field holds in this packet. With a `limit`, no
    flow is learned while `table` holds that many flows with this cookie. With a `result` (a
    register and a bit), that bit says whether the flow is there now (1: learned, or there
    already; 0: not learned, the limit reached)."""
    table: int
    fixed: "Match"
    copy: Tuple[str, ...]
    load: object
    register: str
    idle_timeout: int
    fin_idle_timeout: int
    priority: int
    cookie: int
    limit: int = 0
    result: Optional[Tuple[str, int]] = None


@dataclass(frozen=True)
class Group:
    group_id: int


@dataclass(frozen=True)
class Nat:
    """Conntrack NAT. With no address it only applies the NAT a committed connection already has;
    with a range (address..address_max, port..port_max) conntrack picks a free tuple in it."""
    kind: Optional[str] = None   # "dst" or "src"
    address: Optional[str] = None
    port: Optional[int] = None
    address_max: Optional[str] = None
    port_max: Optional[int] = None


@dataclass(frozen=True)
class Ct:
    zone: int
    table: Optional[int] = None
    commit: bool = False
    nat: Optional[Nat] = None
    exec_: Tuple[object, ...] = ()


Match = Tuple[Tuple[str, object], ...]


def match(*pairs, **fields) -> Match:
    """A match as a canonical, hashable tuple. A (value, mask) tuple is a masked match. `pairs`:
    (field, value) pairs whose field is a name or a pipeline Register (registers have no
    keyword of their own)."""
    for name, value in pairs:
        fields[getattr(name, "field", name)] = value
    return tuple(sorted(fields.items()))


@dataclass(frozen=True)
class Flow:
    table: int
    priority: int
    match: Match
    actions: Tuple[object, ...] = ()
    goto: Optional[int] = None
    cookie: int = 0
    meter: Optional[int] = None   # a meter the packet passes before the actions

    @property
    def key(self):
        """What identifies a flow in a switch table: two flows with one key cannot coexist."""
        return (self.table, self.priority, self.match)


@dataclass(frozen=True)
class Bucket:
    weight: int
    actions: Tuple[object, ...]


@dataclass(frozen=True)
class SelectGroup:
    group_id: int
    buckets: Tuple[Bucket, ...] = field(default=())


@dataclass(frozen=True)
class Meter:
    """A packets-per-second meter whose one band drops what exceeds `rate` (after `burst`)."""
    meter_id: int
    rate: int
    burst: int
