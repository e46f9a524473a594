"""Carries OpenFlow connections from the switch to a controller on 127.0.0.1:PORT.

    python ofrelay.py SOCKET_PATH PORT

ovs-vswitchd lives in its own network namespace (see ovs.py), where 127.0.0.1 is not the root
namespace's loopback. It connects to the Unix socket SOCKET_PATH instead; this relay, in the
root namespace, opens one TCP connection to the controller for each switch connection and copies
bytes both ways. When the controller is down the relay closes the switch's connection at once,
so the switch sees what it would see from a refused TCP connect and retries with its back-off.

SOCKET_PATH.sessions holds the number of connections on which the controller has answered (sent
its OpenFlow hello): Lab.is_connected() reads it, because the switch's own is_connected column
is refreshed only every few seconds. Standard library only; run as a script so that it needs
nothing on sys.path.

For tests of a switch that does not answer: when SOCKET_PATH.drop exists as a connection starts,
the switch's messages on it are copied one OpenFlow message at a time, and those the file names
are dropped. Each line is "TYPE" or "TYPE:MULTIPART_TYPE" (e.g. "19:1": flow stats replies).
"""

import os
import socket
import sys
import threading


class Sessions:
    """Counts the connections the controller has answered, in a file beside the socket."""

    def __init__(self, path):
        self.path = path
        self.count = 0
        self.lock = threading.Lock()
        self._write()

    def add(self, delta):
        with self.lock:
            self.count += delta
            self._write()

    def _write(self):
        with open(self.path + ".tmp", "w") as f:
            f.write(f"{self.count}\n")
        os.replace(self.path + ".tmp", self.path)


def shut_both(*socks):
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump(src, dst, on_first_data=None):
    """Copy src to dst until either side closes, then close both directions of both."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if on_first_data:
                on_first_data()
                on_first_data = None
            dst.sendall(data)
    except OSError:
        pass
    shut_both(src, dst)


def dropped_by(path):
    """The set of (type, multipart type or None) named in the drop file, or None without one."""
    try:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return None
    rules = set()
    for line in lines:
        kind, _, sub = line.partition(":")
        rules.add((int(kind), int(sub) if sub else None))
    return rules


def pump_messages(src, dst, rules):
    """Like pump, one OpenFlow message at a time, leaving out those `rules` name."""
    buffer = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            buffer += data
            while len(buffer) >= 8 and len(buffer) >= int.from_bytes(buffer[2:4], "big"):
                length = int.from_bytes(buffer[2:4], "big")
                message, buffer = buffer[:length], buffer[length:]
                kind = message[1]
                sub = int.from_bytes(message[8:10], "big") if len(message) >= 10 else None
                if (kind, None) not in rules and (kind, sub) not in rules:
                    dst.sendall(message)
    except OSError:
        pass
    shut_both(src, dst)


def serve(switch_conn, port, sessions, drop_file):
    try:
        controller = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        switch_conn.close()
        return
    controller.settimeout(None)
    # Packet-ins and flow mods are small messages; do not let Nagle hold them back.
    controller.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    answered = []
    back = threading.Thread(target=pump, daemon=True, args=(
        controller, switch_conn, lambda: (answered.append(True), sessions.add(+1))))
    back.start()
    rules = dropped_by(drop_file)
    if rules is None:
        pump(switch_conn, controller)
    else:
        pump_messages(switch_conn, controller, rules)
    back.join()
    if answered:
        sessions.add(-1)
    switch_conn.close()
    controller.close()


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    sessions = Sessions(path + ".sessions")
    print(f"ofrelay: {path} -> 127.0.0.1:{port}", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, port, sessions, path + ".drop"), daemon=True).start()


if __name__ == "__main__":
    main()
