"""Addresses as the pipeline carries them: canonical text of either family in, the OXM fields that
match or write them, and their integer and packed forms out. Only IPv4 is configured today; an
IPv6 address takes the same calls and gives ipv6_* fields and ETH_TYPE_IPV6."""
import functools
import ipaddress

from flows.protocols import ETH_TYPE_IP, ETH_TYPE_IPV6


def parsed(address):
    return ipaddress.ip_address(address)


@functools.lru_cache(maxsize=65536)   # asked for every flow of every VIP: keep the answer (bounded)
def family(address):
    """4 or 6."""
    return parsed(address).version


def eth_type(address):
    return ETH_TYPE_IP if family(address) == 4 else ETH_TYPE_IPV6


def field(address, side):
    """The OXM field of `address` as the packet's source or destination: side "src" or "dst"."""
    return "ipv%d_%s" % (family(address), side)


def fields(address, side):
    """The match fields that pick packets from (side "src") or to ("dst") `address`."""
    return {"eth_type": eth_type(address), field(address, side): address}


def to_int(address):
    return int(parsed(address))


def packed(address):
    return parsed(address).packed


def mapped(address):
    """16 bytes: an IPv6 address as is, an IPv4 address IPv4-mapped (::ffff:a.b.c.d), as Open
    vSwitch writes addresses of either family in one field."""
    address = parsed(address)
    return address.packed if address.version == 6 else bytes(10) + b"\xff\xff" + address.packed


def text(value, version=4):
    """An address from its integer or packed form."""
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))
