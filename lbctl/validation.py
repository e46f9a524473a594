"""What every object the API takes shares: the errors a request can meet (each names the field
and the value it refused) and the checks of names, ports and addresses."""
import ipaddress
import re

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")   # the whole name (fullmatch: "$" would let "\n" in)
BROADCAST = ipaddress.IPv4Address("255.255.255.255")


class LbError(Exception):
    status = 400


class InvalidInput(LbError):
    """Names the field and the value that were refused."""

    def __init__(self, field, value, why):
        super().__init__("%s: %s %s" % (field, _show(value), why))
        self.field = field


class NotFound(LbError):
    status = 404


class Conflict(LbError):
    status = 409


class Changed(LbError):
    """The VIP is no longer the revision the request was based on (If-Match)."""
    status = 412


def _show(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def named_object(body, known, where, name):
    """The head of an object the API takes (a VIP, a network): an object of `known` fields whose
    `name` is a name; `name`, when given, is the URL's (the body may leave it out). Returns the
    body (with the name) and the name."""
    if not isinstance(body, dict):
        raise InvalidInput(where.rstrip(".") or "body", body, "is not an object")
    no_unknown(body, known, where)
    if name is not None:
        if "name" in body and body["name"] != name:
            raise InvalidInput(where + "name", body["name"], "differs from the name in the URL %r" % name)
        body = dict(body, name=name)
    given = required(body, "name", where)
    if not isinstance(given, str) or not NAME_RE.fullmatch(given):
        raise InvalidInput(where + "name", given,
                           "is not a name (1-63 letters, digits, '_', '.', '-'; starting with a letter or digit)")
    return body, given


def no_unknown(body, known, where):
    for key in body:
        if key not in known:
            raise InvalidInput(where + str(key), body[key], "is not a known field (known: %s)" % ", ".join(sorted(known)))


def required(body, field, where):
    if field not in body:
        raise InvalidInput(where + field, None, "is required")
    return body[field]


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def port_number(value, field):
    if not is_int(value) or not 1 <= value <= 65535:
        raise InvalidInput(field, value, "is not a port number from 1 to 65535")
    return value


def host_address(value, field):
    """A host's address as the API takes it -> its canonical text (only IPv4 is served today)."""
    try:
        address = ipaddress.IPv4Address(value) if isinstance(value, str) else None
    except ValueError:
        address = None
    if address is None:
        raise InvalidInput(field, value, "is not an IPv4 address")
    if address.is_multicast or address.is_unspecified or address.is_loopback or address == BROADCAST:
        raise InvalidInput(field, value, "is not a unicast host address")
    return str(address)


