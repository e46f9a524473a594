"""The controller's counters and latency samples, as GET /v1/stats shows them. Plain state."""
import math
from collections import deque

COUNTERS = (
    "packet_in",            # every packet-in
    "packet_in_arp",        # ... of which ARP
    "packet_in_reject",     # ... connections to a VIP with no live member
    "packet_in_monitor",    # ... replies to health probes
    "arp_ignored",          # ARP from hosts that are no member (the controller learns members only)
    "flow_changes",         # flow, group and meter changes sent to switches
    "host_moves",           # a known address seen at a new MAC or port, and followed
    "duplicates",           # addresses frozen by duplicate detection
    "frozen_arp",           # ARP from a frozen (duplicate) address, ignored
    "ownership_conflicts",  # ARP from someone else claiming one of our addresses
    "garps_sent",           # gratuitous ARPs the balancer sent for its own addresses
    "probes_sent",          # ARP requests the balancer sent to find members
    "rejected",             # new connections to a VIP with no live member, answered by reset/unreachable
    "time_exceeded",        # routed packets whose TTL ran out at the balancer, answered with ICMP time exceeded
    "switch_errors",        # messages a switch refused (each makes the controller repair it)
    "monitor_probes",       # health probes sent to members
    "monitor_successes",    # probes that succeeded ...
    "monitor_failures",     # ... and that failed (a reset, an ICMP unreachable, no answer in time)
    "monitor_changes",      # members that went up or down by their health monitor
    "takeovers",            # redundancy groups moved to another switch because theirs failed (a cluster)
)


def percentile(sorted_values, fraction):
    """The value below which `fraction` of the samples lie (nearest rank: the ceil(fraction x n)-th
    smallest; 0.07 x 100 is the 7th, though 0.07 * 100 is 7.000000000000001 in floating point)."""
    if not sorted_values:
        return None
    rank = min(max(1, math.ceil(round(fraction * len(sorted_values), 9))), len(sorted_values))
    return sorted_values[rank - 1]


class Stats:
    def __init__(self, samples=1000):
        self.counters = dict.fromkeys(COUNTERS, 0)
        # Milliseconds from an ARP packet-in that moved a member to the switch's barrier reply
        # for the resulting flow changes: the time to follow a move.
        self.move_ms = deque(maxlen=samples)
        # Milliseconds from a REST change's arrival to the barrier reply of every switch it changed.
        self.change_ms = deque(maxlen=samples)

    def count(self, name, n=1):
        self.counters[name] += n

    def to_dict(self):
        return dict(self.counters, move_to_barrier_ms=_summary(self.move_ms),
                    change_to_barrier_ms=_summary(self.change_ms))


def _summary(samples):
    ordered = sorted(samples)
    return {"count": len(ordered), "p50": percentile(ordered, 0.50), "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else None, "recent": list(samples)}
