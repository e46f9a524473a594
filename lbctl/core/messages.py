"""What the core asks a switch to do: OpenFlow messages in the flow vocabulary (flows/ir.py), not
yet in any library's classes. The shell turns each into a message of its OpenFlow library and
sends it; `xid`s are the core's own, so replies find their request.

A flow, group or meter change is a flows.reconcile.Change; the others are here."""
from dataclasses import dataclass, field
from typing import Optional, Tuple

from flows.ir import CONTROLLER


@dataclass(frozen=True)
class DeleteLearned:
    """Delete every flow of `table` that matches at least `match` (flows the switch learned, which
    no desired state lists)."""
    table: int
    match: tuple


@dataclass(frozen=True)
class CtFlush:
    """Forget the conntrack entries of `zone` for `ip_proto` whose original destination is
    `orig_dst` and whose reply comes from `reply_src` ((address, port) each; None: any)."""
    zone: int
    ip_proto: int
    orig_dst: Optional[Tuple[str, int]] = None
    reply_src: Optional[Tuple[str, int]] = None


@dataclass(frozen=True)
class PacketOut:
    """Send `data` (an Ethernet frame) out `port` (a number, or flows.ir's IN_PORT / FLOOD)."""
    data: bytes
    port: object
    in_port: object = CONTROLLER


@dataclass(frozen=True)
class Barrier:
    xid: int


@dataclass(frozen=True)
class ReadState:
    """Read every flow, group and meter the switch holds (to adopt it)."""


@dataclass(frozen=True)
class ReadCounters:
    """Read the counters of the flows of `table` whose cookie matches `cookie` under `mask`."""
    xid: int
    table: int
    cookie: int
    mask: int


@dataclass(frozen=True)
class Wipe:
    """Delete every flow, group and meter: the start of a refill."""


@dataclass(frozen=True)
class FlowStats:
    """One flow as a switch reports it: the flow (its key and cookie; actions are not read
    back), where it sends a packet when it sets eth_dst and outputs to a port ((mac, port), else
    None), its counters, and the registers it loads ({field: value})."""
    flow: object
    place: Optional[Tuple[str, int]]
    packets: int
    bytes: int
    loads: dict = field(default_factory=dict)
