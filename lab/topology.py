"""The standard topology of the demo, the integration tests and the benchmarks.

198.18.0.0/15 is the range set aside for benchmarking (RFC 2544): it is never anyone's real
network, so a flow or a log line with these addresses is plainly ours.
"""

PREFIXLEN = 24
CLIENT = ("client", "198.18.0.10", 1)            # name, address, OpenFlow port
MEMBERS = (("m1", "198.18.0.11", 2),
           ("m2", "198.18.0.12", 3),
           ("m3", "198.18.0.13", 4))
HTTP_PORTS = (80, 8080)
DEMO_VIP = "198.18.0.100"  # the `web` VIP of config/vips.yaml: members .11-.13, port 80


def build(lab, http_ports=HTTP_PORTS):
    """Add the client and the members (each serving HTTP) to a started lab; returns the hosts."""
    name, ip, ofport = CLIENT
    lab.add_host(name, ip, PREFIXLEN, ofport=ofport)
    for name, ip, ofport in MEMBERS:
        lab.add_host(name, ip, PREFIXLEN, ofport=ofport)
        lab.start_http(name, http_ports)
    return dict(lab.hosts)
