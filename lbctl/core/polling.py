"""Polling: the switches' counters, read VIP by VIP over each stats_interval (Ryu parses a reply
in one go, holding everything else up meanwhile: at 1,000 VIPs a reading of every flow at once
held the controller for seconds), and never right after a configuration change (changes come
first). A reading whose reply is lost is given up after READING_TIMEOUT."""
from flows import pipeline
from lbctl.core.messages import ReadCounters
from lbctl.core.switches import Reading
from lbctl.counters import Traffic, counter_tables

QUIET_BEFORE_READING = 1.0   # seconds without a configuration change before counters are read
READING_TIMEOUT = 60.0       # seconds after which an unanswered reading is given up
CATCH_UP = 0.1               # seconds of readings made up at once after the controller was held up


class Polling:
    def __init__(self, core):
        self.core = core
        self.traffic = Traffic()
        self.queue = []            # ids of the VIPs still to read this round
        self.next_reading = 0.0    # when the next VIP is read (monotonic)

    def tick(self, now):
        core = self.core
        self._give_up(now)
        if now - core.last_change < QUIET_BEFORE_READING:
            return []
        out = []
        interval = core.options.stats_interval
        while self.next_reading <= now:
            if not self.queue:
                self._new_round()
                if not self.queue:
                    self.next_reading = now + interval
                    break
            vip = core.config.by_id.get(self.queue.pop())
            if vip is not None:   # (not deleted since the round began)
                for switch in core.adopted():
                    out += self._request(switch, vip, now)
            pause = interval / max(1, len(core.config.vips))
            self.next_reading = max(self.next_reading + pause, now - CATCH_UP)
        return out

    def _new_round(self):
        """The VIPs of the configuration in force, and the counters of deleted VIPs dropped."""
        vips = self.core.config.vips
        ids = {vip.id for vip in vips}
        for switch in self.core.adopted():
            switch.counters = {vip_id: c for vip_id, c in switch.counters.items() if vip_id in ids}
        self.queue = [vip.id for vip in reversed(vips)]

    def _request(self, switch, vip, now):
        requests = [ReadCounters(switch.xid(), table, *pipeline.vip_cookie_match(vip.id)) for table in counter_tables(vip.mode)]
        reading = Reading(vip.id, [request.xid for request in requests], now)
        for request in requests:
            switch.counter_reads[request.xid] = reading
        return [(switch.dpid, request) for request in requests]

    def read(self, switch, xid, rows, more):
        """A flow stats reply: if it answers a counter request, keep its rows; once the VIP's
        reading is complete, count it. Returns whether it was one."""
        reading = switch.counter_reads.get(xid)
        if reading is None:
            return False
        reading.rows.extend((r.flow.table, r.flow.priority, r.flow.cookie, r.flow.match, r.packets, r.bytes)
                            for r in rows)
        if more:
            return True
        del switch.counter_reads[xid]
        reading.waiting.discard(xid)
        if not reading.waiting:
            switch.counters[reading.vip_id] = {(table, priority, key): (packets, nbytes)
                                               for table, priority, _, key, packets, nbytes in reading.rows}
            self.traffic.poll(switch.dpid, reading.vip_id, reading.rows, self.core.clock.wall())
        return True

    def _give_up(self, now):
        for switch in self.core.switches.values():
            for xid in [xid for xid, r in switch.counter_reads.items() if now - r.started > READING_TIMEOUT]:
                del switch.counter_reads[xid]

    def forget_switch(self, dpid):
        self.traffic.forget_switch(dpid)
