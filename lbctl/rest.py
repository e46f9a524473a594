"""The REST API, JSON in and out: a WSGI application (`application(service)`, over the core's
lbctl.service.Service), served by lbctl_app/httpd.py on ryu-manager's --wsapi-host/--wsapi-port.

  GET    /v1/vips            all VIPs
  POST   /v1/vips            create one (201)
  GET    /v1/vips/{name}     one VIP, with its cookie and where its members are
  PUT    /v1/vips/{name}     replace one
  DELETE /v1/vips/{name}     delete one (204)
  GET    /v1/networks        all networks (the default one first)
  POST   /v1/networks        create one (201)
  GET    /v1/networks/{name} one network, with its id, zones and MACs
  PUT    /v1/networks/{name} replace one
  DELETE /v1/networks/{name} delete one no VIP uses (204)
  GET    /v1/cluster         the balancer switches, and where each redundancy group is active
  GET    /v1/hosts           hosts learned from ARP: where, since when, moves, state
  GET    /v1/hosts/{ip}      one address (a list: one entry per switch it was seen on); ?network=<name>
  DELETE /v1/hosts/{ip}      forget it, which also clears a duplicate (204); ?network=<name>
  GET    /v1/stats           controller counters, latencies, and traffic per VIP and member
  GET    /v1/flows           what the controller installed on each switch, as ovs-ofctl prints it
                             (with each flow's counters as of the last reading)
  GET    /metrics            all of it for Prometheus (text exposition format)
  GET    /v1/openapi.json    this API as an OpenAPI 3.1 document

HEAD answers like GET, without the body. Errors are {"error": "<field>: <value> <why>"} with 400,
401, 404, 405 (with an Allow header), 409, 412, 413 or 500. A PUT or DELETE with
`If-Match: <revision>` (from GET) is refused with 412 if the VIP (network) changed meanwhile. With [lbctl]
token_file set, POST, PUT and DELETE need 'Authorization: Bearer <token>' (GETs do not).
"""
import hmac
import json
import logging
import re

from prometheus_client import CONTENT_TYPE_LATEST
from webob import Response
from webob.dec import wsgify

from lbctl import metrics, openapi
from lbctl.model import DEFAULT_NETWORK, NAME_RE, InvalidInput, LbError, NotFound, parse_vip
from lbctl.networks import parse_network

LOG = logging.getLogger("lbctl")
MAX_BODY = 1 << 20
# What a {part} of a path may be; anything else on that path is a 404 that says so.
PARTS = {"name": NAME_RE.pattern, "ip": r"[0-9.]{7,15}"}


class _Path:
    """One path of the API ("/v1/vips/{name}") and its handlers by method."""

    def __init__(self, template):
        self.template = template
        self.shape = re.compile(re.sub(r"\{\w+\}", "[^/]+", template))   # any value in each {part}
        self.exact = re.compile(re.sub(r"\{(\w+)\}", lambda m: "(?P<%s>%s)" % (m[1], PARTS[m[1]]), template))
        self.handlers = {}

    def allowed(self):
        return sorted(set(self.handlers) | ({"HEAD"} if "GET" in self.handlers else set()))


PATHS = {}


def _route(method, template):
    """Declares `handler(lb, req, **parts)` as the answer to `method` on `template`."""
    def declare(handler):
        PATHS.setdefault(template, _Path(template)).handlers[method] = handler
        return handler
    return declare


def application(lb):
    """The REST API of `lb` (a lbctl.service.Service: the core's view, its changes, the token) as a
    WSGI application."""
    @wsgify
    def answer(req):
        # The path's bytes as latin-1 characters (PEP 3333): any bytes, UTF-8 or not, match or not.
        received = req.environ.get("PATH_INFO", "")
        shown = received.encode("latin-1").decode("utf-8", "replace")
        path = next((p for p in PATHS.values() if p.shape.fullmatch(received)), None)
        if path is None:
            return _error(404, "path: %r is not part of this API (see /v1/openapi.json)" % shown)
        if req.method not in path.allowed():
            allowed = ", ".join(path.allowed())
            response = _error(405, "method: %r is not allowed on %s (allowed: %s)" % (req.method, shown, allowed))
            response.headers["Allow"] = allowed
            return response
        parts = path.exact.fullmatch(received)
        if parts is None:
            return _error(404, "path: %r names no VIP or host (not a valid name or address)" % shown)
        handler = path.handlers["GET" if req.method == "HEAD" else req.method]   # webob drops a HEAD's body
        return handler(lb, req, **parts.groupdict())
    return answer


def _json(status, doc=None):
    if doc is None:
        return Response(status=status, content_type=None)
    if isinstance(doc, bytes):   # /metrics: already in its format
        return Response(status=status, body=doc, headerlist=[("Content-Type", CONTENT_TYPE_LATEST)])
    return Response(status=status, content_type="application/json", charset="utf-8",
                    body=json.dumps(doc, indent=1).encode() + b"\n")


def _error(status, message):
    return _json(status, {"error": message})


def _body(req):
    if req.content_length is not None and req.content_length > MAX_BODY:
        raise _TooLarge()
    raw = req.body_file.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise _TooLarge()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidInput("body", raw[:40].decode("utf-8", "replace"), "is not valid JSON (%s)" % e)
    except RecursionError:
        raise InvalidInput("body", raw[:40].decode("utf-8", "replace"), "is nested too deeply")


def _if_match(req):
    """The revision an If-Match header asks for (quotes and a weak W/ dropped), or None."""
    value = req.headers.get("If-Match")
    if value is None:
        return None
    return value.strip().removeprefix("W/").strip('"')


def _bearer(req):
    """The bearer token of the Authorization header as bytes, or None if there is none or it is
    malformed: the scheme's case does not matter (RFC 7235), a token is ASCII (RFC 6750's b64token)."""
    scheme, _, credentials = req.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        return credentials.strip(" ").encode("ascii")
    except UnicodeEncodeError:   # the header's bytes come as latin-1 characters (PEP 3333)
        return None


class _TooLarge(Exception):
    pass


class _Unauthorized(Exception):
    pass


def _answer(work, req=None, token=None):
    """Run one request's work; turn the errors a user can cause into their status codes. With a
    `token`, the request (one that changes something) must carry it as a bearer token."""
    try:
        if token is not None:
            given = _bearer(req)
            if given is None or not hmac.compare_digest(given, token.encode()):
                raise _Unauthorized()
        status, doc = work()
    except _Unauthorized:
        response = _error(401, "authorization: changes need the header 'Authorization: Bearer <token>'")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    except _TooLarge:
        return _error(413, "body: larger than %d bytes" % MAX_BODY)
    except LbError as e:
        return _error(e.status, str(e))
    except OSError as e:
        return _error(500, "state_file: cannot save: %s (nothing was changed)" % e)
    except Exception as e:   # a bug, not the caller's fault: say so in JSON, keep the details in the log
        LOG.exception("lbctl: request failed")
        return _error(500, "internal error: %s: %s (see the controller log)" % (type(e).__name__, e))
    return _json(status, doc)


@_route("GET", "/v1/vips")
def list_vips(lb, req):
    return _answer(lambda: (200, lb.view.vips()))


@_route("POST", "/v1/vips")
def create_vip(lb, req):
    return _answer(lambda: (201, lb.view.describe(lb.create_vip(parse_vip(_body(req))))), req, lb.token)


@_route("GET", "/v1/vips/{name}")
def get_vip(lb, req, name):
    return _answer(lambda: (200, lb.view.vip(name)))


@_route("PUT", "/v1/vips/{name}")
def replace_vip(lb, req, name):
    return _answer(lambda: (200, lb.view.describe(lb.replace_vip(name, parse_vip(_body(req), name=name),
                                                                 _if_match(req)))),
                   req, lb.token)


@_route("DELETE", "/v1/vips/{name}")
def delete_vip(lb, req, name):
    def delete():
        lb.delete_vip(name, _if_match(req))
        return 204, None
    return _answer(delete, req, lb.token)


@_route("GET", "/v1/networks")
def list_networks(lb, req):
    return _answer(lambda: (200, lb.view.networks()))


@_route("POST", "/v1/networks")
def create_network(lb, req):
    return _answer(lambda: (201, lb.view.describe_network(lb.create_network(parse_network(_body(req))))),
                   req, lb.token)


@_route("GET", "/v1/networks/{name}")
def get_network(lb, req, name):
    return _answer(lambda: (200, lb.view.network(name)))


@_route("PUT", "/v1/networks/{name}")
def replace_network(lb, req, name):
    return _answer(lambda: (200, lb.view.describe_network(
        lb.replace_network(name, parse_network(_body(req), name=name), _if_match(req)))), req, lb.token)


@_route("DELETE", "/v1/networks/{name}")
def delete_network(lb, req, name):
    def delete():
        lb.delete_network(name, _if_match(req))
        return 204, None
    return _answer(delete, req, lb.token)


def _network(req):
    """The network a host call names (?network=<name>; the default network if none)."""
    return req.GET.get("network", DEFAULT_NETWORK)


@_route("GET", "/v1/cluster")
def cluster(lb, req):
    return _answer(lambda: (200, lb.view.cluster()))


@_route("GET", "/v1/hosts")
def list_hosts(lb, req):
    return _answer(lambda: (200, lb.view.hosts()))


@_route("GET", "/v1/hosts/{ip}")
def get_host(lb, req, ip):
    return _answer(lambda: (200, lb.view.host(ip, _network(req))))


@_route("DELETE", "/v1/hosts/{ip}")
def forget_host(lb, req, ip):
    def forget():
        network = _network(req)
        lb.core.config.network(network)
        if not lb.forget_host(ip, network):
            raise NotFound("host %s is not known on network %r" % (ip, network))
        return 204, None
    return _answer(forget, req, lb.token)


@_route("GET", "/v1/openapi.json")
def openapi_document(lb, req):
    return _answer(lambda: (200, openapi.DOCUMENT))


@_route("GET", "/v1/stats")
def stats(lb, req):
    return _answer(lambda: (200, lb.view.stats()))


@_route("GET", "/v1/flows")
def installed_flows(lb, req):
    """What the controller has installed on each switch, as `ovs-ofctl dump-flows` and
    `dump-groups` print them, with each flow's counters as of the last reading."""
    return _answer(lambda: (200, lb.view.flows()))


@_route("GET", "/metrics")
def prometheus(lb, req):
    return _answer(lambda: (200, metrics.exposition(lb.view)))
