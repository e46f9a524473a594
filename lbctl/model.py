"""VIPs and members: validation of what an operator sends, and the configuration as a whole (VIPs
and networks) with its rules (unique names, one VIP per network, address, port and protocol, an
address either a VIP's or a SNAT pool's, addresses owned once per network, members where their
mode can reach them) and the ids it hands out (VIPs, members, hosts, networks). Every change
returns a new Config, so a rejected request leaves the old one untouched."""
import hashlib
import ipaddress
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Tuple

from flows.pipeline import MAX_REDUNDANCY_GROUP, MAX_VIP_ID
from lbctl.networks import DEFAULT, Network, check_address, check_networks
from lbctl.validation import (NAME_RE, Changed, Conflict, InvalidInput, LbError, NotFound, host_address, is_int,  # noqa: F401
                              named_object, no_unknown, port_number, required)

MODES = ("routed", "dsr", "one-arm")
ALGORITHMS = ("5-tuple", "source_ip")
PROTOCOLS = ("tcp", "udp")
MAX_SNAT_ADDRESSES = 16
DEFAULT_SNAT_PORTS = (1024, 65535)
MAX_MEMBERS = 256       # Open vSwitch's dp_hash select groups take at most 256 buckets
MAX_WEIGHT = 256
VIP_FIELDS = {"name", "network", "address", "port", "protocol", "mode", "algorithm", "members", "redundancy_group",
              "snat_pool", "health_monitor"}
SNAT_FIELDS = {"addresses", "ports"}
MEMBER_FIELDS = {"address", "network", "port", "weight", "monitor_port"}
MONITOR_TYPES = ("none", "tcp", "udp", "ping")
MONITOR_FIELDS = {"type", "interval", "timeout", "rise", "fall"}
MONITOR_INTERVAL = (0.1, 3600.0)   # seconds between two probes of a member, at least and at most
MONITOR_MIN_TIMEOUT = 0.05
MONITOR_MAX_COUNT = 10             # rise and fall
MAX_HOST_ID = (1 << 24) - 1        # a host id fills 24 bits of a connection's ct_label (flows.pipeline)
DEFAULT_NETWORK = DEFAULT   # the network of every VIP and host that names none


@dataclass(frozen=True)
class HealthMonitor:
    """How a VIP's members are probed. A member is up after `rise` probes in a row succeed (after
    one, for a member never up yet), down after `fall` fail; a probe fails at `timeout` without an
    answer (except udp, where only an ICMP port unreachable fails)."""
    type: str = "none"
    interval: float = 2.0
    timeout: float = 1.0
    rise: int = 2
    fall: int = 3

    def to_dict(self):
        return {"type": self.type, "interval": self.interval, "timeout": self.timeout,
                "rise": self.rise, "fall": self.fall}


@dataclass(frozen=True)
class Member:
    address: str
    port: int
    weight: int = 1
    id: int = 0      # stable within its VIP; the low half of its flows' cookie
    monitor_port: int = None   # where health probes go, when not `port`
    host: int = 0    # the id of the host at (network, address), shared by every VIP that lists it
    network: str = DEFAULT   # where it is (parse_vip makes it the VIP's when the member names none)

    @property
    def key(self):
        """Its host's key: (network, address)."""
        return (self.network, self.address)

    @property
    def probed_port(self):
        return self.monitor_port or self.port


@dataclass(frozen=True)
class Vip:
    name: str
    address: str
    port: int
    protocol: str = "tcp"
    mode: str = "routed"
    members: Tuple[Member, ...] = ()
    redundancy_group: int = 1   # addresses of one group share a MAC and move together
    algorithm: str = "5-tuple"  # what the hash spreads: each connection, or each client address
    snat_addresses: Tuple[str, ...] = ()   # one-arm: the source NAT pool ...
    snat_ports: Tuple[int, int] = DEFAULT_SNAT_PORTS   # ... and its port range
    health_monitor: HealthMonitor = HealthMonitor()
    id: int = 0      # stable; the VIP's group id and the high half of its flows' cookie
    network: str = DEFAULT   # where its clients reach it

    def to_dict(self):
        doc = {"name": self.name, "network": self.network, "address": self.address, "port": self.port,
               "protocol": self.protocol, "mode": self.mode, "algorithm": self.algorithm,
               "redundancy_group": self.redundancy_group, "health_monitor": self.health_monitor.to_dict(),
               "members": [member_doc(m, self.network) for m in self.members]}
        if self.mode == "one-arm":
            doc["snat_pool"] = {"addresses": list(self.snat_addresses), "ports": list(self.snat_ports)}
        return doc

    @property
    def service(self):
        return (self.address, self.port, self.protocol)

    @cached_property
    def revision(self):
        """A digest of everything configured: GET shows it, and a PUT or DELETE with
        `If-Match: <revision>` is refused (412) if the VIP changed meanwhile."""
        text = json.dumps(dict(self.to_dict(), id=self.id), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def monitored(self):
        return self.health_monitor.type != "none"

    @property
    def member_network(self):
        """The network its members are on (one for all of them: see Config._check_networks)."""
        return self.members[0].network if self.members else self.network


def member_doc(member, vip_network=DEFAULT):
    """A member as the API shows and takes it (its network only when it is not the VIP's)."""
    doc = {"address": member.address, "port": member.port, "weight": member.weight}
    if member.network != vip_network:
        doc["network"] = member.network
    if member.monitor_port is not None:
        doc["monitor_port"] = member.monitor_port
    return doc


# ---------------------------------------------------------------- validation

def parse_vip(body, where="", name=None):
    """A JSON/YAML object -> Vip (ids not yet assigned). `where` prefixes field names in errors
    (e.g. "vips[2]."); `name`, when given, is the name from the URL."""
    body, vip_name = named_object(body, VIP_FIELDS, where, name)
    network = _network_name(body.get("network", DEFAULT), where + "network")
    address = host_address(required(body, "address", where), where + "address")
    port = port_number(required(body, "port", where), where + "port")
    protocol = body.get("protocol", "tcp")
    if protocol not in PROTOCOLS:
        raise InvalidInput(where + "protocol", protocol, "is not one of %s" % ", ".join(PROTOCOLS))
    mode = body.get("mode", "routed")
    if mode not in MODES:
        raise InvalidInput(where + "mode", mode, "is not one of %s" % ", ".join(MODES))
    algorithm = body.get("algorithm", "5-tuple")
    if algorithm not in ALGORITHMS:
        raise InvalidInput(where + "algorithm", algorithm, "is not one of %s" % ", ".join(ALGORITHMS))
    snat_addresses, snat_ports = _snat_pool(body, mode, address, where)
    group = body.get("redundancy_group", 1)
    if not is_int(group) or not 1 <= group <= MAX_REDUNDANCY_GROUP:
        raise InvalidInput(where + "redundancy_group", group, "is not an integer from 1 to %d" % MAX_REDUNDANCY_GROUP)
    members = body.get("members", [])
    if not isinstance(members, list):
        raise InvalidInput(where + "members", members, "is not a list")
    if len(members) > MAX_MEMBERS:
        raise InvalidInput(where + "members", "%d members" % len(members), "exceeds %d" % MAX_MEMBERS)
    parsed = tuple(_member(m, "%smembers[%d]." % (where, i), port, network) for i, m in enumerate(members))
    seen = {}
    for i, member in enumerate(parsed):
        endpoint = (member.network, member.address, member.port)
        if endpoint in seen:
            raise InvalidInput("%smembers[%d]" % (where, i), "%s:%d" % endpoint[1:],
                               "duplicates members[%d]" % seen[endpoint])
        seen[endpoint] = i
        if member.network == network and (member.address == address or member.address in snat_addresses):
            raise InvalidInput("%smembers[%d].address" % (where, i), member.address,
                               "is one of the VIP's own addresses")
        if mode == "dsr" and member.port != port:
            raise InvalidInput("%smembers[%d].port" % (where, i), member.port,
                               "differs from the VIP's port %d: dsr rewrites only the MAC" % port)
    return Vip(name=vip_name, network=network, address=address, port=port, protocol=protocol, mode=mode, members=parsed,
               redundancy_group=group, algorithm=algorithm, snat_addresses=snat_addresses,
               snat_ports=snat_ports, health_monitor=_health_monitor(body, where))


def _health_monitor(body, where):
    field = where + "health_monitor"
    monitor = body.get("health_monitor", {})
    if not isinstance(monitor, dict):
        raise InvalidInput(field, monitor, "is not an object")
    no_unknown(monitor, MONITOR_FIELDS, field + ".")
    default = HealthMonitor()
    kind = monitor.get("type", "none")
    if kind not in MONITOR_TYPES:
        raise InvalidInput(field + ".type", kind, "is not one of %s" % ", ".join(MONITOR_TYPES))
    low, high = MONITOR_INTERVAL
    interval = _seconds(monitor.get("interval", default.interval), field + ".interval", low, high)
    timeout = _seconds(monitor.get("timeout", min(default.timeout, interval)), field + ".timeout",
                       MONITOR_MIN_TIMEOUT, interval)
    rise, fall = (_count(monitor.get(name, getattr(default, name)), "%s.%s" % (field, name)) for name in ("rise", "fall"))
    return HealthMonitor(kind, interval, timeout, rise, fall)


def _seconds(value, field, low, high):
    if not (is_int(value) or isinstance(value, float)) or not low <= value <= high:
        raise InvalidInput(field, value, "is not a number of seconds from %g to %g" % (low, high))
    return float(value)


def _count(value, field):
    if not is_int(value) or not 1 <= value <= MONITOR_MAX_COUNT:
        raise InvalidInput(field, value, "is not an integer from 1 to %d" % MONITOR_MAX_COUNT)
    return value


def _snat_pool(body, mode, vip_address, where):
    field = where + "snat_pool"
    pool = body.get("snat_pool")
    if mode != "one-arm":
        if pool is not None:
            raise InvalidInput(field, pool, "is only for mode 'one-arm'")
        return (), DEFAULT_SNAT_PORTS
    if not isinstance(pool, dict):
        raise InvalidInput(field, pool, "is required in mode 'one-arm': {\"addresses\": [...], \"ports\": [min, max]}")
    no_unknown(pool, SNAT_FIELDS, field + ".")
    addresses = pool.get("addresses")
    if not isinstance(addresses, list) or not 1 <= len(addresses) <= MAX_SNAT_ADDRESSES:
        raise InvalidInput(field + ".addresses", addresses, "is not a list of 1 to %d addresses" % MAX_SNAT_ADDRESSES)
    parsed = tuple(host_address(a, "%s.addresses[%d]" % (field, i)) for i, a in enumerate(addresses))
    for i, address in enumerate(parsed):
        if address == vip_address or address in parsed[:i]:
            raise InvalidInput("%s.addresses[%d]" % (field, i), address, "repeats an address of the VIP")
    ordered = sorted(int(ipaddress.ip_address(a)) for a in parsed)
    if ordered[-1] - ordered[0] != len(ordered) - 1:
        raise InvalidInput(field + ".addresses", addresses,
                           "are not consecutive: Open vSwitch source-NATs to one address range")
    ports = pool.get("ports", list(DEFAULT_SNAT_PORTS))
    if (not isinstance(ports, list) or len(ports) != 2 or not all(is_int(p) for p in ports)
            or not 1 <= ports[0] <= ports[1] <= 65535):
        raise InvalidInput(field + ".ports", ports, "is not [min, max] with 1 <= min <= max <= 65535")
    return parsed, tuple(ports)


def _network_name(value, field):
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise InvalidInput(field, value, "is not a network's name")
    return value


def _member(body, where, default_port, vip_network):
    if not isinstance(body, dict):
        raise InvalidInput(where.rstrip("."), body, "is not an object")
    no_unknown(body, MEMBER_FIELDS, where)
    network = _network_name(body.get("network", vip_network), where + "network")
    address = host_address(required(body, "address", where), where + "address")
    port = port_number(body.get("port", default_port), where + "port")
    weight = body.get("weight", 1)
    if not is_int(weight) or not 0 <= weight <= MAX_WEIGHT:
        raise InvalidInput(where + "weight", weight, "is not an integer from 0 (drain) to %d" % MAX_WEIGHT)
    monitor_port = body.get("monitor_port")
    if monitor_port is not None:
        port_number(monitor_port, where + "monitor_port")
    return Member(address=address, port=port, weight=weight, monitor_port=monitor_port, network=network)


# ---------------------------------------------------------------- the configuration

@dataclass(frozen=True)
class Config:
    """The VIPs and networks, and the ids handed out: VIP ids (a VIP's group and cookie), member
    ids within each VIP, host ids, one per (network, address) some member is at (a host's register
    value and cookie), network ids. A host keeps its id while any VIP lists it. Never changed in
    place: `hosts` and `host_users` are copied by every change. `networks` starts with the
    default network, which the controller's options set (see `with_default`)."""
    vips: Tuple[Vip, ...] = ()
    next_id: int = 1
    hosts: dict = field(default_factory=dict)       # (network, address) -> host id
    next_host: int = 1
    host_users: dict = field(default_factory=dict)  # (network, address) -> how many VIPs list it
    networks: Tuple[Network, ...] = (Network(DEFAULT),)
    next_network: int = 1

    @classmethod
    def restore(cls, vips, next_id, next_host, networks=(), next_network=1, default=None):
        """The configuration of saved VIPs and networks, their ids given (`next_host` None: host
        ids are handed out afresh, for a state saved before there were any), `default` the
        default network (None: a bare one). Checked with the rules of a change, and the ids with
        theirs; InvalidInput names what is wrong."""
        config = cls(next_id=next_id, next_host=next_host or 1, next_network=next_network)
        if default is not None:
            config = config.with_default(default)
        for i, network in enumerate(networks):
            where = "networks[%d]." % i
            if network.id >= next_network or network.id < 1:
                raise InvalidInput(where + "id", network.id, "is not from 1 to below next_network %d" % next_network)
            try:
                config = config._with_networks(config.networks + (network,))
            except LbError as e:
                raise InvalidInput(where.rstrip("."), network.name, "breaks a rule: %s" % e)
        seen_ids = set()
        host_keys = {}   # host id -> the (network, address) it was first seen for
        for i, vip in enumerate(vips):
            where = "vips[%d]." % i
            if vip.id >= next_id or vip.id in seen_ids:
                raise InvalidInput(where + "id", vip.id, "is not below next_id %d, or repeats" % next_id)
            seen_ids.add(vip.id)
            if len({m.id for m in vip.members}) != len(vip.members):
                raise InvalidInput(where + "members", [m.id for m in vip.members], "repeat a member id")
            try:
                if any(v.name == vip.name for v in config.vips):
                    raise Conflict("name: vip %r already exists" % vip.name)
                config.check_vip(vip, exclude=None)
            except LbError as e:
                raise InvalidInput(where.rstrip("."), vip.name, "breaks a rule: %s" % e)
            if next_host is None:
                config, _ = config._with(config.vips + (vip,), vip, None)
                continue
            for j, member in enumerate(vip.members):
                if member.host >= next_host or host_keys.setdefault(member.host, member.key) != member.key \
                        or config.hosts.get(member.key, member.host) != member.host:
                    raise InvalidInput("%smembers[%d].host" % (where, j), member.host,
                                       "is not the one host id of %s below next_host %d" % (member.address, next_host))
            config = config._adding(vip)
        return replace(config, next_id=next_id)

    # ------------------------------------------------------------ VIPs

    def get(self, name, revision=None):
        """The VIP called `name`; with a `revision`, only if it is still that one."""
        for vip in self.vips:
            if vip.name == name:
                _check_revision("vip", name, vip.revision, revision)
                return vip
        raise NotFound("vip %r does not exist" % name)

    def create(self, vip):
        if any(v.name == vip.name for v in self.vips):
            raise Conflict("name: vip %r already exists" % vip.name)
        self.check_vip(vip, exclude=None)
        if self.next_id > MAX_VIP_ID:
            raise Conflict("name: no VIP id is left (ids up to %d were handed out)" % MAX_VIP_ID)
        new = replace(vip, id=self.next_id, members=_number_members(vip.members, ()))
        return self._with(self.vips + (new,), new, None, next_id=self.next_id + 1)

    def replace(self, name, vip, revision=None):
        old = self.get(name, revision)
        self.check_vip(vip, exclude=name)
        new = replace(vip, id=old.id, members=_number_members(vip.members, old.members))
        return self._with(tuple(new if v.name == name else v for v in self.vips), new, old)

    def delete(self, name, revision=None):
        old = self.get(name, revision)
        return self._with(tuple(v for v in self.vips if v.name != name), None, old)[0], old

    # ------------------------------------------------------------ networks

    def network(self, name, revision=None):
        """The network called `name`; with a `revision`, only if it is still that one."""
        network = self.network_by_name.get(name)
        if network is None:
            raise NotFound("network %r does not exist" % name)
        _check_revision("network", name, network.revision, revision)
        return network

    def create_network(self, network):
        if network.name in self.network_by_name:
            raise Conflict("name: network %r already exists" % network.name)
        new = replace(network, id=self.next_network)
        return self._with_networks(self.networks + (new,), next_network=self.next_network + 1), new

    def replace_network(self, name, network, revision=None):
        old = self.network(name, revision)
        if old.name == DEFAULT:
            raise Conflict("name: network %r is set by the controller's [lbctl] options" % DEFAULT)
        new = replace(network, id=old.id)
        return self._with_networks(tuple(new if n.name == name else n for n in self.networks)), new

    def delete_network(self, name, revision=None):
        old = self.network(name, revision)
        if old.name == DEFAULT:
            raise Conflict("name: network %r is set by the controller's [lbctl] options" % DEFAULT)
        for vip in self.vips:
            if name in {vip.network} | {m.network for m in vip.members}:
                raise Conflict("name: network %r is used by vip %r" % (name, vip.name))
        return self._with_networks(tuple(n for n in self.networks if n.name != name)), old

    def with_default(self, network):
        """This configuration with `network` (the [lbctl] options' gateways and monitor address)
        as its default network; LbError if a VIP breaks a rule with it."""
        config = self._with_networks((replace(network, name=DEFAULT, id=0),) + self.networks[1:])
        return config

    def _with_networks(self, networks, next_network=None):
        """This configuration with `networks`, checked between themselves and against every VIP."""
        check_networks(networks)
        config = replace(self, networks=tuple(networks),
                         next_network=self.next_network if next_network is None else next_network)
        for vip in config.vips:
            config._check_networks(vip)
        return config

    # ------------------------------------------------------------ rules and ids

    def check_vip(self, vip, exclude):
        """The rules a VIP must keep with the networks and the other VIPs (`exclude`: the name of
        the VIP it replaces)."""
        self._check_networks(vip)
        self._check_service_free(vip, exclude)

    def _check_networks(self, vip):
        """Its networks exist; its members are where its mode reaches them (one network for all:
        a connection's conntrack zone is its members' network's; dsr and one-arm, the VIP's own;
        routed on another, through the balancer's gateway there); its addresses are not its
        networks' own; a health monitor has a monitor address to probe from."""
        network = self._named(vip.network, "network")
        members = vip.member_network
        for i, member in enumerate(vip.members):
            field = "members[%d].network" % i
            self._named(member.network, field)
            if member.network != members:
                raise InvalidInput(field, member.network, "differs from members[0].network %r: a VIP's members "
                                   "are on one network (its connections' conntrack zone)" % members)
            if member.network != vip.network and vip.mode != "routed":
                raise InvalidInput(field, member.network, "is not the VIP's network %r: %s members are on the "
                                   "VIP's network" % (vip.network, vip.mode))
        members_network = self._named(members, "members[0].network")
        if members != vip.network and not members_network.gateways:
            raise InvalidInput("members[0].network", members, "has no gateway: members on another network than the "
                               "VIP's reply through the balancer's gateway there")
        for field, address in (("address", vip.address),) + tuple(
                ("snat_pool.addresses[%d]" % i, a) for i, a in enumerate(vip.snat_addresses)):
            check_address(network, field, address)
        for i, member in enumerate(vip.members):
            check_address(members_network, "members[%d].address" % i, member.address)
        if vip.monitored and members_network.monitor_address is None:
            raise InvalidInput("health_monitor.type", vip.health_monitor.type,
                               "needs a monitor address on network %r (%s)" % (
                                   members, "[lbctl] monitor_address" if members == DEFAULT else "its monitor_address"))

    def _named(self, name, field):
        network = self.network_by_name.get(name)
        if network is None:
            raise InvalidInput(field, name, "is not a network (known: %s)" % ", ".join(sorted(self.network_by_name)))
        return network

    def _with(self, vips, added, removed, next_id=None):
        """(the configuration holding `vips`, the VIP `added` as it is there): where `added` (or
        None) came in and `removed` (or None) went, the members of `added` get their host ids (a
        host known already keeps its own) and the hosts no VIP lists any more are forgotten."""
        hosts, users, next_host = dict(self.hosts), dict(self.host_users), self.next_host
        if added is not None:
            members = []
            for member in added.members:
                if member.key not in hosts:
                    if next_host > MAX_HOST_ID:
                        raise Conflict("members: no host id is left (ids up to %d were handed out)" % MAX_HOST_ID)
                    hosts[member.key], next_host = next_host, next_host + 1
                members.append(replace(member, host=hosts[member.key]))
            numbered = replace(added, members=tuple(members))
            for key in _host_keys(numbered):
                users[key] = users.get(key, 0) + 1
            vips = tuple(numbered if v is added else v for v in vips)
            added = numbered
        if removed is not None:   # after: a host that stays in a replaced VIP keeps its id
            for key in _host_keys(removed):
                users[key] -= 1
                if not users[key]:
                    del users[key], hosts[key]
        new = Config(vips, self.next_id if next_id is None else next_id, hosts, next_host, users, self.networks,
                     self.next_network)
        if removed is None and added is not None:
            self._grow_derived(new, added)
        return new, added

    def _grow_derived(self, new, added):
        """Give `new` (this configuration and the VIP `added`) what this one has derived already,
        grown by `added`: a create costs a copy, not a walk over every VIP's members."""
        known = self.__dict__
        derived = new.__dict__
        if "member_addresses" in known:
            derived["member_addresses"] = known["member_addresses"] | {m.key for m in added.members}
        if "services" in known:
            derived["services"] = known["services"] | {_service(added)}
        if "by_id" in known:
            derived["by_id"] = {**known["by_id"], added.id: added}
        if "addresses" in known:
            owned = dict(known["addresses"])
            for key in _own_keys(added):
                owned.setdefault(key, added.redundancy_group)
            derived["addresses"] = owned
        for name in ("network_by_name", "network_by_id"):
            if name in known:
                derived[name] = known[name]

    def _adding(self, vip):
        """This configuration with `vip`, whose ids (host ids too) are already set."""
        hosts, users = dict(self.hosts), dict(self.host_users)
        for member in vip.members:
            hosts[member.key] = member.host
        for key in _host_keys(vip):
            users[key] = users.get(key, 0) + 1
        return Config(self.vips + (vip,), self.next_id, hosts, self.next_host, users, self.networks, self.next_network)

    def _check_service_free(self, vip, exclude):
        mine = _own_keys(vip)
        own_members = {m.key for m in vip.members}
        if (_service(vip) not in self.services and not mine & self.addresses.keys()
                and not mine & self.member_addresses and not own_members & self.addresses.keys()):
            return   # nothing shared with any VIP: no rule to check (the common case, in O(1))
        for other in self.vips:
            if other.name == exclude:
                continue
            if _service(other) == _service(vip):
                raise Conflict("address: %s:%d/%s is already served by vip %r"
                               % (vip.address, vip.port, vip.protocol, other.name))
            same_network = other.network == vip.network
            # An address is a VIP's (any number of services on it) or a SNAT pool's (any number of
            # one-arm VIPs may share the pool), never both: the switch takes every packet to a pool
            # address for a reply to un-SNAT, so a service there would never be reached.
            if same_network and vip.address in other.snat_addresses:
                raise Conflict("address: %s is in the snat_pool of vip %r: an address is a VIP's or a "
                               "SNAT pool's, not both" % (vip.address, other.name))
            for i, address in enumerate(vip.snat_addresses):
                if same_network and address == other.address:
                    raise Conflict("snat_pool.addresses[%d]: %s is the address of vip %r: an address is a "
                                   "VIP's or a SNAT pool's, not both" % (i, address, other.name))
            theirs = _own_keys(other)
            shared = sorted(mine & theirs)
            if shared and other.redundancy_group != vip.redundancy_group:
                # One address has one MAC, and a MAC belongs to one redundancy group.
                raise Conflict("redundancy_group: %d differs from group %d of vip %r on address %s"
                               % (vip.redundancy_group, other.redundancy_group, other.name, shared[0][1]))
            members = {m.key for m in other.members}
            if mine & members:
                raise Conflict("address: %s is a member of vip %r" % (sorted(mine & members)[0][1], other.name))
            if own_members & theirs:
                raise Conflict("members: %s is an address of vip %r" % (sorted(own_members & theirs)[0][1], other.name))

    # A Config never changes, so what is derived from it is computed once (packet-ins ask often).
    @cached_property
    def addresses(self):
        """Every (network, address) the VIPs own (their addresses, SNAT pools) -> its redundancy
        group: the balancer answers ARP for them, announces and defends them."""
        owned = {}
        for vip in self.vips:
            for key in _own_keys(vip):
                owned.setdefault(key, vip.redundancy_group)
        return owned

    @cached_property
    def by_id(self):
        return {vip.id: vip for vip in self.vips}

    @cached_property
    def network_by_name(self):
        return {network.name: network for network in self.networks}

    @cached_property
    def network_by_id(self):
        return {network.id: network for network in self.networks}

    @cached_property
    def services(self):
        return frozenset(_service(vip) for vip in self.vips)

    @cached_property
    def member_addresses(self):
        return frozenset(m.key for vip in self.vips for m in vip.members)


def _check_revision(kind, name, current, wanted):
    if wanted is not None and wanted not in ("*", current):
        raise Changed("if-match: %r is not the revision of %s %r any more (now %r)" % (wanted, kind, name, current))


def _service(vip):
    return (vip.network,) + vip.service


def _own_keys(vip):
    return {(vip.network, address) for address in (vip.address,) + vip.snat_addresses}


def _host_keys(vip):
    return {m.key for m in vip.members}


def _number_members(members, previous):
    """Give each member an id; a member that was there before (same address and port) keeps its id,
    so its flows keep their cookie across an update."""
    known = {(m.address, m.port): m.id for m in previous}
    next_id = max(known.values(), default=0) + 1
    numbered = []
    for member in members:
        member_id = known.get((member.address, member.port))
        if member_id is None:
            member_id, next_id = next_id, next_id + 1
        numbered.append(replace(member, id=member_id))
    return tuple(numbered)
