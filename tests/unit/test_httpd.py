"""The REST API's HTTP server (lbctl_app/httpd.py) in this process, with green sockets on
loopback: which connections it takes, that the application gets whole bodies, and that a client
too slow with its request loses the connection."""
import json
import logging

import eventlet
import pytest
from webob import Request, Response

from lbctl_app import httpd

MAX_BODY = 100


class Listener:
    """Connections arriving from peer addresses given with `arrive`; accept() past the last one
    raises EOFError."""

    def __init__(self):
        self.arrivals, self.connections = [], []

    def arrive(self, *addresses):
        for address in addresses:
            self.connections.append(Connection())
            self.arrivals.append((self.connections[-1], (address, 40000 + len(self.connections) - 1)))

    def accept(self):
        if not self.arrivals:
            raise EOFError("no more connections")
        return self.arrivals.pop(0)


class Connection:
    closed = False

    def close(self):
        self.closed = True


def test_connections_beyond_the_bounds_are_closed_at_accept_and_logged_once(monkeypatch, caplog):
    monkeypatch.setattr(httpd, "CONNECTIONS_PER_CLIENT", 2)
    monkeypatch.setattr(httpd, "CONNECTIONS", 3)
    caplog.set_level(logging.WARNING, logger="lbctl")
    listener = Listener()
    door = httpd._Door(listener)
    try:
        listener.arrive("198.18.0.1", "198.18.0.1", "198.18.0.1", "198.18.0.2", "198.18.0.3")
        assert [door.accept()[1] for _ in range(3)] == [("198.18.0.1", 40000), ("198.18.0.1", 40001),
                                                        ("198.18.0.2", 40003)]
        with pytest.raises(EOFError):
            door.accept()
        assert [c.closed for c in listener.connections] == [False, False, True, False, True]
        door.closed("198.18.0.1")
        listener.arrive("198.18.0.3")
        assert door.accept()[1] == ("198.18.0.3", 40005)
        # The first refusal is logged at once; the next ones wait for the interval.
        assert caplog.messages == ["lbctl: REST refused 1 connection(s): 198.18.0.1: 1 (over 2 from one client)"]
        assert door.refused == {("198.18.0.3", "3 in all"): 1}
    finally:
        door.report.cancel()


def echo(environ, start_response):
    """The request's method and body, as JSON."""
    req = Request(environ)
    body = req.body_file.read() if req.content_length is None or req.content_length <= MAX_BODY else b""
    return Response(json=[req.method, body.decode()])(environ, start_response)


@pytest.fixture
def server(monkeypatch):
    """httpd serving `echo` on 127.0.0.1, with timeouts short enough for a unit test."""
    monkeypatch.setattr(httpd, "HEAD_TIMEOUT", 0.5)
    monkeypatch.setattr(httpd, "BODY_TIMEOUT", 0.5)
    listener = httpd.listen("127.0.0.1", 0)
    thread = eventlet.spawn(httpd.serve, listener, echo, MAX_BODY)
    yield listener.getsockname()
    thread.kill()


def read_answer(stream):
    """(status, headers, JSON body) of one answer from a connection's file, or None at its end."""
    status = stream.readline()
    if not status:
        return None
    headers = {}
    for line in iter(stream.readline, b"\r\n"):
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    return int(status.split()[1]), headers, json.loads(stream.read(int(headers["content-length"])))


def test_keep_alive_and_chunked_bodies_reach_the_application_whole(server):
    with eventlet.connect(server) as connection:
        stream = connection.makefile("rb")
        connection.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
                           b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                           b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxy")
        assert [read_answer(stream)[2] for _ in range(3)] == [["GET", ""], ["POST", "abcde"], ["PUT", "xy"]]


def test_a_body_over_the_limit_is_answered_unread_and_the_connection_closed(server):
    with eventlet.connect(server) as connection:
        stream = connection.makefile("rb")
        connection.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        status, headers, doc = read_answer(stream)
        assert (status, headers["connection"], doc) == (200, "close", ["POST", ""])
        assert read_answer(stream) is None


@pytest.mark.parametrize("start", [b"", b"GET / HTTP/1.1\r\nHost: t\r\n",
                                   b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nabc"])
def test_a_request_that_trickles_in_is_closed_unanswered(server, start):
    """Idle, headers or body: a byte every 0.1 s never lets one read time out, but the whole
    head or body has a deadline (0.5 s here)."""
    with eventlet.connect(server) as connection:
        connection.sendall(start)
        for _ in range(50):
            try:
                connection.sendall(b"X")
            except OSError:   # closed meanwhile
                break
            with eventlet.Timeout(0.1, False):
                try:
                    answer = connection.recv(100)
                except ConnectionResetError:   # closed with bytes of ours unread
                    answer = b""
                assert answer == b"", "closed without an answer"
                break
        else:
            pytest.fail("still open after 5 s")
