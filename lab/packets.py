"""Packets no socket would send, and what a host receives on the wire: Ethernet frames built by
hand (a SYN from a spoofed source, an 802.1Q-tagged frame, a SYN flood) sent from a host's
namespace on a raw AF_PACKET socket, and tcpdump captures of a host's eth0.

Frames are built here, in the test's process (with lbctl.packets, the controller's codec: the
receiving kernels check what it writes), and written to a file in the lab's workdir; a short
script inside the namespace sends them, at a bounded rate.
"""
import itertools
import re
import struct
import sys
import time

from flows.protocols import ETH_TYPE_IP, IP_PROTO_TCP, TCP_SYN
from lbctl import packets as codec

# Runs inside the namespace: send the frames of a file (each a 2-byte length, then the frame) on
# eth0, at most `rate` per second; prints how many were sent.
SEND = """
import socket, struct, sys, time
path, rate = sys.argv[1], float(sys.argv[2])
data = open(path, "rb").read()
frames, at = [], 0
while at < len(data):
    (size,) = struct.unpack_from("!H", data, at)
    frames.append(data[at + 2:at + 2 + size])
    at += 2 + size
start = time.monotonic()
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind(("eth0", 0))
    for i, frame in enumerate(frames):
        ahead = start + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        s.send(frame)
print(len(frames))
"""

IP_ENDPOINTS = re.compile(r"(\d+\.\d+\.\d+\.\d+)(?:\.\d+)? > (\d+\.\d+\.\d+\.\d+)")
FRAME_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d+ ")   # tcpdump's line of one frame (its other lines: counts)
_sends = itertools.count()
_captures = itertools.count()


def tcp_frame(src_mac, dst_mac, src, dst, sport, dport, flags=TCP_SYN, seq=1, ack=0, ttl=64, vlan=None):
    """An Ethernet frame of one TCP segment without payload (window 65535); `vlan`: an 802.1Q tag
    with that VLAN id in front of the IP header. Written with the controller's own codec."""
    segment = codec.tcp(src, dst, sport, dport, seq, ack, flags, window=65535)
    return codec.ethernet(dst_mac, src_mac, ETH_TYPE_IP, codec.ipv4(src, dst, IP_PROTO_TCP, segment, ttl=ttl), vlan)


def send_frames(lab, host, frames, rate=1000.0, timeout=60):
    """Send `frames` from `host`'s eth0, at most `rate` per second; returns how many were sent."""
    path = lab.workdir / ("frames-%d.bin" % next(_sends))
    path.write_bytes(b"".join(struct.pack("!H", len(f)) + f for f in frames))
    try:
        return int(lab.run(host, [sys.executable, "-c", SEND, str(path), str(rate)], timeout=timeout).stdout)
    finally:
        path.unlink()


def endpoints(line):
    """(source, destination) IPv4 addresses of a frame's tcpdump line, without ports."""
    return IP_ENDPOINTS.search(line).groups()


class Capture:
    """tcpdump on a host's eth0 while the `with` block runs; `lines` then holds one line per
    frame seen (with its Ethernet header: `-e`), in either direction. In immediate mode: without
    it, libpcap holds frames up to its buffer timeout, and a frame seen just before the block
    ends could be missing from `lines`."""

    def __init__(self, lab, host, bpf):
        self.lab, self.host, self.bpf = lab, lab.host(host), bpf
        self.key = "tcpdump-%s-%d" % (self.host.name, next(_captures))
        self.log = lab.workdir / (self.key + ".log")
        self.lines = []

    def __enter__(self):
        self.log.unlink(missing_ok=True)
        self.lab.spawn(self.host, self.key, ["tcpdump", "--immediate-mode", "-lnne", "-i", "eth0", self.bpf])
        deadline = time.monotonic() + 10
        while "listening on" not in self._text():
            if time.monotonic() > deadline:
                self.lab.stop_process(self.key)
                raise RuntimeError("tcpdump on %s did not start: %s" % (self.host.name, self._text()))
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.lab.stop_process(self.key)
        self.lines = self.seen()
        self.log.unlink(missing_ok=True)

    def seen(self):
        """The frames seen so far (while the capture runs)."""
        return [line for line in self._text().splitlines() if FRAME_LINE.match(line)]

    def _text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""
