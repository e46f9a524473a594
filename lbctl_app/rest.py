"""The REST API, JSON in and out, served by ryu-manager's WSGI server (--wsapi-host/--wsapi-port).

  GET    /v1/vips            all VIPs
  POST   /v1/vips            create one (201)
  GET    /v1/vips/{name}     one VIP, with its cookie and where its members are
  PUT    /v1/vips/{name}     replace one
  DELETE /v1/vips/{name}     delete one (204)
  GET    /v1/hosts           hosts learned from ARP: where, since when, moves, state
  GET    /v1/hosts/{ip}      one address (a list: one entry per switch it was seen on)
  DELETE /v1/hosts/{ip}      forget it, which also clears a duplicate (204)
  GET    /v1/stats           controller counters, latencies, and traffic per VIP and member
  GET    /v1/flows           what the controller installed on each switch, as ovs-ofctl prints it
                             (with each flow's counters as of the last reading)
  GET    /metrics            all of it for Prometheus (text exposition format)
  GET    /v1/openapi.json    this API as an OpenAPI 3.1 document

Errors are {"error": "<field>: <value> <why>"} with 400, 401, 404, 409, 412, 413 or 500. A PUT or
DELETE with `If-Match: <revision>` (from GET) is refused with 412 if the VIP changed meanwhile. With
[lbctl] token_file set, POST, PUT and DELETE need 'Authorization: Bearer <token>' (GETs do not).
"""
import hmac
import json
import logging
import re

from ryu.app.wsgi import ControllerBase, Response, route

from prometheus_client import CONTENT_TYPE_LATEST

from lbctl import metrics, openapi
from lbctl.model import NAME_RE, InvalidInput, LbError, NotFound, parse_vip

LOG = logging.getLogger("lbctl")
APP_KEY = "lbctl"
MAX_BODY = 1 << 20
# Routes anchors its patterns with "$", which also matches before a final newline: (?!\n) keeps
# "/v1/vips/web%0A" from being taken for "/v1/vips/web".
NAME = {"name": NAME_RE.pattern + r"(?!\n)"}
IP = {"ip": r"[0-9.]{7,15}(?!\n)"}
# Every path of the API as a regex, and its methods: for the answer to a request no route took.
KNOWN = [(re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path) + r"\Z"), sorted(m.upper() for m in item if m != "parameters"))
         for path, item in openapi.DOCUMENT["paths"].items()]


def _json(status, doc=None):
    if doc is None:
        return Response(status=status)
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


class _TooLarge(Exception):
    pass


class _Unauthorized(Exception):
    pass


def _answer(work, req=None, token=None):
    """Run one request's work; turn the errors a user can cause into their status codes. With a
    `token`, the request (one that changes something) must carry it as a bearer token."""
    try:
        if token is not None and not hmac.compare_digest(req.headers.get("Authorization", ""), "Bearer " + token):
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


class LbctlRest(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.lb = data[APP_KEY]

    @route("vips", "/v1/vips", methods=["GET"])
    def list_vips(self, req, **_):
        return _answer(lambda: (200, self.lb.view.vips()))

    @route("vips", "/v1/vips", methods=["POST"])
    def create_vip(self, req, **_):
        return _answer(lambda: (201, self.lb.view.describe(self.lb.create_vip(parse_vip(_body(req))))), req, self.lb.token)

    @route("vips", "/v1/vips/{name}", methods=["GET"], requirements=NAME)
    def get_vip(self, req, name, **_):
        return _answer(lambda: (200, self.lb.view.vip(name)))

    @route("vips", "/v1/vips/{name}", methods=["PUT"], requirements=NAME)
    def replace_vip(self, req, name, **_):
        return _answer(lambda: (200, self.lb.view.describe(self.lb.replace_vip(name, parse_vip(_body(req), name=name),
                                                                        _if_match(req)))),
                       req, self.lb.token)

    @route("vips", "/v1/vips/{name}", methods=["DELETE"], requirements=NAME)
    def delete_vip(self, req, name, **_):
        def delete():
            self.lb.delete_vip(name, _if_match(req))
            return 204, None
        return _answer(delete, req, self.lb.token)

    @route("hosts", "/v1/hosts", methods=["GET"])
    def list_hosts(self, req, **_):
        return _answer(lambda: (200, self.lb.view.hosts()))

    @route("hosts", "/v1/hosts/{ip}", methods=["GET"], requirements=IP)
    def get_host(self, req, ip, **_):
        return _answer(lambda: (200, self.lb.view.host(ip)))

    @route("hosts", "/v1/hosts/{ip}", methods=["DELETE"], requirements=IP)
    def forget_host(self, req, ip, **_):
        def forget():
            if not self.lb.forget_host(ip):
                raise NotFound("host %s is not known" % ip)
            return 204, None
        return _answer(forget, req, self.lb.token)

    @route("openapi", "/v1/openapi.json", methods=["GET"])
    def openapi(self, req, **_):
        return _answer(lambda: (200, openapi.DOCUMENT))

    # Ryu connects a controller's routes in the alphabetical order of its method names, and the
    # first route that matches wins: this catch-all must sort last.
    @route("unknown", "/{path:.*}")
    def zz_not_in_this_api(self, req, **_):
        """A request no route took: 405 for a known path and another method, 404 otherwise (JSON,
        like every other answer, rather than the framework's HTML page)."""
        for pattern, methods in KNOWN:
            if pattern.match(req.path_info) and req.method in methods:
                return _error(404, "path: %r names no VIP or host (not a valid name or address)" % req.path_info)
            if pattern.match(req.path_info):
                response = _error(405, "method: %r is not allowed on %s (allowed: %s)"
                                  % (req.method, req.path_info, ", ".join(methods)))
                response.headers["Allow"] = ", ".join(methods)
                return response
        return _error(404, "path: %r is not part of this API (see /v1/openapi.json)" % req.path_info)

    @route("stats", "/v1/stats", methods=["GET"])
    def stats(self, req, **_):
        return _answer(lambda: (200, self.lb.view.stats()))

    @route("flows", "/v1/flows", methods=["GET"])
    def flows(self, req, **_):
        """What the controller has installed on each switch, as `ovs-ofctl dump-flows` and
        `dump-groups` print it, with each flow's counters as of the last reading."""
        return _answer(lambda: (200, self.lb.view.flows()))

    @route("metrics", "/metrics", methods=["GET"])
    def metrics(self, req, **_):
        return _answer(lambda: (200, metrics.exposition(self.lb.view)))
