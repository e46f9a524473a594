"""A stand-in for the controller, for tests and benches of the lab itself: it listens on
127.0.0.1:PORT, speaks just enough OpenFlow 1.3 to keep switches connected (HELLO, FEATURES to
learn each connection's dpid, ECHO replies) and writes down, with time.monotonic(), what a real
controller would notice: a switch connecting, its port status changes, its connection ending.

    with FakeController(cluster.of_port) as controller:
        cluster.wait_connected()
        at = cluster.kill_switch("a")
        event = controller.wait_for("disconnected", dpid)   # event.at - at: how fast it saw it

Standard library only; a thread per connection, all daemon threads.
"""

import socket
import struct
import threading
import time
from dataclasses import dataclass, field

OFP_VERSION = 0x04  # OpenFlow 1.3
OFPT_HELLO, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FEATURES_REPLY, OFPT_PORT_STATUS = 5, 6, 12
OFPPR_NAMES = {0: "ADD", 1: "DELETE", 2: "MODIFY"}
OFPPS_LINK_DOWN, OFPPS_LIVE = 1, 4
HEADER = struct.Struct("!BBHI")
# ofp_port_status: reason, 7 pad, then ofp_port: port_no, 4 pad, hw_addr, 2 pad, name[16],
# config, state, ...
PORT_STATUS = struct.Struct("!B7xI4x6s2x16sII")


@dataclass(frozen=True)
class Event:
    at: float           # time.monotonic() when it was read
    kind: str           # "connected", "port_status" or "disconnected"
    dpid: str           # 16 hex digits (None if the switch left before saying who it is)
    detail: dict = field(default_factory=dict)  # port_status: port, name, reason, link_down


class FakeController:
    def __init__(self, port):
        self.port = port
        self.events = []
        self._lock = threading.Condition()
        self._server = None
        self._conns = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        for sock in [self._server, *self._conns]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _note(self, kind, dpid, **detail):
        with self._lock:
            self.events.append(Event(time.monotonic(), kind, dpid, detail))
            self._lock.notify_all()

    def _serve(self, conn):
        dpid = None
        buffer = b""
        try:
            conn.sendall(HEADER.pack(OFP_VERSION, OFPT_HELLO, HEADER.size, 1))
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buffer += data
                while len(buffer) >= HEADER.size:
                    _, kind, length, xid = HEADER.unpack_from(buffer)
                    if len(buffer) < length:
                        break
                    body, buffer = buffer[HEADER.size:length], buffer[length:]
                    if kind == OFPT_HELLO:
                        conn.sendall(HEADER.pack(OFP_VERSION, OFPT_FEATURES_REQUEST,
                                                 HEADER.size, 2))
                    elif kind == OFPT_ECHO_REQUEST:
                        conn.sendall(HEADER.pack(OFP_VERSION, OFPT_ECHO_REPLY,
                                                 HEADER.size + len(body), xid) + body)
                    elif kind == OFPT_FEATURES_REPLY:
                        dpid = body[:8].hex()
                        self._note("connected", dpid)
                    elif kind == OFPT_PORT_STATUS:
                        reason, port, _, name, _, state = PORT_STATUS.unpack_from(body)
                        self._note("port_status", dpid, port=port,
                                   name=name.rstrip(b"\0").decode(),
                                   reason=OFPPR_NAMES.get(reason, reason),
                                   link_down=bool(state & OFPPS_LINK_DOWN))
        except OSError:
            pass
        finally:
            conn.close()
        self._note("disconnected", dpid)

    def connected(self):
        """The dpids with an open connection now (one per connection; a dpid can appear
        twice while a restarted switch's old connection is still being closed)."""
        with self._lock:
            count = {}
            for event in self.events:
                if event.kind in ("connected", "disconnected") and event.dpid:
                    count[event.dpid] = count.get(event.dpid, 0) + (
                        1 if event.kind == "connected" else -1)
            return sorted(dpid for dpid, n in count.items() for _ in range(n))

    def wait_for(self, kind, dpid, after=0.0, timeout=10.0, **detail):
        """The first event of `kind` from `dpid`, read after time `after`, whose detail has
        the given values; AssertionError if none comes within `timeout` seconds."""
        def found():
            return next((e for e in self.events if e.kind == kind and e.dpid == dpid
                         and e.at >= after
                         and all(e.detail.get(k) == v for k, v in detail.items())), None)
        with self._lock:
            if not self._lock.wait_for(found, timeout):
                raise AssertionError(f"no {kind} {detail or ''} from {dpid} within "
                                     f"{timeout:.0f} s; saw {self.events}")
            return found()
