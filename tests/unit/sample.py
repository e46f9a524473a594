"""A small sample configuration shared by the unit tests: two VIPs sharing members 11 and 12."""
from flows.desired import Settings
from lbctl.hosts import Place
from lbctl.model import Config, parse_vip
from lbctl.networks import default_network

# The default network as a controller with `monitor_address = 198.18.0.2` has it.
DEFAULT = default_network(monitor_address="198.18.0.2")

WEB = {"name": "web", "address": "198.18.0.100", "port": 80, "protocol": "tcp", "mode": "routed",
       "members": [{"address": "198.18.0.11", "port": 80}, {"address": "198.18.0.12", "port": 80},
                   {"address": "198.18.0.13", "port": 80, "weight": 3}]}
DNS = {"name": "dns", "address": "198.18.0.101", "port": 53, "protocol": "udp",
       "members": [{"address": "198.18.0.11", "port": 5353}, {"address": "198.18.0.12", "port": 5353, "weight": 0}]}

# Where the members are, by address; and by host id for the configuration of WEB and DNS (ids are
# handed out in the order the members first appear), as flows.desired takes them.
WHERE = {"198.18.0.11": Place("0a:00:00:00:00:11", 2), "198.18.0.12": Place("0a:00:00:00:00:12", 3),
         "198.18.0.13": Place("0a:00:00:00:00:13", 4)}
HOST = {"198.18.0.11": 1, "198.18.0.12": 2, "198.18.0.13": 3}
PLACES = {HOST[address]: place for address, place in WHERE.items()}


def places(config):
    """host id -> Place of the members of `config` that WHERE locates."""
    return {host: WHERE[address] for (_, address), host in config.hosts.items() if address in WHERE}


def settings(gateways=(), monitor_address="198.18.0.2", **fields):
    """The flows' settings of a controller with these [lbctl] gateways and monitor address."""
    return Settings(networks=(default_network(gateways, monitor_address=monitor_address),), **fields)


def vip_set(*bodies):
    """The configuration of these VIPs, created in order (the default network: DEFAULT)."""
    vips = Config().with_default(DEFAULT)
    for body in bodies:
        vips, _ = vips.create(parse_vip(body))
    return vips
