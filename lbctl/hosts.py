"""Where hosts are: (network, address) -> MAC and switch port, per switch, learned from ARP, with
MAC mobility and duplicate detection (RFC 7432 style: an address that moves `max_moves` times
within `window` seconds is frozen where it was last seen and marked duplicate until an operator
clears it); and when to send ARP probes. Only hosts that matter are kept: the controller learns
its members alone, forgets hosts no VIP lists any more, and forgets a member not heard from for
`max_age` seconds. Plain state with an injected clock: no Ryu, no sockets."""
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
    network: str
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
    def key(self):
        return (self.network, self.ip)

    @property
    def place(self):
        return Place(self.mac, self.port)

    def to_dict(self):
        return {"ip": self.ip, "network": self.network, "dpid": "%016x" % self.dpid, "mac": self.mac, "port": self.port,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "moves": self.moves,
                "state": self.state}


class HostTable:
    """Hosts by switch and key, a key being (network, address)."""

    def __init__(self, max_moves=5, window=180.0, max_age=3600.0):
        self.max_moves = max_moves
        self.window = window
        self.max_age = max_age
        self._hosts = {}   # (dpid, key) -> Host

    def learn(self, dpid, key, mac, port, now):
        """Record that host `key` was seen at `mac` behind `port`; returns what that did (NEW,
        SAME, ...)."""
        host = self._hosts.get((dpid, key))
        if host is None:
            self._hosts[(dpid, key)] = Host(key[0], key[1], dpid, mac, port, now, now)
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

    def host(self, dpid, key):
        return self._hosts.get((dpid, key))

    def where(self, dpid, key):
        host = self.host(dpid, key)
        return None if host is None else host.place

    def places(self, dpid):
        """key -> Place of every host known on one switch."""
        return {key: host.place for (host_dpid, key), host in self._hosts.items() if host_dpid == dpid}

    def get(self, key):
        """The entries of one host, a switch each."""
        return sorted((h for (_, k), h in self._hosts.items() if k == key), key=lambda h: h.dpid)

    def forget(self, key):
        """Drop every entry of host `key` (also clears a duplicate): it is learned afresh. How many
        went."""
        return self._drop(lambda dpid, k: k == key)

    def keep_only(self, keys):
        """Forget every host whose key is not in `keys` (no VIP lists it any more). How many went."""
        return self._drop(lambda dpid, k: k not in keys)

    def forget_switch(self, dpid):
        return self._drop(lambda host_dpid, k: host_dpid == dpid)

    def expire(self, now):
        """Forget the hosts not heard from for max_age seconds; the switches that knew them."""
        old = {dpid for (dpid, _), h in self._hosts.items() if h.last_seen < now - self.max_age}
        self._drop(lambda dpid, k: self._hosts[(dpid, k)].last_seen < now - self.max_age)
        return old

    def _drop(self, gone):
        keys = [(dpid, key) for dpid, key in self._hosts if gone(dpid, key)]
        for entry in keys:
            del self._hosts[entry]
        return len(keys)

    def __len__(self):
        return len(self._hosts)

    def all(self):
        return sorted(self._hosts.values(), key=lambda h: (h.dpid, h.network, h.ip))


class ProbeSchedule:
    """ARP probes with back-off: 1 s, 2 s, 4 s ... up to `max_interval`, per (switch, host key)."""

    def __init__(self, first_interval=1.0, max_interval=30.0):
        self.first_interval = first_interval
        self.max_interval = max_interval
        self._next = {}   # (dpid, key) -> (due time, interval)

    def due(self, wanted, now):
        """`wanted`: the (dpid, key) pairs to find (unresolved, or not heard from for too long).
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
