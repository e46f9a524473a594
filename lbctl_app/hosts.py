"""Where hosts are: IP -> MAC and switch port, per switch, learned from ARP, with MAC mobility and
duplicate detection (RFC 7432 style: an address that moves `max_moves` times within `window`
seconds is frozen where it was last seen and marked duplicate until an operator clears it); and
when to send ARP probes. Plain state with an injected clock: no Ryu, no sockets."""
from collections import deque
from dataclasses import dataclass, field

LEARNED = "learned"
DUPLICATE = "duplicate"

# What one ARP packet did to the table (HostTable.learn).
NEW, SAME, MOVED, BECAME_DUPLICATE, FROZEN = "new", "same", "moved", "became-duplicate", "frozen"


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
    state: str = LEARNED
    recent_moves: deque = field(default_factory=deque, repr=False)   # times of moves in the window

    @property
    def place(self):
        return Place(self.mac, self.port)

    def to_dict(self):
        return {"ip": self.ip, "dpid": "%016x" % self.dpid, "mac": self.mac, "port": self.port,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "moves": self.moves,
                "state": self.state}


class HostTable:
    def __init__(self, max_moves=5, window=180.0):
        self.max_moves = max_moves
        self.window = window
        self._hosts = {}   # (dpid, ip) -> Host

    def learn(self, dpid, ip, mac, port, now):
        """Record that `ip` was seen at `mac` behind `port`; returns what that did (NEW, SAME, ...)."""
        host = self._hosts.get((dpid, ip))
        if host is None:
            self._hosts[(dpid, ip)] = Host(ip, dpid, mac, port, now, now)
            return NEW
        host.last_seen = now
        if host.state == DUPLICATE:
            return FROZEN
        if (host.mac, host.port) == (mac, port):
            return SAME
        while host.recent_moves and host.recent_moves[0] <= now - self.window:
            host.recent_moves.popleft()
        host.recent_moves.append(now)
        if len(host.recent_moves) >= self.max_moves:
            host.state = DUPLICATE   # stays where it was: the flapping stops here
            return BECAME_DUPLICATE
        host.mac, host.port, host.moves = mac, port, host.moves + 1
        return MOVED

    def host(self, dpid, ip):
        return self._hosts.get((dpid, ip))

    def where(self, dpid, ip):
        host = self.host(dpid, ip)
        return None if host is None else host.place

    def places(self, dpid):
        """ip -> Place of every host known on one switch."""
        return {ip: host.place for (host_dpid, ip), host in self._hosts.items() if host_dpid == dpid}

    def get(self, ip):
        return [h for (_, host_ip), h in sorted(self._hosts.items()) if host_ip == ip]

    def forget(self, ip):
        """Drop every entry of `ip` (also clears a duplicate): it is learned afresh. How many went."""
        keys = [k for k in self._hosts if k[1] == ip]
        for key in keys:
            del self._hosts[key]
        return len(keys)

    def all(self):
        return sorted(self._hosts.values(), key=lambda h: (h.dpid, h.ip))


class ProbeSchedule:
    """ARP probes with back-off: 1 s, 2 s, 4 s ... up to `max_interval`, per (switch, address)."""

    def __init__(self, first_interval=1.0, max_interval=30.0):
        self.first_interval = first_interval
        self.max_interval = max_interval
        self._next = {}   # (dpid, ip) -> (due time, interval)

    def due(self, wanted, now):
        """`wanted`: the (dpid, ip) pairs to find (unresolved, or not heard from for too long).
        Returns those to probe now."""
        for key in [k for k in self._next if k not in wanted]:
            del self._next[key]   # answered, or no longer a member
        due = []
        for key in sorted(wanted):
            when, interval = self._next.get(key, (now, self.first_interval))
            if when <= now:
                due.append(key)
                self._next[key] = (now + interval, min(interval * 2, self.max_interval))
        return due
