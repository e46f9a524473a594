"""`lbctl`, the operator's command line: the REST API as aligned tables (or its JSON with --json),
member changes as read-modify-write of one VIP, and the switch's flows and packet traces labelled
with VIP, member, network and table names. Standard library only (and PyYAML for `create -f`).

Exit codes: 0 done; 1 the API refused (4xx) or the thing does not exist; 2 usage; 3 the controller
(or ovs-appctl) cannot be reached, or it failed (5xx). Every error is one line on stderr.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import datetime, timezone

from flows import pipeline
from flows.slots import SLOTS

OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3
DEFAULT_URL = "http://127.0.0.1:8080"
REQUEST_TIMEOUT = 10.0      # seconds for one REST call
TRACE_TIMEOUT = 30.0        # seconds for one ovs-appctl ofproto/trace
# What PUT takes back from a GET answer; the rest (id, cookie, mac, locations, status...) is read-only.
VIP_INPUT = ("name", "network", "address", "port", "protocol", "mode", "algorithm", "redundancy_group", "snat_pool",
             "health_monitor")
MEMBER_INPUT = ("address", "network", "port", "weight", "monitor_port")
NETWORK_INPUT = ("name", "vlan", "gateways", "monitor_address", "access_ports")
DEFAULT_NETWORK = "default"   # the network of a VIP, member or host that names none (always id 0)
NONE = "none"   # an option's value that clears the field (network update --vlan none)
TABLE_NAMES = {table.id: table.name for table in pipeline.TABLES}
OWNER_ORDER = {"vip": 0, "host": 1, "network": 2, "pins": 3, "pipeline": 4}   # how flow rows are ordered


class CliError(Exception):
    def __init__(self, message, code=REFUSED, status=None):
        super().__init__(message)
        self.code = code
        self.status = status     # the HTTP status, when the API answered one


class Result:
    """What a command shows: `doc` with --json, `text` otherwise, and its exit code."""

    def __init__(self, doc, text, code=OK):
        self.doc, self.text, self.code = doc, text, code


# ---------------------------------------------------------------- the REST API

class Api:
    def __init__(self, url, token=None):
        self.url = url.rstrip("/")
        self.token = token

    def get(self, path):
        return self.call("GET", path)

    def call(self, method, path, body=None, revision=None):
        headers = {"Accept": "application/json"}
        if revision:
            headers["If-Match"] = '"%s"' % revision
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method != "GET" and self.token:
            headers["Authorization"] = "Bearer " + self.token
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as reply:
                text = reply.read()
        except urllib.error.HTTPError as e:
            raise _refusal(e, method, path)
        except ValueError as e:     # not a URL urllib can open
            raise CliError("--url: %r is not an http:// URL (%s)" % (self.url, e), USAGE)
        except (urllib.error.URLError, OSError) as e:
            raise CliError("cannot reach the controller at %s: %s" % (self.url, getattr(e, "reason", e)),
                           UNREACHABLE)
        try:
            return json.loads(text) if text else None
        except ValueError:
            raise CliError("%s %s: the controller's answer is not JSON: %r" % (method, path, text[:60]), UNREACHABLE)


def _refusal(error, method, path):
    try:
        message = json.loads(error.read())["error"]
    except (ValueError, KeyError, TypeError):
        message = "%s %s: %s" % (method, path, error.reason)
    message = "%s (%d)" % (message, error.code)
    if error.code == 401:
        message += ": give --token, --token-file or LBCTL_TOKEN"
    return CliError(message, UNREACHABLE if error.code >= 500 else REFUSED, error.code)


def _vip_path(name):
    return "/v1/vips/" + urllib.parse.quote(name, safe="")


def _network_path(name):
    return "/v1/networks/" + urllib.parse.quote(name, safe="")


# ---------------------------------------------------------------- showing things

def table(headers, rows):
    """Aligned columns; the last one is not padded (it may be long, like a flow)."""
    cells = [list(headers)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    return "\n".join("  ".join([c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]).rstrip() for row in cells)


def _when(value):
    """An ISO 8601 time or epoch seconds -> 'YYYY-MM-DD HH:MM:SSZ' (UTC); '-' when absent."""
    if value is None:
        return "-"
    try:
        moment = (datetime.fromtimestamp(value, timezone.utc) if isinstance(value, (int, float))
                  else datetime.fromisoformat(value))
    except (ValueError, TypeError, OverflowError):
        return str(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _service(vip):
    return "%s:%s/%s" % (vip["address"], vip["port"], vip["protocol"])


def _endpoint(member):
    return "%s:%s" % (member["address"], member["port"])


def _member_count(vip):
    total = len(vip["members"])
    return "%d/%d up" % (vip["members_up"], total) if "members_up" in vip else str(total)


def _vip_table(vips):
    return table(("NAME", "NETWORK", "ADDRESS:PORT/PROTO", "MODE", "MEMBERS", "COOKIE"),
                 [(v["name"], v.get("network", DEFAULT_NETWORK), _service(v), v["mode"], _member_count(v), v["cookie"])
                  for v in vips])


def _locations(member):
    places = member.get("locations") or []
    return "; ".join("%s port %s %s" % (p["dpid"], p["port"], p["mac"]) for p in places) or "not resolved"


def _monitor_text(monitor):
    if not monitor or monitor.get("type", "none") == "none":
        return "none"
    return "%s every %ss, timeout %ss, rise %s, fall %s" % tuple(
        monitor.get(k, "?") for k in ("type", "interval", "timeout", "rise", "fall"))


def _vip_details(vip):
    pool = vip.get("snat_pool")
    fields = [("name", vip["name"]), ("network", vip.get("network", DEFAULT_NETWORK)), ("service", _service(vip)),
              ("mode", vip["mode"]),
              ("algorithm", vip.get("algorithm", "-")), ("redundancy_group", vip.get("redundancy_group", "-")),
              ("mac", vip.get("mac", "-")), ("cookie", vip.get("cookie", "-")), ("group_id", vip.get("group_id", "-"))]
    if pool:
        fields.append(("snat_pool", "%s ports %s-%s" % (",".join(pool["addresses"]), *pool["ports"])))
    fields += [("health_monitor", _monitor_text(vip.get("health_monitor"))), ("members", _member_count(vip))]
    width = max(len(k) for k, _ in fields)
    head = "\n".join("%s  %s" % (k.ljust(width), v) for k, v in fields)
    members = table(("MEMBER", "WEIGHT", "STATUS", "SINCE", "REASON", "COOKIE", "LOCATIONS"),
                    [(_member_name(m), m["weight"], m.get("operating_status", "-"), _when(m.get("status_since")),
                      m.get("status_reason") or "-", m.get("cookie", "-"), _locations(m)) for m in vip["members"]])
    return head + "\n\n" + members


def _member_name(member):
    """ADDR:PORT, with its network (the API shows one only when it is not the VIP's) and monitor port."""
    notes = ["network %s" % member["network"]] if member.get("network") else []
    if member.get("monitor_port") is not None:
        notes.append("monitor port %s" % member["monitor_port"])
    return "%s (%s)" % (_endpoint(member), ", ".join(notes)) if notes else _endpoint(member)


def _hosts_table(hosts):
    return table(("IP", "NETWORK", "MAC", "SWITCH", "PORT", "STATE", "MOVES", "LAST SEEN", "COOKIE"),
                 [(h["ip"], h.get("network", DEFAULT_NETWORK), h["mac"], h["dpid"], h["port"], h["state"], h["moves"],
                   _when(h.get("last_seen")), h.get("cookie", "-")) for h in hosts])


def _gateway_text(gateway):
    """A gateway as `network create --gateway` takes it: ADDR/PREFIX, and @GROUP unless group 1."""
    if isinstance(gateway, str):
        return gateway
    group = gateway.get("redundancy_group", 1)
    return gateway["address"] + ("" if group == 1 else "@%d" % group)


def _network_fields(network, separator=","):
    """(field, text) of what an operator sets on a network; lists joined by `separator`."""
    return [("vlan", "untagged" if network.get("vlan") is None else network["vlan"]),
            ("gateways", separator.join(_gateway_text(g) for g in network.get("gateways") or []) or "-"),
            ("monitor_address", network.get("monitor_address") or "-"),
            ("access_ports", separator.join(str(p) for p in network.get("access_ports") or []) or "-")]


def _network_table(networks):
    rows = []
    for network in networks:
        shown = dict(_network_fields(network))
        rows.append((network["name"], shown["vlan"], shown["gateways"], shown["monitor_address"],
                     shown["access_ports"], len(network.get("vips", [])), network.get("cookie", "-")))
    return table(("NAME", "VLAN", "GATEWAYS", "MONITOR ADDRESS", "ACCESS PORTS", "VIPS", "COOKIE"), rows)


def _network_details(network):
    macs = network.get("macs") or {}
    fields = [("name", network["name"]), ("id", network.get("id", "-"))] + _network_fields(network, ", ") + [
        ("zones", "%s (lb), %s (snat)" % tuple(network["zones"]) if network.get("zones") else "-"),
        ("macs", ", ".join("%s (group %s)" % (mac, group) for group, mac in sorted(macs.items(), key=lambda i: int(i[0])))
         or "-"),
        ("vips", ", ".join(network.get("vips", [])) or "-"), ("cookie", network.get("cookie", "-"))]
    if network.get("implicit"):
        fields.append(("implicit", "yes: the controller's [lbctl] options set it"))
    width = max(len(k) for k, _ in fields)
    return "\n".join("%s  %s" % (k.ljust(width), v) for k, v in fields)


def _network_summary(network):
    shown = dict(_network_fields(network))
    parts = ["untagged" if network.get("vlan") is None else "vlan %s" % network["vlan"]]
    parts += ["%s %s" % (label, shown[field]) for field, label in (("gateways", "gateways"),
                                                                   ("monitor_address", "monitor address"),
                                                                   ("access_ports", "access ports"))
              if shown[field] != "-"]
    return "%s, id %s, cookie %s" % (", ".join(parts), network.get("id", "-"), network.get("cookie", "-"))


def _stats_text(stats):
    counters, latencies, other = [], [], []
    for name, value in stats.items():
        if name == "vips":
            continue
        if isinstance(value, dict) and "p50" in value:
            latencies.append((name, value.get("count", "-"), *(_number(value.get(k)) for k in ("p50", "p99", "max"))))
        elif isinstance(value, (dict, list)):
            other.append("%s: %s" % (name, json.dumps(value)))
        else:   # a name ending in _at is a moment (epoch seconds)
            counters.append((name, _when(value) if name.endswith("_at") or value is None else value))
    parts = [table(("COUNTER", "VALUE"), counters)]
    if latencies:
        parts.append(table(("LATENCY (ms)", "COUNT", "P50", "P99", "MAX"), latencies))
    if stats.get("vips"):
        parts.append(_traffic_table(stats["vips"]))
    return "\n\n".join(parts + other)


def _number(value):
    return "-" if value is None else "%.1f" % value


def _traffic_table(vips):
    rows = []
    for name, traffic in vips.items():
        rows.append((name, "-", *_traffic(traffic)))
        rows += [(name, endpoint, *_traffic(t)) for endpoint, t in (traffic.get("members") or {}).items()]
    return table(("VIP", "MEMBER", "PACKETS", "BYTES", "CONNECTIONS"), rows)


def _traffic(counts):
    return tuple(counts.get(k, "-") for k in ("packets", "bytes", "connections"))


# ---------------------------------------------------------------- vip commands

def vip_list(api, args):
    vips = api.get("/v1/vips")
    return Result(vips, _vip_table(vips))


def vip_show(api, args):
    vip = api.get(_vip_path(args.name))
    return Result(vip, _vip_details(vip))


def vip_delete(api, args):
    api.call("DELETE", _vip_path(args.name))
    return Result(None, "deleted vip %s" % args.name)


def vip_create(api, args):
    if args.file:
        return _create_all(api, "/v1/vips", _objects_in_file(args.file, "vips", "VIP"), _created)
    vip = api.call("POST", "/v1/vips", _vip_body(args))
    return Result(vip, _created(vip))


def _created(vip):
    network = vip.get("network", DEFAULT_NETWORK)
    return "created vip %s: %s %s, %s%d members, mac %s, cookie %s" % (
        vip["name"], _service(vip), vip["mode"], "" if network == DEFAULT_NETWORK else "network %s, " % network,
        len(vip["members"]), vip.get("mac", "-"), vip.get("cookie", "-"))


def _vip_body(args):
    body = {"name": args.name, "address": args.address, "port": args.port}
    for field in ("network", "protocol", "mode", "algorithm", "redundancy_group"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    if args.member:
        body["members"] = [dict(m, network=args.member_network) if args.member_network else m for m in args.member]
    if args.snat_addresses or args.snat_ports:
        body["snat_pool"] = {k: v for k, v in (("addresses", args.snat_addresses), ("ports", args.snat_ports)) if v}
    monitor = {k: getattr(args, option) for k, option in (("type", "monitor"), ("interval", "monitor_interval"),
                                                          ("timeout", "monitor_timeout"), ("rise", "rise"), ("fall", "fall"))
               if getattr(args, option) is not None}
    if monitor:
        body["health_monitor"] = monitor
    return body


def _create_all(api, path, objects, created):
    """POST each object in turn: one failure does not stop the others; each is reported."""
    answers, lines, code = [], [], OK
    for where, body in objects:
        try:
            made = api.call("POST", path, body)
        except CliError as e:
            if e.code != REFUSED:
                raise
            answers.append({"error": str(e)})
            print("lbctl: %s: %s" % (where, e), file=sys.stderr)
            code = REFUSED
            continue
        answers.append(made)
        lines.append(created(made))
    return Result(answers, "\n".join(lines), code)


def _objects_in_file(path, key, what):
    """(where, object) for a YAML file of one object or of `key: [...]` (a file may hold both
    `networks:` and `vips:`, as the controller's VIP file does)."""
    import yaml   # only -f needs it
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise CliError("%s: cannot read: %s" % (path, str(e).replace("\n", " ")), USAGE)
    if isinstance(doc, dict) and isinstance(doc.get(key), list):
        return [("%s: %s[%d]" % (path, key, i), obj) for i, obj in enumerate(doc[key])]
    if isinstance(doc, dict) and "name" in doc:
        return [(path, doc)]
    raise CliError("%s: is neither one %s object nor '%s: [...]'" % (path, what, key), USAGE)


# ---------------------------------------------------------------- network commands

def network_list(api, args):
    networks = api.get("/v1/networks")
    return Result(networks, _network_table(networks))


def network_show(api, args):
    network = api.get(_network_path(args.name))
    return Result(network, _network_details(network))


def network_delete(api, args):
    api.call("DELETE", _network_path(args.name))
    return Result(None, "deleted network %s" % args.name)


def network_create(api, args):
    if args.file:
        return _create_all(api, "/v1/networks", _objects_in_file(args.file, "networks", "network"),
                           _network_created)
    network = api.call("POST", "/v1/networks", dict(_network_changes(args), name=args.name))
    return Result(network, _network_created(network))


def network_update(api, args):
    """GET, the options given replace their fields, PUT with If-Match (like member changes)."""
    network = api.get(_network_path(args.name))
    body = {k: network[k] for k in NETWORK_INPUT if k in network}
    body.update(_network_changes(args))
    network = api.call("PUT", _network_path(args.name), body, revision=network.get("revision"))
    return Result(network, "updated network %s: %s" % (network["name"], _network_summary(network)))


def _network_created(network):
    return "created network %s: %s" % (network["name"], _network_summary(network))


def _network_changes(args):
    """The fields the options give: {field: value}; 'none' clears one (null, or an empty list)."""
    changes = {}
    for field in ("vlan", "monitor_address"):
        value = getattr(args, field)
        if value is not None:
            changes[field] = None if value == NONE else value
    for field, option in (("gateways", "gateway"), ("access_ports", "access_port")):
        values = getattr(args, option)
        if values is not None:
            changes[field] = [] if values == [NONE] else values
    return changes


# ---------------------------------------------------------------- member commands (GET, change, PUT)

def member_add(api, args):
    def add(vip, members):
        endpoint = dict(args.member, port=args.member.get("port", vip["port"]))
        if _find(members, endpoint, vip["name"], missing_ok=True) is not None:
            raise CliError("member %s is already in vip %r" % (_endpoint(endpoint), vip["name"]))
        for field in ("weight", "monitor_port"):
            if getattr(args, field) is not None:
                endpoint[field] = getattr(args, field)
        # A VIP's members are on one network: a new one goes where the others are, unless told.
        network = args.network or next((m["network"] for m in members if m.get("network")), None)
        if network:
            endpoint["network"] = network
        return members + [endpoint], "added member %s to vip %s" % (_endpoint(endpoint), vip["name"])
    return _change_members(api, args.vip, add)


def member_remove(api, args):
    def remove(vip, members):
        gone = _find(members, args.member, vip["name"])
        return [m for m in members if m is not gone], "removed member %s from vip %s" % (_endpoint(gone), vip["name"])
    return _change_members(api, args.vip, remove)


def member_drain(api, args):
    def drain(vip, members):
        drained = _find(members, args.member, vip["name"])
        drained["weight"] = 0
        return members, ("drained member %s of vip %s: weight 0, no new connections; open ones continue"
                         % (_endpoint(drained), vip["name"]))
    return _change_members(api, args.vip, drain)


def _change_members(api, name, change):
    vip = api.get(_vip_path(name))
    body = _input_fields(vip)
    body["members"], message = change(vip, body["members"])
    # If-Match: should someone change the VIP between our GET and PUT, the PUT is refused (412)
    # rather than undo their change.
    return Result(api.call("PUT", _vip_path(name), body, revision=vip.get("revision")), message)


def _input_fields(vip):
    """The GET answer cut down to what PUT takes."""
    body = {k: vip[k] for k in VIP_INPUT if vip.get(k) is not None}
    body["members"] = [{k: m[k] for k in MEMBER_INPUT if m.get(k) is not None} for m in vip["members"]]
    return body


def _find(members, wanted, vip_name, missing_ok=False):
    """The member at wanted's address (and port, if given)."""
    found = [m for m in members if m["address"] == wanted["address"]
             and wanted.get("port") in (None, m["port"])]
    if len(found) > 1:
        raise CliError("member %s: vip %r has it on ports %s: give ADDR:PORT"
                       % (wanted["address"], vip_name, ", ".join(str(m["port"]) for m in found)))
    if not found and not missing_ok:
        shown = _endpoint(wanted) if "port" in wanted else wanted["address"]
        raise CliError("member %s is not in vip %r" % (shown, vip_name))
    return found[0] if found else None


# ---------------------------------------------------------------- hosts, stats

def hosts(api, args):
    found = api.get("/v1/hosts")
    return Result(found, _hosts_table(found))


def stats(api, args):
    found = api.get("/v1/stats")
    return Result(found, _stats_text(found))


def cluster(api, args):
    found = api.get("/v1/cluster")
    return Result(found, _cluster_text(found))


def _cluster_text(cluster):
    """The balancer switches, then where each redundancy group is active."""
    def named(switch):
        return "-" if switch is None else switch["name"] + ("" if switch["healthy"] else " (down)")
    switches = table(("SWITCH", "DPID", "CONNECTED", "HEALTHY"),
                     [(b["name"], b["dpid"], _yes(b["connected"]), _yes(b["healthy"])) for b in cluster["balancers"]])
    groups = table(("GROUP", "ACTIVE", "SINCE", "STANDBYS"),
                   [(g["group"], named(g["active"]), _when(g["since"]), " ".join(named(s) for s in g["standbys"]) or "-")
                    for g in cluster["groups"]])
    head = "preempt %s, hold_down %g s, takeovers %d" % (_yes(cluster["preempt"]), cluster["hold_down"],
                                                          cluster["takeovers"])
    if not cluster["balancers"]:
        head += " (no cluster configured: every switch is active for every group)"
    return "\n".join((head, "", switches, "", groups))


def _yes(flag):
    return "yes" if flag else "no"


# ---------------------------------------------------------------- names of cookies and tables

class Names:
    """VIP, member, host and network names by id, from GET /v1/vips and /v1/networks; without them
    (the controller cannot be reached) flows and traces show ids."""

    def __init__(self, vips=None, networks=None):
        self.offline = vips is None
        vips = vips or []
        self.vips = {v["id"]: v for v in vips}
        self.networks = {n["id"]: n["name"] for n in networks or []}
        self.networks.setdefault(0, DEFAULT_NETWORK)   # id 0 is the default network's, whatever the controller
        self.members = {(v["id"], m["id"]): _endpoint(m) for v in vips for m in v["members"]}
        self.groups = {v.get("group_id", pipeline.group_id(v["id"])): v["name"] for v in vips}
        self.group_vips = {v.get("group_id", pipeline.group_id(v["id"])): v["id"] for v in vips}
        self.hosts = {m["host"]: m["address"] for v in vips for m in v["members"] if "host" in m}
        self.host_networks = {m["host"]: _member_network(v, m) for v in vips for m in v["members"] if "host" in m}
        on_host = {}
        for v in vips:
            for m in v["members"]:
                if "host" in m:
                    on_host.setdefault((v["id"], m["host"]), []).append(m["id"])
        # A VIP's member on a host, where the VIP has one there (dsr's buckets and pins name hosts).
        self.member_on_host = {key: ids[0] for key, ids in on_host.items() if len(ids) == 1}
        self.dsr_vips = {(v.get("network", DEFAULT_NETWORK), v["address"], v["port"]): v["id"]
                         for v in vips if v.get("mode") == "dsr"}

    def vip(self, vip_id):
        return self.vips[vip_id]["name"] if vip_id in self.vips else "vip#%d" % vip_id

    def member(self, vip_id, member_id):
        return self.members.get((vip_id, member_id), "member#%d" % member_id)

    def host(self, host_id):
        return self.hosts.get(host_id, "host#%d" % host_id)

    def network(self, network_id):
        return self.networks.get(network_id, "network#%d" % network_id)

    def owner(self, cookie):
        """cookie -> (vip, member): ('web', '198.18.0.11:80'), ('web', '-'), ('(host)', '198.18.0.11'),
        ('(network)', 'tenant-a'), ('(pins)', '-') or ('(pipeline)', '-')."""
        return self.owner_names(pipeline.owner(cookie))

    def owner_names(self, owner):
        """A pipeline.Owner -> (vip, member), as owner() shows them."""
        if owner.kind == "pipeline":
            return "(pipeline)", "-"
        if owner.kind == "host":
            return "(host)", self.host(owner.id)
        if owner.kind == "network":
            return "(network)", self.network(owner.id)
        if owner.kind == "pins":
            return "(pins)", self.host(owner.id) if owner.id else "-"
        return self.vip(owner.id), self.member(owner.id, owner.member) if owner.member else "-"

    def flow_owner(self, cookie, flow):
        """The pipeline.Owner of one flow: its cookie's, except for dsr's learned pins, which all
        share one cookie: a pin belongs to its VIP (the network, address and port it matches) and
        member (the host it loads); Owner("pins", host) when that VIP or member is not known."""
        owner = pipeline.owner(cookie)
        if owner.kind != "pins":
            return owner
        to_vip, pinned = PIN_VIP.search(flow), REGISTER_LOAD[pipeline.PIN_REG.field].search(flow)
        host = _loaded(pinned) if pinned else 0
        matched = _matched_network(flow)   # pins are learned with the network of their connection
        network = DEFAULT_NETWORK if matched is None else self.network(matched)
        vip_id = self.dsr_vips.get((network, to_vip[1], int(to_vip[2]))) if to_vip else None
        if (vip_id, host) in self.member_on_host:
            return pipeline.Owner("vip", vip_id, self.member_on_host[(vip_id, host)])
        return pipeline.Owner("pins", host)

    def flow_network(self, owner, flow):
        """The network a flow is about: the one it matches (NETWORK_REG), else its owner's (a
        network, or a host's); None for a flow of every network."""
        matched = _matched_network(flow)
        if matched is not None:
            return self.network(matched)
        if owner.kind == "network":
            return self.network(owner.id)
        if owner.kind == "host":
            return self.host_networks.get(owner.id)
        return None

    def label(self, cookie):
        """cookie -> 'web', 'web 198.18.0.11:80', 'host 198.18.0.11', 'host 10.0.0.11 on tenant-a',
        'network tenant-a', 'pins' or 'pipeline'."""
        owner = pipeline.owner(cookie)
        vip, member = self.owner_names(owner)
        vip = vip.strip("()")
        shown = vip if member == "-" else "%s %s" % (vip, member)
        network = self.host_networks.get(owner.id) if owner.kind == "host" else None
        return shown if network in (None, DEFAULT_NETWORK) else "%s on %s" % (shown, network)


def _member_network(vip, member):
    """A member's network: its own when the API shows one (it differs from the VIP's), else the VIP's."""
    return member.get("network") or vip.get("network", DEFAULT_NETWORK)


# A flow's match on the network register (NETWORK_REG), as ovs-ofctl and ofproto/trace print it:
# `<register>=0x1`; a masked match (`=0x1/0xff`) is not one network's.
NETWORK_MATCH = re.compile(r"(?:^|,)%s=(0x[0-9a-f]+|\d+)(?=,|\s|$)" % pipeline.NETWORK_REG.field)


def _matched_network(flow):
    """The network id a flow's match (`match actions=...`, or a trace's `match, priority N`)
    requires, or None."""
    found = NETWORK_MATCH.search(flow.split(" actions=")[0].split(", priority ")[0])
    return int(found[1], 0) if found else None


def table_name(table_id):
    return TABLE_NAMES.get(table_id, "table %d" % table_id)


def _names(api, offline_ok):
    """Names from the controller; with offline_ok, ids when it cannot be reached (one line says so).
    A controller without networks (404) has the default one alone."""
    try:
        vips = api.get("/v1/vips")
        try:
            networks = api.get("/v1/networks")
        except CliError as e:
            if e.status != 404:
                raise
            networks = None
        return Names(vips, networks)
    except CliError as e:
        if not offline_ok or e.code != UNREACHABLE:
            raise
        print("lbctl: %s: showing ids instead of names" % e, file=sys.stderr)
        return Names()


# ---------------------------------------------------------------- flows

# The leading `key=value, ` fields of a dump-flows line (cookie, duration, table, counters, timeouts);
# the match and the actions follow, with no space after their commas.
FLOW_FIELD = re.compile(r"([a-z_]+)=([^,\s]*), ")
COUNTER_FIELDS = {"cookie", "table", "duration", "n_packets", "n_bytes", "idle_age", "hard_age"}


def _register_load(register):
    """What a flow or bucket writes into `register`, as ovs-ofctl prints it (OpenFlow 1.3's
    set_field, or the older load)."""
    return re.compile(r"(?:set_field:(0x[0-9a-f]+|0)->%s\b|load:(0x[0-9a-f]+|0)->NXM_NX_%s\[\])"
                      % (register.field, register.field.upper()))


REGISTER_LOAD = {r.field: _register_load(r) for r in (pipeline.HOST_REG, pipeline.MEMBER_REG, pipeline.PIN_REG)}
# A dsr pin's match: the VIP's address and port (learned from a connection's first packet).
PIN_VIP = re.compile(r"\bnw_dst=([0-9.]+),(?:.*,)?tp_dst=(\d+)\b")


def parse_flow(line):
    """One `ovs-ofctl dump-flows` line (any OpenFlow version, with or without --no-stats) ->
    {cookie, table, n_packets, flow}; None for anything else (headers, blank lines)."""
    line = line.strip()
    if " actions=" not in line or line.startswith("group_id="):
        return None
    fields, pos = {}, 0
    while (field := FLOW_FIELD.match(line, pos)):
        fields[field[1]], pos = field[2], field.end()
    kept = ["%s=%s" % item for item in fields.items() if item[0] not in COUNTER_FIELDS]
    return {"cookie": int(fields.get("cookie", "0"), 16), "table": int(fields.get("table", "0")),
            "n_packets": int(fields["n_packets"]) if "n_packets" in fields else None,
            "flow": ", ".join(kept + [line[pos:]])}


def parse_group(line):
    """One `ovs-ofctl dump-groups` line -> {group_id, type, buckets: {target: count}}; None for
    others. What a bucket chooses: a member (NAT modes: its id, in the member register) or a host
    (dsr: its id, in the host register); a dsr bucket of a moved slot names the new owner's host
    and, in the member register, the old owner's: ("host", new, old)."""
    line = line.strip()
    found = re.match(r"group_id=(\d+),type=(\w+)", line)
    if not found:
        return None
    targets = Counter()
    for bucket in line.split(",bucket=")[1:]:
        host = REGISTER_LOAD[pipeline.HOST_REG.field].search(bucket)
        member = REGISTER_LOAD[pipeline.MEMBER_REG.field].search(bucket)
        if host:
            target = ("host", _loaded(host)) + ((_loaded(member),) if member else ())
        else:
            target = ("member", _loaded(member)) if member else "other"
        targets[target] += 1
    return {"group_id": int(found[1]), "type": found[2], "buckets": dict(targets)}


def _loaded(found):
    return int(found[1] or found[2], 16)


def label_flows(lines, names, dpid=None):
    """dump-flows/dump-groups lines -> labelled rows, ordered VIP by VIP (then hosts, networks, the
    pipeline), member by member, table by table; a VIP's group after its flows. `network`: the
    network a flow matches (or its owner is), '-' for a flow of every network."""
    keyed = []
    for line in lines:
        flow, group = parse_flow(line), parse_group(line)
        if flow:
            owner = names.flow_owner(flow["cookie"], flow["flow"])
            vip, member = names.owner_names(owner)
            keyed.append(((OWNER_ORDER[owner.kind], owner.id, owner.member, flow["table"]),
                          dict(flow, cookie="%#x" % flow["cookie"], vip=vip, member=member,
                               network=names.flow_network(owner, flow["flow"]) or "-",
                               table_name=table_name(flow["table"]), dpid=dpid)))
        elif group:
            number = group["group_id"]
            buckets = Counter()
            for target, count in group["buckets"].items():
                buckets[_bucket_name(names, number, target)] += count
            keyed.append(((0, number, 1 << 32, 0),
                          dict(group, buckets=dict(buckets), vip=names.groups.get(number, "group#%d" % number),
                               member="group %d" % number, network="-", table=None, dpid=dpid)))
    return [row for _, row in sorted(keyed, key=lambda pair: pair[0])]


def _bucket_name(names, group_id, target):
    """A bucket's target as `lbctl flows` shows it: a member of the group's VIP (a VIP's group is
    numbered like it); a host (dsr) as the VIP's member there, else as its address; a moved slot
    of dsr as its new owner, "(moved from" the old one")"."""
    if target == "other":
        return target
    vip_id = names.group_vips.get(group_id, group_id)
    if target[0] == "member":
        return names.member(vip_id, target[1])

    def on_host(host):
        member = names.member_on_host.get((vip_id, host))
        return names.member(vip_id, member) if member is not None else names.host(host)
    shown = on_host(target[1])
    return "%s (moved from %s)" % (shown, on_host(target[2])) if len(target) > 2 else shown


def _only_vip(rows, vip):
    """A VIP's own rows, and the host rows of its members (their addresses on their network)."""
    hosts = {(_member_network(vip, m), m["address"]) for m in vip["members"]}
    return [r for r in rows if r["vip"] == vip["name"] or (r["vip"] == "(host)" and (r["network"], r["member"]) in hosts)]


def _flows_text(rows):
    def shown(row):
        if row["table"] is None:
            buckets = ", ".join("%s x%d" % item for item in sorted(row["buckets"].items()))
            return (row["vip"], row["member"], row["network"], "-", "-", "%s, %d buckets: %s" % (
                row["type"], sum(row["buckets"].values()), buckets))
        packets = "-" if row["n_packets"] is None else row["n_packets"]
        return (row["vip"], row["member"], row["network"], "%s(%d)" % (row["table_name"], row["table"]), packets,
                row["flow"])
    headers = ("VIP", "MEMBER", "NETWORK", "TABLE", "PACKETS", "FLOW")
    by_switch = {}
    for row in rows:
        by_switch.setdefault(row["dpid"], []).append(shown(row))
    return "\n\n".join(("switch %s\n" % dpid if dpid else "") + table(headers, shown_rows)
                       for dpid, shown_rows in by_switch.items()) or table(headers, [])


def flows(api, args):
    source = "-" if args.stdin else args.source
    names = _names(api, offline_ok=source is not None)
    if source is None:
        rows = _flows_from_api(api, names)
    else:
        rows = label_flows(_read(source), names)
    if args.vip:
        if names.offline:
            raise CliError("--vip: the controller's VIP names are needed to pick vip %r" % args.vip, UNREACHABLE)
        vip = next((v for v in names.vips.values() if v["name"] == args.vip), None)
        if vip is None:
            raise CliError("vip %r does not exist" % args.vip)
        rows = _only_vip(rows, vip)
    return Result(rows, _flows_text(rows))


def _flows_from_api(api, names):
    try:
        switches = api.get("/v1/flows")["switches"]
    except CliError as e:
        if e.status != 404:
            raise
        raise CliError("this controller does not serve GET /v1/flows: pipe "
                       "`ovs-ofctl -O OpenFlow13 dump-flows BRIDGE` into `lbctl flows -`")
    return [row for switch in switches
            for row in label_flows(switch["flows"] + switch.get("groups", []), names, switch["dpid"])]


def _read(source):
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        with open(source) as f:
            return f.read().splitlines()
    except OSError as e:
        raise CliError("%s: cannot read: %s" % (source, e.strerror), USAGE)


# ---------------------------------------------------------------- trace

# The conntrack state ofproto/trace gives each recirculation, by mode: the lookup in table 0 (one-arm:
# both its zones in one pass), then the commit in table commit (one-arm: DNAT and SNAT in one pass).
CT_NEXT = {"routed": ("trk,new", "trk,new,dnat"), "one-arm": ("trk,new", "trk,new,snat"), "dsr": ()}
# A select group's dp_hash stops a trace: the datapath would hash the packet and recirculate.
HASH_RECIRC = re.compile(r"^Datapath actions: .*\bhash\(.*\),recirc\((0x[0-9a-f]+)\)\s*$")
CT_RESUMED = "resume conntrack with"
MAX_RECIRCULATIONS = 4
EPHEMERAL_PORT = 49152
TRACE_TABLE = re.compile(r"^\s*(\d+)\. ")
TRACE_RESUME = re.compile(r"(?:Resuming from table|resumed at table) (\d+)")
TRACE_COOKIE = re.compile(r"(?:, cookie |rule_cookie=)(0x[0-9a-f]+)")
OVS_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[^|]*\|\d+\|")     # 2026-11-26T15:23:50Z|00001|unixctl|WARN|...


def explain_trace(lines, names):
    """ofproto/trace output with each table named, each cookie's VIP/member/host/network named,
    and the network a flow matches."""
    return [_explain_line(line, names) for line in lines]


def _explain_line(line, names):
    notes = []
    found = TRACE_TABLE.match(line) or TRACE_RESUME.search(line)
    if found:
        notes.append(table_name(int(found[1])))
    for cookie in TRACE_COOKIE.findall(line):
        notes.append(names.label(int(cookie, 16)))
    matched = _matched_network(line[found.end():]) if found and found.re is TRACE_TABLE else None
    if matched is not None and "network " + names.network(matched) not in notes:
        notes.append("network " + names.network(matched))
    return "%s   [%s]" % (line, "; ".join(notes)) if notes else line


def first_packet(vip, client, client_port, in_port, client_mac=None, vlan=None):
    """The ofproto/trace flow of a connection's first packet (a SYN, or a UDP datagram) to the VIP;
    `vlan`: the 802.1Q tag it arrives with (the VIP's network's, on a port that is not an access port)."""
    fields = [vip["protocol"], "in_port=%d" % in_port] + (["dl_vlan=%d" % vlan] if vlan is not None else [])
    if client_mac:
        fields.append("dl_src=" + client_mac)
    # tcp_src/udp_src, not tp_src: ovs-vswitchd 3.1 takes tp_src for TCP only.
    fields += ["dl_dst=" + vip["mac"], "nw_src=" + client, "nw_dst=" + vip["address"], "nw_ttl=64",
               "%s_src=%d" % (vip["protocol"], client_port), "%s_dst=%d" % (vip["protocol"], vip["port"])]
    if vip["protocol"] == "tcp":
        fields.append("tcp_flags=syn")
    return ",".join(fields)


def trace_command(appctl, bridge, flow, ct_next):
    command = shlex.split(appctl) + ["ofproto/trace", bridge, flow]
    for flags in ct_next:
        command += ["--ct-next", flags]
    return command


def trace(api, args):
    if args.explain:
        names = _names(api, offline_ok=True)
        return Result(None, "\n".join(explain_trace(_read(args.explain), names)))
    vip = api.get(_vip_path(args.vip))
    network = vip.get("network", DEFAULT_NETWORK)
    client, client_port = args.client["address"], args.client.get("port", EPHEMERAL_PORT)
    in_port, client_mac = _client_place(api, client, args.in_port, network)
    flow = first_packet(vip, client, client_port, in_port, client_mac, _tag_on(api, network, in_port))
    command = trace_command(args.appctl, args.bridge, flow, CT_NEXT.get(vip["mode"], ()))
    if not args.run:
        return Result({"command": command}, shlex.join(command))
    steps = _run_trace(args, flow, list(CT_NEXT.get(vip["mode"], ())))
    names = _names(api, offline_ok=False)
    text = "\n\n".join("$ %s\n%s" % (shlex.join(cmd), "\n".join(explain_trace(out.splitlines(), names)))
                       for cmd, out in steps)
    return Result([{"command": cmd, "output": out} for cmd, out in steps], text)


def _tag_on(api, network, port):
    """The VLAN id frames of `network` carry on switch port `port` (None: untagged)."""
    if network == DEFAULT_NETWORK:
        return None
    found = api.get(_network_path(network))
    return None if found.get("vlan") is None or port in found.get("access_ports", []) else found["vlan"]


def _client_place(api, client, in_port, network=DEFAULT_NETWORK):
    """The switch port and MAC of the client (on the VIP's network), when the controller has learned
    it from ARP."""
    query = "" if network == DEFAULT_NETWORK else "?network=" + urllib.parse.quote(network, safe="")
    try:
        place = api.get("/v1/hosts/" + client + query)[0]
    except CliError as e:
        if e.code != REFUSED:
            raise
        place = None
    if in_port is None and place is None:
        raise CliError("--in-port: client %s is not a host the controller knows%s: give the switch port "
                       "its packets come in on" % (client, "" if network == DEFAULT_NETWORK else " on network %r" % network),
                       USAGE)
    return (in_port if in_port is not None else place["port"]), (place["mac"] if place else None)


def _run_trace(args, flow, ct_next):
    """Trace the first packet; while the datapath would hash and recirculate (a select group),
    trace on from that recirculation with the hash of slot --slot: its bucket, then the member."""
    steps = []
    for _ in range(MAX_RECIRCULATIONS):
        command = trace_command(args.appctl, args.bridge, flow, ct_next)
        output = _appctl(command)
        steps.append((command, output))
        lines = output.splitlines()
        recirc_id = _hash_recirculation(lines)
        if recirc_id is None:
            break
        ct_next = ct_next[sum(CT_RESUMED in line for line in lines):]
        flow = _resumed_flow(lines, recirc_id, SLOTS + args.slot)
    return steps


def _hash_recirculation(lines):
    """The recirculation id a trace stopped at to hash the packet (a select group), or None."""
    actions = [line for line in lines if line.startswith("Datapath actions:")]
    hashed = HASH_RECIRC.match(actions[-1]) if actions else None
    return hashed[1] if hashed else None


def _resumed_flow(lines, recirc_id, dp_hash):
    """The last `Flow:` of a trace, as a flow that resumes recirculation `recirc_id` after hashing.
    The group takes the hash's low bits; dp_hash 0 would mean "not hashed yet", hence SLOTS + slot."""
    last = [line[len("Flow: "):] for line in lines if line.startswith("Flow: ")][-1]
    kept = [f for f in last.split(",") if f != "eth" and not f.startswith(("recirc_id=", "dp_hash="))]
    return ",".join(["recirc_id=" + recirc_id, "dp_hash=%#x" % dp_hash] + kept)


def _appctl(command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TRACE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CliError("cannot run %s: %s" % (command[0], e), UNREACHABLE)
    if done.returncode != 0:
        said = [line for line in (done.stderr + done.stdout).splitlines() if line and not OVS_LOG_LINE.match(line)]
        raise CliError("ofproto/trace failed: %s" % (said[0] if said else "exit code %d" % done.returncode),
                       UNREACHABLE)
    return done.stdout


# ---------------------------------------------------------------- the command line

def member_spec(text):
    """ADDR[:PORT][@WEIGHT] -> {"address", "port"?, "weight"?}."""
    found = re.fullmatch(r"([0-9.]+)(?::(\d+))?(?:@(\d+))?", text)
    if not found:
        raise argparse.ArgumentTypeError("%r is not ADDR[:PORT][@WEIGHT]" % text)
    spec = {"address": found[1]}
    for field, value in (("port", found[2]), ("weight", found[3])):
        if value is not None:
            spec[field] = int(value)
    return spec


def endpoint_spec(text):
    """ADDR[:PORT] -> {"address", "port"?}."""
    if "@" in text:
        raise argparse.ArgumentTypeError("%r is not ADDR[:PORT]" % text)
    return member_spec(text)


def port_range(text):
    found = re.fullmatch(r"(\d+)-(\d+)", text)
    if not found:
        raise argparse.ArgumentTypeError("%r is not LOW-HIGH" % text)
    return [int(found[1]), int(found[2])]


def slot(text):
    if not text.isdigit() or not 0 <= int(text) < SLOTS:
        raise argparse.ArgumentTypeError("%r is not a slot from 0 to %d" % (text, SLOTS - 1))
    return int(text)


def gateway_spec(text):
    """ADDR/PREFIX[@GROUP] -> "ADDR/PREFIX" or {"address", "redundancy_group"}; the API checks the
    address (its refusal names gateways[i])."""
    if text == NONE:
        return text
    address, at, group = text.rpartition("@") if "@" in text else (text, "", "")
    if at and not group.isdigit() or not address:
        raise argparse.ArgumentTypeError("%r is not ADDR/PREFIX[@GROUP]" % text)
    return {"address": address, "redundancy_group": int(group)} if at else address


def number_or_none(text):
    """An integer option of `network`, or 'none' to clear it."""
    if text == NONE:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number (or 'none')" % text)


def address_list(text):
    return [a for a in text.split(",") if a]


def global_options(defaults):
    """The options every command takes, before or after its name. The top parser holds the
    defaults; each command's copy has none (argparse.SUPPRESS), so it cannot undo a value given
    before the command."""
    options = argparse.ArgumentParser(add_help=False)

    def default(value):
        return value if defaults else argparse.SUPPRESS
    options.add_argument("--url", default=default(os.environ.get("LBCTL_URL", DEFAULT_URL)),
                         help="the controller's REST API (default $LBCTL_URL or %s)" % DEFAULT_URL)
    options.add_argument("--token", default=default(None), help="REST token for changes (default $LBCTL_TOKEN)")
    options.add_argument("--token-file", default=default(None), help="a file holding the REST token")
    options.add_argument("--json", action="store_true", default=default(False),
                         help="print the API's JSON instead of tables")
    return options


def build_parser():
    common = global_options(defaults=False)
    parser = argparse.ArgumentParser(prog="lbctl", parents=[global_options(defaults=True)],
                                     description="Operate lbctl, the L4 load balancer in Open vSwitch.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _vip_parser(commands.add_parser("vip", parents=[common], help="list, show, create, delete VIPs"), common)
    _member_parser(commands.add_parser("member", parents=[common], help="add, remove or drain a VIP's member"),
                   common)
    _network_parser(commands.add_parser("network", parents=[common],
                                        help="list, show, create, update, delete networks"), common)
    commands.add_parser("hosts", parents=[common], help="hosts learned from ARP").set_defaults(handler=hosts)
    commands.add_parser("stats", parents=[common], help="controller and traffic counters").set_defaults(handler=stats)
    commands.add_parser("cluster", parents=[common],
                        help="the balancer switches, and where each redundancy group is active").set_defaults(
                            handler=cluster)
    _flows_parser(commands.add_parser("flows", parents=[common], help="the switch's flows, labelled"))
    _trace_parser(commands.add_parser("trace", parents=[common], help="trace a client's first packet"))
    return parser


def _vip_parser(vip, common):
    actions = vip.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="all VIPs").set_defaults(handler=vip_list)
    for name, handler, what in (("show", vip_show, "one VIP and its members"), ("delete", vip_delete, "delete a VIP")):
        sub = actions.add_parser(name, parents=[common], help=what)
        sub.add_argument("name")
        sub.set_defaults(handler=handler)
    create = actions.add_parser("create", parents=[common], help="create a VIP, or those of a YAML file (-f)")
    create.set_defaults(handler=vip_create)
    create.add_argument("name", nargs="?")
    create.add_argument("-f", "--file", help="a YAML file of one VIP object, or of 'vips: [...]'")
    create.add_argument("--network", metavar="NAME", help="where its clients reach it (default: default)")
    create.add_argument("--address")
    create.add_argument("--port", type=int)
    create.add_argument("--protocol", choices=("tcp", "udp"))
    create.add_argument("--mode", choices=("routed", "dsr", "one-arm"))
    create.add_argument("--algorithm", choices=("5-tuple", "source_ip"))
    create.add_argument("--member", type=member_spec, action="append", metavar="ADDR[:PORT][@WEIGHT]")
    create.add_argument("--member-network", metavar="NAME",
                        help="the network of every --member, when not the VIP's (a routed VIP's members behind a "
                             "tenant's gateway)")
    create.add_argument("--snat-addresses", type=address_list, metavar="A,B")
    create.add_argument("--snat-ports", type=port_range, metavar="LOW-HIGH")
    create.add_argument("--redundancy-group", type=int, metavar="N")
    create.add_argument("--monitor", metavar="TYPE", help="health monitor: tcp, udp, ping or none")
    create.add_argument("--monitor-interval", type=float, metavar="S")
    create.add_argument("--monitor-timeout", type=float, metavar="S")
    create.add_argument("--rise", type=int, metavar="N")
    create.add_argument("--fall", type=int, metavar="N")


def _network_parser(network, common):
    actions = network.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="all networks, the default one first").set_defaults(
        handler=network_list)
    for name, handler, what in (("show", network_show, "one network: its id, zones, MACs and VIPs"),
                                ("delete", network_delete, "delete a network no VIP uses")):
        sub = actions.add_parser(name, parents=[common], help=what)
        sub.add_argument("name")
        sub.set_defaults(handler=handler)
    create = actions.add_parser("create", parents=[common], help="create a network, or those of a YAML file (-f)")
    create.set_defaults(handler=network_create)
    create.add_argument("name", nargs="?")
    create.add_argument("-f", "--file", help="a YAML file of one network object, or of 'networks: [...]'")
    update = actions.add_parser("update", parents=[common],
                                help="change a network: each option given replaces its field ('none' clears it)")
    update.set_defaults(handler=network_update)
    update.add_argument("name")
    for sub in (create, update):
        sub.add_argument("--vlan", type=number_or_none, metavar="ID", help="its 802.1Q VLAN id (1-4094); none: untagged")
        sub.add_argument("--gateway", type=gateway_spec, action="append", metavar="ADDR/PREFIX[@GROUP]",
                         help="a gateway address of the balancer there, in redundancy group GROUP (default 1); "
                              "repeat for more")
        sub.add_argument("--monitor-address", metavar="ADDR", help="the source address of health probes there")
        sub.add_argument("--access-port", type=number_or_none, action="append", metavar="N",
                         help="a switch port where the network arrives untagged; repeat for more")


def _member_parser(member, common):
    actions = member.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="add a member")
    add.add_argument("--weight", type=int)
    add.add_argument("--monitor-port", type=int)
    add.add_argument("--network", metavar="NAME",
                     help="the member's network (default: that of the VIP's other members, else the VIP's)")
    add.set_defaults(handler=member_add)
    remove = actions.add_parser("remove", parents=[common], help="remove a member")
    remove.set_defaults(handler=member_remove)
    drain = actions.add_parser("drain", parents=[common], help="weight 0: no new connections, open ones continue")
    drain.set_defaults(handler=member_drain)
    for sub in (add, remove, drain):
        sub.add_argument("vip")
        sub.add_argument("member", type=endpoint_spec, metavar="ADDR[:PORT]")


def _flows_parser(flows_parser):
    flows_parser.add_argument("source", nargs="?", metavar="FILE",
                              help="`ovs-ofctl dump-flows` (and dump-groups) text; '-' for stdin. "
                                   "Without it, GET /v1/flows")
    flows_parser.add_argument("--stdin", action="store_true", help="the same as FILE '-'")
    flows_parser.add_argument("--vip", metavar="NAME", help="only this VIP's flows and its members' host flows")
    flows_parser.set_defaults(handler=flows)


def _trace_parser(trace_parser):
    trace_parser.add_argument("--vip", metavar="NAME")
    trace_parser.add_argument("--client", type=endpoint_spec, metavar="IP[:PORT]")
    trace_parser.add_argument("--in-port", type=int, metavar="N",
                              help="the switch port the client's packets come in on (default: where it was learned)")
    trace_parser.add_argument("--bridge", default="br0")
    trace_parser.add_argument("--run", action="store_true", help="run the trace and name tables and cookies")
    trace_parser.add_argument("--appctl", default="ovs-appctl", help="how to run ovs-appctl (default %(default)s)")
    trace_parser.add_argument("--slot", type=slot, default=0, metavar="N",
                              help="the slot (0-%d) the connection hashes to in the VIP's select group "
                                   "(default 0; UDP and source_ip VIPs hash in the flow itself)" % (SLOTS - 1))
    trace_parser.add_argument("--explain", metavar="FILE", help="name the tables and cookies of a saved trace ('-': stdin)")
    trace_parser.set_defaults(handler=trace)


def _check(parser, args):
    """What argparse cannot say: which arguments go together."""
    if args.handler is vip_create:
        if bool(args.file) == bool(args.name):
            parser.error("vip create: give NAME --address A --port P, or -f FILE")
        if args.name and (args.address is None or args.port is None):
            parser.error("vip create %s: --address and --port are required" % args.name)
        if args.member_network and not args.member:
            parser.error("vip create: --member-network names the network of the --member options: give them")
    if args.handler is network_create and bool(args.file) == bool(args.name):
        parser.error("network create: give NAME [--vlan ID] [--gateway ADDR/PREFIX[@GROUP]]..., or -f FILE")
    if args.handler in (network_create, network_update):
        for option, values in (("--gateway", args.gateway), ("--access-port", args.access_port)):
            if values and NONE in values and len(values) > 1:
                parser.error("network %s: %s none clears the list: give it alone" % (args.action, option))
    if args.handler is network_update and not any(
            getattr(args, o) is not None for o in ("vlan", "gateway", "monitor_address", "access_port")):
        parser.error("network update %s: give --vlan, --gateway, --monitor-address or --access-port" % args.name)
    if args.handler is trace and not args.explain and not (args.vip and args.client):
        parser.error("trace: give --vip NAME --client IP[:PORT], or --explain FILE")


def _token(args):
    if args.token:
        return args.token
    if args.token_file:
        try:
            with open(args.token_file) as f:
                return f.read().strip()
        except OSError as e:
            raise CliError("--token-file: %s: %s" % (args.token_file, e.strerror), USAGE)
    return os.environ.get("LBCTL_TOKEN") or None


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check(parser, args)
    except SystemExit as e:     # argparse: --help (0) or a usage error (2)
        return e.code
    try:
        result = args.handler(Api(args.url, _token(args)), args)
    except CliError as e:
        print("lbctl: %s" % e, file=sys.stderr)
        return e.code
    try:
        if args.json:
            if result.doc is not None:
                print(json.dumps(result.doc, indent=1))
        elif result.text:
            print(result.text)
        sys.stdout.flush()
    except BrokenPipeError:     # `lbctl flows | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return result.code
