"""Where hosts are: IP -> MAC and switch port, per switch, learned from ARP; and when to probe the
members nobody has heard from yet. Plain state with an injected clock: no Ryu, no sockets."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    mac: str
    port: int


@dataclass
class Host:
    ip: str
    dpid: int
    mac: str
    port: int
    first_seen: float
    last_seen: float
    moves: int = 0

    @property
    def place(self):
        return Place(self.mac, self.port)


class HostTable:
    def __init__(self):
        self._hosts = {}   # (dpid, ip) -> Host

    def learn(self, dpid, ip, mac, port, now):
        """Record that `ip` is at `mac` behind `port`. True when this changes where it is."""
        host = self._hosts.get((dpid, ip))
        if host is None:
            self._hosts[(dpid, ip)] = Host(ip, dpid, mac, port, now, now)
            return True
        host.last_seen = now
        if (host.mac, host.port) == (mac, port):
            return False
        host.mac, host.port, host.moves = mac, port, host.moves + 1
        return True

    def where(self, dpid, ip):
        host = self._hosts.get((dpid, ip))
        return None if host is None else host.place

    def forget_switch(self, dpid):
        for key in [k for k in self._hosts if k[0] == dpid]:
            del self._hosts[key]

    def all(self):
        return sorted(self._hosts.values(), key=lambda h: (h.dpid, h.ip))


class ProbeSchedule:
    """ARP probes for unresolved addresses, with back-off: 1 s, 2 s, 4 s ... up to `max_interval`."""

    def __init__(self, first_interval=1.0, max_interval=30.0):
        self.first_interval = first_interval
        self.max_interval = max_interval
        self._next = {}   # (dpid, ip) -> (due time, interval)

    def due(self, wanted, now):
        """`wanted`: the (dpid, ip) pairs still unresolved. Returns those to probe now."""
        for key in [k for k in self._next if k not in wanted]:
            del self._next[key]   # resolved or no longer a member
        due = []
        for key in sorted(wanted):
            when, interval = self._next.get(key, (now, self.first_interval))
            if when <= now:
                due.append(key)
                self._next[key] = (now + interval, min(interval * 2, self.max_interval))
        return due
