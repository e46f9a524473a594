"""The record file of a lab run, and removing exactly what it lists.

Every process, network namespace and socket file a Lab creates is written to
`<workdir>/lab.json` *before* it is created, so that `remove_recorded(workdir)` -- from the
same process, or from a later one after a crash -- removes exactly those and nothing else.
Processes are recorded as (pid, start time): a pid that was reused by an unrelated process
after a reboot or a long gap has another start time and is left alone.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

RECORD_NAME = "lab.json"


def proc_start_time(pid):
    """The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie has finished; only its parent's wait() is missing
        return None
    return int(fields[19])


def same_process(entry):
    """True if the recorded {"pid", "start"} still names a running process."""
    start = proc_start_time(entry["pid"])
    return start is not None and start == entry["start"]


def process_entry(pid, what):
    return {"pid": pid, "start": proc_start_time(pid), "what": what}


def terminate(entry, grace=5.0, kill=False):
    """SIGTERM the recorded process, then SIGKILL it if it is still there after `grace` seconds
    (`kill`: SIGKILL at once, as `kill -9` would)."""
    if not same_process(entry):
        return
    for sig, wait in ((signal.SIGKILL, 2.0),) if kill else ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        try:
            os.kill(entry["pid"], sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not same_process(entry):
                return
            time.sleep(0.05)


def netns_exists(name):
    return Path("/run/netns", name).exists()


def kill_netns_processes(name):
    """SIGKILL every process still inside our namespace `name` (stray curl, ab, nginx workers)."""
    if not netns_exists(name):
        return
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    for pid in (int(p) for p in out.split()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
        if not out.split():
            return
        time.sleep(0.05)


class Record:
    """What one lab run has created, kept in `<workdir>/lab.json`."""

    def __init__(self, workdir):
        self.path = Path(workdir) / RECORD_NAME
        self.data = {"processes": {}, "netns": [], "files": [], "hosts": {},
                     "access_bridges": {}, "lab": {}}
        if self.path.exists():
            self.data.update(json.loads(self.path.read_text()))

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def add_process(self, key, pid, what):
        self.data["processes"][key] = process_entry(pid, what)
        self.save()

    def drop_process(self, key):
        self.data["processes"].pop(key, None)
        self.save()

    def add_netns(self, name):
        if name not in self.data["netns"]:
            self.data["netns"].append(name)
            self.save()

    def add_file(self, path):
        if str(path) not in self.data["files"]:
            self.data["files"].append(str(path))
            self.save()


# Stop order: the controller first (so it sees the switch go rather than the other way round),
# then the servers, OVN's daemons if any (lab/ovn.py), then the switch, then its database.
STOP_ORDER = ("controller", "nginx-", "ovn-", "ofrelay", "ovs-vswitchd", "ovsdb-server")


def _stop_rank(key):
    for rank, start in enumerate(STOP_ORDER):
        if key.startswith(start):
            return rank
    return len(STOP_ORDER)


def remove_recorded(workdir):
    """Remove everything the record in `workdir` lists; idempotent. Returns what it removed."""
    record = Record(workdir)
    if not record.path.exists():
        return []
    removed = []
    for key in sorted(record.data["processes"], key=_stop_rank):
        entry = record.data["processes"][key]
        if same_process(entry):
            terminate(entry)
            removed.append(f"process {key} (pid {entry['pid']})")
        record.drop_process(key)
    for name in list(record.data["netns"]):
        if netns_exists(name):
            kill_netns_processes(name)
            # Deleting the namespace also deletes the veths and the switch's tap devices inside it.
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            removed.append(f"netns {name}")
        record.data["netns"].remove(name)
        record.save()
    for path in record.data["files"]:
        Path(path).unlink(missing_ok=True)
    record.path.unlink()
    return removed
