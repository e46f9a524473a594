"""The REST API described as an OpenAPI 3.1 document, served at GET /v1/openapi.json. Limits come
from the model's own constants, so the document cannot drift from what the API checks; a test
validates real responses against it."""
from lbctl import health, model, networks
from lbctl.hosts import DUPLICATE, LEARNED
from lbctl.stats import COUNTERS

IPV4 = {"type": "string", "format": "ipv4"}
# What the model takes as a VIP, SNAT or member address (model._ipv4): not 0.0.0.0, 255.255.255.255,
# loopback (127/8) nor multicast (224/4).
UNICAST = dict(IPV4, description="an IPv4 unicast host address",
               **{"not": {"pattern": r"^(0\.0\.0\.0|255\.255\.255\.255|127\..*|22[4-9]\..*|23[0-9]\..*)$"}})
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
ERROR = {"description": "the request was refused; `error` names the field and the value",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


NAME = {"type": "string", "pattern": "^%s$" % model.NAME_RE.pattern}
NETWORK_NAME = dict(NAME, description="a network's name (default: %r, the untagged one)" % networks.DEFAULT)
MEMBER_IN = {"type": "object", "additionalProperties": False, "required": ["address"],
             "properties": {"address": UNICAST, "port": PORT,
                            "network": dict(NETWORK_NAME, description="where the member is (default: the VIP's)"),
                            "weight": {"type": "integer", "minimum": 0, "maximum": model.MAX_WEIGHT},
                            "monitor_port": dict(PORT, description="where health probes go (default: port)")}}
SECONDS = {"type": "number", "minimum": model.MONITOR_INTERVAL[0], "maximum": model.MONITOR_INTERVAL[1]}
COUNT = {"type": "integer", "minimum": 1, "maximum": model.MONITOR_MAX_COUNT}
# A timeout longer than the interval is refused (400), which JSON Schema cannot say.
HEALTH_MONITOR = {"type": "object", "additionalProperties": False,
                  "properties": {"type": {"enum": list(model.MONITOR_TYPES)}, "interval": SECONDS,
                                 "timeout": dict(SECONDS, minimum=model.MONITOR_MIN_TIMEOUT),
                                 "rise": COUNT, "fall": COUNT}}
VIP_FIELDS = {
    "name": NAME, "network": dict(NETWORK_NAME, description="where its clients reach it"),
    "address": UNICAST, "port": PORT,
    "protocol": {"enum": list(model.PROTOCOLS)},
    "mode": {"enum": list(model.MODES)},
    "algorithm": {"enum": list(model.ALGORITHMS)},
    "redundancy_group": {"type": "integer", "minimum": 1, "maximum": model.MAX_REDUNDANCY_GROUP},
    "snat_pool": {"type": "object", "additionalProperties": False, "required": ["addresses"],
                  "properties": {"addresses": {"type": "array", "items": UNICAST, "minItems": 1,
                                               "maxItems": model.MAX_SNAT_ADDRESSES},
                                 "ports": {"type": "array", "items": PORT, "minItems": 2, "maxItems": 2}}},
    "members": {"type": "array", "items": MEMBER_IN, "maxItems": model.MAX_MEMBERS},
    "health_monitor": HEALTH_MONITOR,
}
LOCATION = {"type": "object", "required": ["dpid", "mac", "port"],
            "properties": {"dpid": {"type": "string"}, "mac": {"type": "string"}, "port": {"type": "integer"}}}
MEMBER_OUT = {"type": "object", "required": ["address", "port", "weight", "id", "host", "cookie", "locations",
                                             "operating_status", "status_since", "status_reason"],
              "properties": dict(MEMBER_IN["properties"], id={"type": "integer"}, cookie={"type": "string"},
                                 host={"type": "integer", "description": "the id of the host at the member's "
                                       "address: its register value and the low half of its flows' cookie"},
                                 locations={"type": "array", "items": LOCATION},
                                 operating_status={"enum": list(health.STATUSES)},
                                 status_since={"type": "string", "format": "date-time"},
                                 status_reason={"type": "string"})}
VIP_OUT = {"type": "object",
           "required": ["name", "address", "port", "protocol", "mode", "algorithm", "redundancy_group", "members",
                        "health_monitor", "id", "revision", "group_id", "mac", "cookie", "members_up"],
           "properties": dict(VIP_FIELDS, members={"type": "array", "items": MEMBER_OUT},
                              members_up={"type": "integer", "minimum": 0},
                              revision={"type": "string", "description": "for If-Match on PUT and DELETE"},
                              id={"type": "integer"}, group_id={"type": "integer"}, mac={"type": "string"},
                              cookie={"type": "string", "description": "value/mask for ovs-ofctl dump-flows"})}
GATEWAY = {"oneOf": [
    {"type": "string", "description": "address/prefix, in redundancy group 1"},
    {"type": "object", "additionalProperties": False, "required": ["address"],
     "properties": {"address": {"type": "string", "description": "address/prefix"},
                    "redundancy_group": {"type": "integer", "minimum": 1, "maximum": model.MAX_REDUNDANCY_GROUP}}}]}
NETWORK_FIELDS = {
    "name": NAME,
    "vlan": {"type": ["integer", "null"], "minimum": 1, "maximum": 4094, "description": "null: untagged"},
    "gateways": {"type": "array", "items": GATEWAY, "maxItems": networks.MAX_GATEWAYS},
    "monitor_address": {"oneOf": [UNICAST, {"type": "null"}]},
    "access_ports": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": networks.MAX_PORT},
                     "maxItems": networks.MAX_ACCESS_PORTS, "uniqueItems": True},
}
NETWORK_IN = {"type": "object", "additionalProperties": False, "properties": NETWORK_FIELDS}
NETWORK_NEW = dict(NETWORK_IN, required=["name"])
NETWORK_OUT = {"type": "object",
               "required": ["name", "vlan", "gateways", "monitor_address", "access_ports", "id", "revision", "cookie",
                            "zones", "macs", "vips", "implicit"],
               "properties": dict(NETWORK_FIELDS, gateways={"type": "array", "items": GATEWAY["oneOf"][1]},
                                  id={"type": "integer"}, revision={"type": "string"}, cookie={"type": "string"},
                                  zones={"type": "array", "items": {"type": "integer"}},
                                  macs={"type": "object", "additionalProperties": {"type": "string"},
                                        "description": "redundancy group -> the balancer's MAC here"},
                                  vips={"type": "array", "items": {"type": "string"}},
                                  implicit={"type": "boolean", "description": "the default network, set by [lbctl]"})}
HOST = {"type": "object", "required": ["ip", "network", "dpid", "mac", "port", "first_seen", "last_seen", "moves", "state", "id",
                                       "cookie"],
        "properties": {"ip": IPV4, "network": {"type": "string"}, "dpid": {"type": "string"}, "mac": {"type": "string"}, "port": {"type": "integer"},
                       "first_seen": {"type": "number"}, "last_seen": {"type": "number"},
                       "moves": {"type": "integer"}, "state": {"enum": [LEARNED, DUPLICATE]},
                       "id": {"type": "integer"}, "cookie": {"type": "string"}}}
LATENCY = {"type": "object", "required": ["count", "p50", "p99", "max", "recent"],
           "properties": {"count": {"type": "integer"}, "p50": {"type": ["number", "null"]},
                          "p99": {"type": ["number", "null"]}, "max": {"type": ["number", "null"]},
                          "recent": {"type": "array", "items": {"type": "number"}}}}
STATS = {"type": "object",
         "required": list(COUNTERS) + ["move_to_barrier_ms", "change_to_barrier_ms", "switches", "pending_barriers"],
         "properties": dict({name: {"type": "integer"} for name in COUNTERS},
                            move_to_barrier_ms=LATENCY, change_to_barrier_ms=LATENCY, switches={"type": "integer"},
                            pending_barriers={"type": "integer", "minimum": 0})}

COUNTS = {"type": "object", "required": ["packets", "bytes", "connections"],
          "properties": {n: {"type": "integer", "minimum": 0} for n in ("packets", "bytes", "connections")}}
TRAFFIC = {"type": "object", "description": "VIP name -> its counters and its members' ('address:port' -> counters)",
           "additionalProperties": dict(COUNTS, required=COUNTS["required"] + ["members"],
                                        properties=dict(COUNTS["properties"],
                                                        members={"type": "object", "additionalProperties": COUNTS}))}
STATS["required"] += ["vips", "traffic_polled_at", "traffic_polls"]
STATS["properties"].update(vips=TRAFFIC, traffic_polled_at={"type": ["number", "null"]},
                           traffic_polls={"type": "integer", "minimum": 0})
FLOWS = {"type": "object", "required": ["switches"],
         "properties": {"switches": {"type": "array", "items": {
             "type": "object", "required": ["dpid", "flows", "groups"],
             "properties": {"dpid": {"type": "string"}, "flows": {"type": "array", "items": {"type": "string"}},
                            "groups": {"type": "array", "items": {"type": "string"}}}}}}}

SWITCH = {"oneOf": [{"type": "null"}, {"type": "object", "required": ["name", "dpid", "healthy"],
                                       "properties": {"name": {"type": "string"}, "dpid": {"type": "string"},
                                                      "healthy": {"type": "boolean"}}}]}
CLUSTER = {"type": "object", "required": ["balancers", "preempt", "hold_down", "takeovers", "groups"],
           "properties": {
               "balancers": {"type": "array", "items": {"type": "object", "required": ["name", "dpid", "connected",
                                                                                       "healthy"]}},
               "preempt": {"type": "boolean"}, "hold_down": {"type": "number"},
               "takeovers": {"type": "integer", "minimum": 0},
               "groups": {"type": "array", "items": {
                   "type": "object", "required": ["group", "active", "since", "standbys"],
                   "properties": {"group": {"type": "integer"}, "active": SWITCH,
                                  "since": {"type": ["number", "null"], "description": "wall-clock seconds"},
                                  "standbys": {"type": "array", "items": SWITCH}}}}}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "the revision (from GET): refused with 412 if the VIP or network changed meanwhile"}
NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": NAME}
IP_PARAM = {"name": "ip", "in": "path", "required": True, "schema": IPV4}
NETWORK_PARAM = {"name": "network", "in": "query", "required": False, "schema": NETWORK_NAME}
# A token is needed only when one is configured ([lbctl] token_file): {} is "no authentication".
CHANGE = {"security": [{"token": []}, {}]}
# A new VIP names itself; a replacement may leave the name out (the URL's is used; if given, it must
# be the same). snat_pool is required in mode one-arm and refused in the others.
VIP_IN = {"type": "object", "additionalProperties": False, "required": ["address", "port"], "properties": VIP_FIELDS,
          "if": {"required": ["mode"], "properties": {"mode": {"const": "one-arm"}}},
          "then": {"required": ["snat_pool"]}, "else": {"not": {"required": ["snat_pool"]}}}
VIP_NEW = dict(VIP_IN, required=["name", "address", "port"])


def _body(schema):
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


VIP_BODY = _body("VipIn")
NEW_VIP_BODY = _body("VipNew")

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "lbctl", "version": "1",
             "description": "L4 load balancing in Open vSwitch tables. Errors: {\"error\": \"<field>: "
                            "<value> <why>\"}; a refused request changes nothing."},
    "components": {
        "schemas": {"VipIn": VIP_IN, "VipNew": VIP_NEW, "Vip": VIP_OUT,
                    "NetworkIn": NETWORK_IN, "NetworkNew": NETWORK_NEW, "Network": NETWORK_OUT,
                    "Host": HOST, "Stats": STATS,
                    "Error": {"type": "object", "required": ["error"],
                              "properties": {"error": {"type": "string", "minLength": 1}}}},
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                      "description": "needed for changes when [lbctl] token_file is set"}},
    },
    "paths": {
        "/v1/vips": {
            "get": {"summary": "all VIPs", "responses": {"200": _json({"type": "array", "items": _ref("Vip")}, "the VIPs")}},
            "post": dict(CHANGE, summary="create a VIP", requestBody=NEW_VIP_BODY, responses={
                "201": _json(_ref("Vip"), "created"), "400": ERROR, "401": ERROR, "409": ERROR, "413": ERROR}),
        },
        "/v1/vips/{name}": {
            "parameters": [NAME_PARAM],
            "get": {"summary": "one VIP", "responses": {"200": _json(_ref("Vip"), "the VIP"), "404": ERROR}},
            "put": dict(CHANGE, summary="replace a VIP", requestBody=VIP_BODY, parameters=[IF_MATCH], responses={
                "200": _json(_ref("Vip"), "replaced"), "400": ERROR, "401": ERROR, "404": ERROR, "409": ERROR,
                "412": ERROR, "413": ERROR}),
            "delete": dict(CHANGE, summary="delete a VIP", parameters=[IF_MATCH], responses={
                "204": {"description": "deleted"}, "401": ERROR, "404": ERROR, "412": ERROR}),
        },
        "/v1/networks": {
            "get": {"summary": "all networks", "responses": {
                "200": _json({"type": "array", "items": _ref("Network")}, "the networks, the default one first")}},
            "post": dict(CHANGE, summary="create a network", requestBody=_body("NetworkNew"), responses={
                "201": _json(_ref("Network"), "created"), "400": ERROR, "401": ERROR, "409": ERROR, "413": ERROR}),
        },
        "/v1/networks/{name}": {
            "parameters": [NAME_PARAM],
            "get": {"summary": "one network", "responses": {"200": _json(_ref("Network"), "the network"),
                                                            "404": ERROR}},
            "put": dict(CHANGE, summary="replace a network", requestBody=_body("NetworkIn"), parameters=[IF_MATCH],
                        responses={"200": _json(_ref("Network"), "replaced"), "400": ERROR, "401": ERROR,
                                   "404": ERROR, "409": ERROR, "412": ERROR, "413": ERROR}),
            "delete": dict(CHANGE, summary="delete a network no VIP uses", parameters=[IF_MATCH], responses={
                "204": {"description": "deleted"}, "401": ERROR, "404": ERROR, "409": ERROR, "412": ERROR}),
        },
        "/v1/cluster": {"get": {"summary": "the balancer switches, and where each redundancy group is active",
                                "responses": {"200": _json(CLUSTER, "the cluster")}}},
        "/v1/hosts": {"get": {"summary": "hosts learned from ARP",
                              "responses": {"200": _json({"type": "array", "items": _ref("Host")}, "the hosts")}}},
        "/v1/hosts/{ip}": {
            "parameters": [IP_PARAM, NETWORK_PARAM],
            "get": {"summary": "one address on a network, per switch", "responses": {
                "200": _json({"type": "array", "items": _ref("Host")}, "where it is"), "404": ERROR}},
            "delete": dict(CHANGE, summary="forget an address (clears a duplicate)", responses={
                "204": {"description": "forgotten"}, "401": ERROR, "404": ERROR}),
        },
        "/v1/stats": {"get": {"summary": "controller counters and traffic per VIP and member",
                              "responses": {"200": _json(_ref("Stats"), "counters")}}},
        "/v1/flows": {"get": {"summary": "what the controller installed on each switch, as ovs-ofctl prints it, with the last counters",
                              "responses": {"200": _json(FLOWS, "per switch")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
            "description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/v1/openapi.json": {"get": {"summary": "this document", "responses": {"200": _json({"type": "object"}, "it")}}},
    },
}
