"""A small sample configuration shared by the unit tests: two VIPs sharing members 11 and 12."""
from lbctl_app.hosts import Place
from lbctl_app.model import VipSet, parse_vip

WEB = {"name": "web", "address": "198.18.0.100", "port": 80, "protocol": "tcp", "mode": "routed",
       "members": [{"address": "198.18.0.11", "port": 80}, {"address": "198.18.0.12", "port": 80},
                   {"address": "198.18.0.13", "port": 80, "weight": 3}]}
DNS = {"name": "dns", "address": "198.18.0.101", "port": 53, "protocol": "udp",
       "members": [{"address": "198.18.0.11", "port": 5353}, {"address": "198.18.0.12", "port": 5353, "weight": 0}]}

PLACES = {"198.18.0.11": Place("0a:00:00:00:00:11", 2), "198.18.0.12": Place("0a:00:00:00:00:12", 3),
          "198.18.0.13": Place("0a:00:00:00:00:13", 4)}


def vip_set(*bodies):
    vips = VipSet()
    for body in bodies:
        vips, _ = vips.create(parse_vip(body))
    return vips
