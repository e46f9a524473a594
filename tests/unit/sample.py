"""A small sample configuration shared by the unit tests: two VIPs sharing members 11 and 12."""
from lbctl.hosts import Place
from lbctl.model import Config, parse_vip

WEB = {"name": "web", "address": "198.18.0.100", "port": 80, "protocol": "tcp", "mode": "routed",
       "members": [{"address": "198.18.0.11", "port": 80}, {"address": "198.18.0.12", "port": 80},
                   {"address": "198.18.0.13", "port": 80, "weight": 3}]}
DNS = {"name": "dns", "address": "198.18.0.101", "port": 53, "protocol": "udp",
       "members": [{"address": "198.18.0.11", "port": 5353}, {"address": "198.18.0.12", "port": 5353, "weight": 0}]}

# The host ids of the members of WEB and DNS, handed out in the order the members first appear.
HOST = {"198.18.0.11": 1, "198.18.0.12": 2, "198.18.0.13": 3}
PLACES = {HOST["198.18.0.11"]: Place("0a:00:00:00:00:11", 2), HOST["198.18.0.12"]: Place("0a:00:00:00:00:12", 3),
          HOST["198.18.0.13"]: Place("0a:00:00:00:00:13", 4)}


def vip_set(*bodies):
    """The configuration of these VIPs, created in order."""
    vips = Config()
    for body in bodies:
        vips, _ = vips.create(parse_vip(body))
    return vips
