"""The HTTP server of the REST API: eventlet's WSGI server with bounds on what one client, and all
clients together, can hold. Connections beyond a per-client (peer address) or total bound are
closed at accept; a request's line and headers, and then its body, must each arrive within a few
seconds, so an idle connection or a slowloris gives its green thread back; the application is
only called once the whole body is in memory, so it never waits on a client."""
import collections
import io
import logging
import socket

import eventlet
import eventlet.wsgi

LOG = logging.getLogger("lbctl")

# Connections one peer address may hold at once: more than a CLI, a dashboard and a Prometheus
# scraper need together (the fuzz test races 20), few enough that one client cannot fill the pool.
# Clients behind one proxy or NAT share an address, and so share this bound.
CONNECTIONS_PER_CLIENT = 32
# Connections of all clients together (the green thread pool): each is a file descriptor, and the
# process's limit (usually 1,024) is shared with the switches' connections and the state file.
CONNECTIONS = 256
# Connections the kernel queues until they are accepted: a burst is accepted (or refused) at once
# rather than left retrying its SYN.
BACKLOG = 128
# A request's line and headers must be complete within this many seconds of the connection being
# accepted, or of the previous answer on it: an idle keep-alive connection and a client that
# trickles its headers byte by byte both lose the connection then.
HEAD_TIMEOUT = 10.0
# A request's body (at most the application's max_body, 1 MiB) must be complete within this many
# seconds of its headers: 100 KB/s at the worst, slower than any real client of this API.
BODY_TIMEOUT = 10.0
# Any one read or write on a connection: a client that stops reading an answer (GET /v1/flows
# can be megabytes) loses the connection after this.
SOCKET_TIMEOUT = 10.0
# Refused connections are logged together at most once per this many seconds (the first at once).
REFUSAL_LOG_INTERVAL = 10.0


def listen(host, port):
    """The listening socket (raises OSError if the address is taken)."""
    return eventlet.listen((host, port), backlog=BACKLOG)


def serve(listener, application, max_body):
    """Serve the WSGI `application` on `listener` until this green thread is killed. A body longer
    than `max_body` is not read: the application sees its Content-Length and refuses it, and the
    connection is closed after the answer."""
    door = _Door(listener)
    eventlet.wsgi.server(door, application, log=logging.getLogger("lbctl.http"), custom_pool=_Pool(door),
                         protocol=_bounded_protocol(max_body), keepalive=HEAD_TIMEOUT,
                         socket_timeout=SOCKET_TIMEOUT, debug=False)


class _Door:
    """The listening socket as eventlet's server sees it: accept() hands over only connections
    within the bounds and closes the others at once; `closed` is told when one ends."""

    def __init__(self, listener):
        self.listener = listener
        self.open = collections.Counter()   # peer address -> connections open
        self.total = 0
        self.refused = collections.Counter()   # (peer address, bound) -> refused since the last log line
        self.report = None   # the timer that logs the next refusals

    def accept(self):
        while True:
            connection, peer = self.listener.accept()
            address = peer[0]
            if self.open[address] >= CONNECTIONS_PER_CLIENT:
                self._refuse(connection, address, "%d from one client" % CONNECTIONS_PER_CLIENT)
            elif self.total >= CONNECTIONS:
                self._refuse(connection, address, "%d in all" % CONNECTIONS)
            else:
                self.open[address] += 1
                self.total += 1
                return connection, peer

    def closed(self, address):
        self.total -= 1
        self.open[address] -= 1
        if not self.open[address]:
            del self.open[address]

    def _refuse(self, connection, address, bound):
        connection.close()
        self.refused[address, bound] += 1
        if self.report is None:
            self._log_refusals()

    def _log_refusals(self):
        if not self.refused:
            self.report = None
            return
        worst = ", ".join("%s: %d (over %s)" % (address, count, bound)
                          for (address, bound), count in self.refused.most_common(5))
        LOG.warning("lbctl: REST refused %d connection(s): %s", sum(self.refused.values()), worst)
        self.refused.clear()
        self.report = eventlet.spawn_after(REFUSAL_LOG_INTERVAL, self._log_refusals)

    def __getattr__(self, name):   # getsockname, close, family: the listener's own
        return getattr(self.listener, name)


class _Pool(eventlet.GreenPool):
    """The green threads serving connections; tells the door when one ends."""

    def __init__(self, door):
        super().__init__(CONNECTIONS)
        self.door = door

    def spawn(self, serve_connection, connection):
        thread = super().spawn(serve_connection, connection)
        address = connection[0][0]   # eventlet's connection: [peer, socket, state]
        thread.link(lambda _: self.door.closed(address))
        return thread


class _TooSlow(socket.timeout):
    """Raised into a connection's green thread at a deadline; eventlet's server closes the
    connection quietly on a socket timeout."""


def _bounded_protocol(max_body):
    class BoundedProtocol(eventlet.wsgi.HttpProtocol):
        """eventlet's HTTP/1.1 protocol with a deadline over each request's head and body."""

        def handle_one_request(self):
            self.head_deadline = eventlet.Timeout(HEAD_TIMEOUT, _TooSlow("request line and headers"))
            try:
                super().handle_one_request()
            finally:
                self.head_deadline.cancel()

        def handle_one_response(self):
            """Called once the headers are in: read the body before the application runs."""
            self.head_deadline.cancel()
            body = self.environ["eventlet.input"]
            if body.content_length is not None and body.content_length > max_body:
                self.close_connection = 1   # the application refuses it unread: do not read it either
            elif body.content_length or body.chunked_input:
                with eventlet.Timeout(BODY_TIMEOUT, _TooSlow("body")):
                    data = body.read(max_body + 1)
                if len(data) > max_body:
                    self.close_connection = 1   # chunked and too long: the rest stays unread
                self.environ["wsgi.input"] = io.BytesIO(data)
                self.environ["CONTENT_LENGTH"] = str(len(data))
                self.environ.pop("HTTP_TRANSFER_ENCODING", None)
            super().handle_one_response()

    return BoundedProtocol
