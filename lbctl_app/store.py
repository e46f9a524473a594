"""Where VIPs live between runs: the YAML file an operator writes (read at start when there is no
saved state yet) and the state file every change is saved to (msgpack, written atomically)."""
import fcntl
import os
import tempfile
import time
from dataclasses import replace

import msgpack
import yaml

from lbctl_app.model import InvalidInput, LbError, VipSet, parse_vip

STATE_FORMAT = 1


class StoreError(Exception):
    """The YAML file or the state file cannot be used; the message says which file and why."""


def load_yaml(path):
    """The VIPs of an operator's YAML file: `vips:` a list of VIP objects as the REST API takes."""
    try:
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise StoreError("%s: cannot read: %s" % (path, e))
    if not isinstance(doc, dict) or not isinstance(doc.get("vips", []), list):
        raise StoreError("%s: expected a mapping with a list under 'vips'" % path)
    vips = VipSet()
    try:
        for i, body in enumerate(doc.get("vips", [])):
            vips, _ = vips.create(parse_vip(body, where="vips[%d]." % i))
    except LbError as e:
        raise StoreError("%s: %s" % (path, e))
    return vips


def _vip_doc(vip):
    return dict(vip.to_dict(), id=vip.id,
                members=[{"address": m.address, "port": m.port, "weight": m.weight, "id": m.id} for m in vip.members])


class _StateEncoder:
    """The state file's bytes: msgpack of {"format", "next_id", "vips": [VIP documents]}, the very
    bytes msgpack.packb gives for that document. A change touches one VIP and the next VipSet holds
    the same objects for the others, so each VIP's encoding is kept while its object lives on
    (encoding 1,000 VIPs afresh cost ~10 ms a change)."""

    def __init__(self):
        self.encoded = {}   # id(vip) -> (vip, its encoding): the VIPs of the last save

    def encode(self, vips):
        packer = msgpack.Packer(use_bin_type=True)
        parts = [packer.pack_map_header(3), packer.pack("format"), packer.pack(STATE_FORMAT),
                 packer.pack("next_id"), packer.pack(vips.next_id),
                 packer.pack("vips"), packer.pack_array_header(len(vips.vips))]
        kept = {}
        for vip in vips.vips:
            known = self.encoded.get(id(vip))
            if known is None or known[0] is not vip:
                known = (vip, packer.pack(_vip_doc(vip)))
            kept[id(vip)] = known
            parts.append(known[1])
        self.encoded = kept
        return b"".join(parts)


_encoder = _StateEncoder()


def save_state(path, vips):
    """Write the whole VIP set to `path` so that a crash leaves either the old or the new file."""
    data = _encoder.encode(vips)
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


def load_state(path):
    """The saved VIP set, or None when no state was saved yet."""
    try:
        with open(path, "rb") as f:
            doc = msgpack.unpackb(f.read(), raw=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, msgpack.UnpackException) as e:
        raise StoreError("%s: cannot read saved state: %s" % (path, e))
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise StoreError("%s: not an lbctl state file of format %d" % (path, STATE_FORMAT))
    try:
        vips = []
        for i, body in enumerate(doc["vips"]):
            saved_members = body["members"]
            plain = {k: v for k, v in body.items() if k != "id"}
            plain["members"] = [{k: v for k, v in m.items() if k != "id"} for m in saved_members]
            vip = parse_vip(plain, where="vips[%d]." % i)   # saved state is checked like input
            members = tuple(replace(m, id=s["id"]) for m, s in zip(vip.members, saved_members))
            vips.append(replace(vip, id=body["id"], members=members))
        return VipSet(tuple(vips), doc["next_id"])
    except (KeyError, TypeError, InvalidInput) as e:
        raise StoreError("%s: saved state is damaged: %s" % (path, e))


def initial_vips(state_file, vips_file, now=time.time):
    """Saved state wins (it holds every REST change); the YAML file seeds a first start. A state
    file that cannot be read is moved aside (kept for inspection, named in the returned source)
    and the YAML file is used, so a damaged file never blocks a start nor gets overwritten."""
    damaged = ""
    try:
        saved = load_state(state_file) if state_file else None
    except StoreError as e:
        aside = "%s.damaged-%s" % (state_file, time.strftime("%Y%m%dT%H%M%S", time.gmtime(now())))
        os.replace(state_file, aside)
        saved, damaged = None, "; the state file was unusable (%s) and is kept as %s" % (e, aside)
    if saved is not None:
        return saved, "state file %s" % state_file
    if vips_file:
        return load_yaml(vips_file), "VIP file %s%s" % (vips_file, damaged)
    return VipSet(), "nothing (no VIP file configured)%s" % damaged


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
