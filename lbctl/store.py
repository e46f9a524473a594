"""Where the configuration lives between runs: the Store interface the core uses, and FileStore,
today's backend: the YAML file an operator writes (read at start when there is no saved state yet)
and the state file every change is saved to (msgpack, written atomically), guarded by a lock so
that one controller alone writes it. A replicated backend (etcd, say) implements the same three
calls; the core does not change."""
import abc
import fcntl
import os
import tempfile
import time
from dataclasses import replace

import msgpack
import yaml

from lbctl.model import Config, InvalidInput, LbError, member_doc, parse_vip
from lbctl.networks import parse_network

STATE_FORMAT = 3
OLD_FORMATS = (1, 2)   # format 1 had no host ids (they are handed out afresh when it is read), 2 no networks


class StoreError(Exception):
    """The YAML file or the state file cannot be used; the message says which file and why."""


class Store(abc.ABC):
    """The configuration's home. `load` once at start; then every change is one `transact`:
    the change is applied to the newest saved configuration, the result saved only if nobody
    else saved meanwhile, and returned; `subscribe` tells of changes saved elsewhere."""

    @abc.abstractmethod
    def load(self, default):
        """The configuration to start from, with `default` (the controller's options set it) as
        its default network."""

    @abc.abstractmethod
    def transact(self, change):
        """Apply `change` (Config -> Config; it may raise, and then nothing is saved) to the
        newest configuration, save the result and return it."""

    @abc.abstractmethod
    def subscribe(self, listener):
        """Call `listener(config)` whenever a change saved by someone else arrives."""


class FileStore(Store):
    """The state file, written by this controller alone: it holds an exclusive lock on
    `<state file>.lock` while it runs, so no change is ever saved elsewhere and subscribers are
    never called."""

    def __init__(self, state_file, vips_file=None, now=time.time):
        self.state_file = state_file
        self.vips_file = vips_file
        self.now = now
        self.lock = StateLock(state_file)
        self.current = None
        self.source = None      # where load() found the configuration, for the log
        self._encoder = _StateEncoder()

    def load(self, default=None):
        self.current, self.source = initial_config(self.state_file, self.vips_file, self.now, default)
        return self.current

    def transact(self, change):
        new = change(self.current)
        self._encoder.save(self.state_file, new)
        self.current = new
        return new

    def subscribe(self, listener):
        """No one else writes the state file (see the class): nothing to listen for."""

    def close(self):
        self.lock.release()


def load_yaml(path, default=None):
    """The networks and VIPs of an operator's YAML file: `networks:` and `vips:`, lists of objects
    as the REST API takes them. `default`: the default network the controller's options set (the
    VIPs are checked against it)."""
    try:
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise StoreError("%s: cannot read: %s" % (path, e))
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k, []), list) for k in ("vips", "networks")) \
            or set(doc) - {"vips", "networks"}:
        raise StoreError("%s: expected a mapping with lists under 'networks' and 'vips' (and nothing else)" % path)
    config = Config()
    try:
        if default is not None:
            config = config.with_default(default)
        for i, body in enumerate(doc.get("networks", [])):
            config, _ = config.create_network(parse_network(body, where="networks[%d]." % i))
        for i, body in enumerate(doc.get("vips", [])):
            config, _ = config.create(parse_vip(body, where="vips[%d]." % i))
    except LbError as e:
        raise StoreError("%s: %s" % (path, e))
    return config


def _network_doc(network):
    return dict(network.to_dict(), id=network.id)


def _vip_doc(vip):
    return dict(vip.to_dict(), id=vip.id,
                members=[dict(member_doc(m, vip.network), id=m.id, host=m.host) for m in vip.members])


class _StateEncoder:
    """The state file's bytes: msgpack of {"format", "next_id", "next_host", "next_network",
    "networks", "vips"} (networks and VIPs: what the API shows plus the ids), the very bytes
    msgpack.packb gives for that document. A change touches one VIP or network and the next
    Config holds the same objects for the others, so each one's encoding is kept while its object
    lives on (encoding 1,000 VIPs afresh cost ~10 ms a change)."""

    def __init__(self):
        self.encoded = {}   # id(vip or network) -> (it, its encoding): those of the last save

    def encode(self, config):
        packer = msgpack.Packer(use_bin_type=True)
        networks = config.networks[1:]   # (the default network is the options')
        parts = [packer.pack_map_header(6), packer.pack("format"), packer.pack(STATE_FORMAT),
                 packer.pack("next_id"), packer.pack(config.next_id),
                 packer.pack("next_host"), packer.pack(config.next_host),
                 packer.pack("next_network"), packer.pack(config.next_network),
                 packer.pack("networks"), packer.pack_array_header(len(networks))]
        kept = {}
        parts += [self._kept(kept, packer, network, _network_doc) for network in networks]
        parts.append(packer.pack("vips"))
        parts.append(packer.pack_array_header(len(config.vips)))
        parts += [self._kept(kept, packer, vip, _vip_doc) for vip in config.vips]
        self.encoded = kept
        return b"".join(parts)

    def _kept(self, kept, packer, item, doc):
        """The encoding of `item` (a VIP or a network): the last save's while the object lives on."""
        known = self.encoded.get(id(item))
        if known is None or known[0] is not item:
            known = (item, packer.pack(doc(item)))
        kept[id(item)] = known
        return known[1]

    def save(self, path, config):
        """Write the whole configuration to `path` so that a crash leaves either the old or the
        new file."""
        data = self.encode(config)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_state(path, config):
    """Write `config` to the state file `path` (atomically)."""
    _StateEncoder().save(path, config)


def load_state(path, default=None):
    """The saved configuration, or None when none was saved yet. The file is checked with the
    API's own rules, field by field, and the ids with theirs (with `default` as the default
    network): anything else is damage."""
    try:
        with open(path, "rb") as f:
            doc = msgpack.unpackb(f.read(), raw=False, strict_map_key=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, msgpack.UnpackException) as e:
        raise StoreError("%s: cannot read saved state: %s" % (path, e))
    if not isinstance(doc, dict) or doc.get("format") not in (STATE_FORMAT,) + OLD_FORMATS:
        raise StoreError("%s: not an lbctl state file of format %d" % (path, STATE_FORMAT))
    try:
        return _config_of(doc, default)
    except InvalidInput as e:
        raise StoreError("%s: saved state is damaged: %s" % (path, e))


def _config_of(doc, default):
    """A state document -> Config, checked like input (every network and VIP through the API's
    parsing and the configuration's own rules, every id in range and unique)."""
    has_hosts = doc["format"] != 1
    networks_doc = doc.get("networks", [])
    if not isinstance(networks_doc, list):
        raise InvalidInput("networks", networks_doc, "is not a list")
    networks = []
    for i, body in enumerate(networks_doc):
        where = "networks[%d]." % i
        if not isinstance(body, dict):
            raise InvalidInput("networks[%d]" % i, body, "is not an object")
        network = parse_network({k: v for k, v in body.items() if k != "id"}, where=where)
        networks.append(replace(network, id=_id(body, "id", where)))
    vips_doc = doc.get("vips")
    if not isinstance(vips_doc, list):
        raise InvalidInput("vips", vips_doc, "is not a list")
    restored = []
    for i, body in enumerate(vips_doc):
        where = "vips[%d]." % i
        if not isinstance(body, dict):
            raise InvalidInput("vips[%d]" % i, body, "is not an object")
        saved_members = body.get("members")
        if not isinstance(saved_members, list):
            raise InvalidInput(where + "members", saved_members, "is not a list")
        plain = {k: v for k, v in body.items() if k != "id"}
        plain["members"] = [{k: v for k, v in m.items() if k not in ("id", "host")} if isinstance(m, dict) else m
                            for m in saved_members]
        vip = parse_vip(plain, where=where)   # (so each saved member is an object by now)
        members = []
        for j, (member, saved) in enumerate(zip(vip.members, saved_members)):
            at = "%smembers[%d]." % (where, j)
            host = _id(saved, "host", at) if has_hosts else 0
            members.append(replace(member, id=_id(saved, "id", at), host=host))
        restored.append(replace(vip, id=_id(body, "id", where), members=tuple(members)))
    next_network = _id(doc, "next_network", "") if doc["format"] == STATE_FORMAT else 1
    return Config.restore(restored, _id(doc, "next_id", ""), _id(doc, "next_host", "") if has_hosts else None,
                          networks, next_network, default)


def _id(doc, name, where):
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(where + name, value, "is not an id (an integer from 1)")
    return value


def initial_config(state_file, vips_file, now=time.time, default=None):
    """Saved state wins (it holds every REST change); the YAML file seeds a first start. A state
    file that cannot be used is moved aside (kept for inspection, named in the returned source)
    and the YAML file is used, so a damaged file never blocks a start nor gets overwritten.
    Returns (config, a description of where it came from)."""
    damaged = ""
    try:
        saved = load_state(state_file, default) if state_file else None
    except StoreError as e:
        aside = "%s.damaged-%s" % (state_file, time.strftime("%Y%m%dT%H%M%S", time.gmtime(now())))
        os.replace(state_file, aside)
        saved, damaged = None, "; the state file was unusable (%s) and is kept as %s" % (e, aside)
    if saved is not None:
        return saved, "state file %s" % state_file
    if vips_file:
        return load_yaml(vips_file, default), "VIP file %s%s" % (vips_file, damaged)
    return Config() if default is None else Config().with_default(default), "nothing (no VIP file configured)%s" % damaged


def read_token(path):
    """The REST token in `path`, which only its owner may read."""
    try:
        mode = os.stat(path).st_mode
        with open(path) as f:
            token = f.read().strip()
    except OSError as e:
        raise StoreError("token_file: cannot read %s: %s" % (path, e))
    if mode & 0o077:
        raise StoreError("token_file: %s has mode %o: others may read it; chmod 600 it" % (path, mode & 0o777))
    if len(token) < 16:
        raise StoreError("token_file: %s holds no token of at least 16 characters" % path)
    return token


class StateLock:
    """Only one controller writes a state file: an exclusive lock on `<state file>.lock`, held
    while the controller runs (the kernel drops it when the process ends, however it ends)."""

    def __init__(self, state_file):
        self.path = state_file + ".lock"
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._file = open(self.path, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            raise StoreError("state_file: %s is in use by another controller (pid %s)" % (state_file, holder))
        self._file.seek(0)
        self._file.truncate()
        self._file.write("%d\n" % os.getpid())
        self._file.flush()

    def release(self):
        self._file.close()
