"""Hand-made ARP frames sent from a host's namespace: gratuitous ARP from a host that moved, or a
spoofed claim of someone else's address. The real `arping` cannot claim an address its host
does not hold; a raw socket can send any frame."""
import socket
import struct
import sys

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
REQUEST, REPLY = 1, 2

# Runs inside the namespace: one Ethernet/ARP frame, sent `count` times on eth0.
SEND = """
import socket, struct, sys
op, sha, spa, tha, tpa, dst, count = sys.argv[1:8]
mac = lambda text: bytes.fromhex(text.replace(":", ""))
frame = (mac(dst) + mac(sha) + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, int(op))
         + mac(sha) + socket.inet_aton(spa) + mac(tha) + socket.inet_aton(tpa))
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind(("eth0", 0))
    for _ in range(int(count)):
        s.send(frame)
"""


def frame(op, sender_mac, sender_ip, target_mac, target_ip, eth_dst=BROADCAST):
    """The bytes of one Ethernet/ARP frame (as SEND builds it inside a namespace)."""
    mac = lambda text: bytes.fromhex(text.replace(":", ""))  # noqa: E731
    return (mac(eth_dst) + mac(sender_mac) + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, op)
            + mac(sender_mac) + socket.inet_aton(sender_ip) + mac(target_mac)
            + socket.inet_aton(target_ip))


def send_arp(lab, host, op, sender_ip, target_ip, sender_mac=None, target_mac=ZERO_MAC,
             eth_dst=BROADCAST, count=1):
    """Send an ARP frame from `host` (its own MAC unless `sender_mac` is given)."""
    sender_mac = sender_mac or lab.host(host).mac
    lab.run(host, [sys.executable, "-c", SEND, str(op), sender_mac, sender_ip, target_mac, target_ip,
                   eth_dst, str(count)])


def garp(lab, host, ip, op=REQUEST, sender_mac=None):
    """A gratuitous ARP announcing `ip` at `sender_mac` (default: the host's MAC)."""
    send_arp(lab, host, op, ip, ip, sender_mac=sender_mac,
             target_mac=ZERO_MAC if op == REQUEST else BROADCAST)
