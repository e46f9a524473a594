"""The switches the controller talks to: what each holds as far as the controller knows, what
reading it found, its requests in flight; and Placement, the one place that decides whether this
controller may write to a switch and which VIPs a switch serves."""
import itertools

from flows.desired import SwitchState


class Switch:
    """One connected datapath."""

    def __init__(self, dpid, connected_at):
        self.dpid = dpid
        self.connected_at = connected_at
        self.installed = None       # what it holds: unknown until its own state was read (adoption)
        self.found = SwitchState()  # what reading it found: its flows (keys), groups and meters ...
        self.found_places = {}      # ... where its locate flows said hosts are (host id -> Place) ...
        self.found_slots = {}       # ... and what each VIP's slots load: VIP register value -> {slot: loads} ...
        self.found_standby = set()  # ... and the redundancy groups it stood by for (a cluster's)
        self.reading = set()        # the parts of a reading still to come
        self.read_since = None      # when the reading started (monotonic)
        self.read_again = float("-inf")   # when an error last made the controller read it again
        self.pending = {}           # barrier xid -> (the samples it times, or None; when its cause came)
        self.counter_reads = {}     # xid of a counter request in flight -> the Reading it is part of
        self.counters = {}          # VIP id -> {flow key: (packets, bytes)} at its last reading
        self._xids = itertools.count(1)

    @property
    def adopted(self):
        return self.installed is not None

    def xid(self):
        """A transaction id for a request whose reply the core waits for."""
        return next(self._xids)

    def start_reading(self, now):
        self.installed, self.found, self.found_places, self.found_slots = None, SwitchState(), {}, {}
        self.found_standby = set()
        self.reading = {"flows", "groups", "meters"}
        self.read_since = now


class Reading:
    """The reading of one VIP's counters on one switch: the requests not answered in full yet, and
    the rows their replies brought."""

    def __init__(self, vip_id, xids, started):
        self.vip_id = vip_id
        self.waiting = set(xids)
        self.rows = []
        self.started = started   # when it was asked for (monotonic)


class Placement:
    """Which switches this controller writes to and which VIPs each serves. Today: every
    connected switch is written to and serves every VIP (one controller, switches that are all
    alike)."""

    def writable(self, switch):
        return switch.adopted

    def served(self, switch, vips):
        """The VIPs (of `vips`) that `switch` serves."""
        return vips
