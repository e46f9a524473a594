"""The README's demo: `python -m lab demo up|down|status`.

`up` builds the standard topology (lab/topology.py) on bridge br0 and starts the controller with
config/lbctl.conf plus a per-run override that points it at config/vips.yaml and a state file in
the workdir. A second `up` first removes the previous demo; `down` removes everything it made
(the logs stay in the workdir for reading).
"""

from pathlib import Path

from lab import topology
from lab.core import REPO_ROOT, Lab, unavailable_reason
from lab.lbctl import Controller, connect, served_by
from lab.record import Record, netns_exists, remove_recorded, same_process

WORKDIR = Path("/var/tmp/lbctl-demo")
PREFIX = "lbd"
BRIDGE = "br0"
OF_PORT = 6653
REST_PORT = 8080
DPID = "0000000000000001"
APP = "lbctl_app"
BASE_CONFIG = REPO_ROOT / "config" / "lbctl.conf"
VIPS_FILE = REPO_ROOT / "config" / "vips.yaml"


def up(workdir=WORKDIR, controller=True, app=APP):
    workdir = Path(workdir).resolve()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cannot start the demo: {reason}")
    if controller and not BASE_CONFIG.exists():
        raise SystemExit(f"{BASE_CONFIG} not found; use --no-controller to build the "
                         "switch and hosts only")
    if Record(workdir).path.exists():
        print(f"Removing the previous demo in {workdir}")
    lab = Lab(workdir, PREFIX, BRIDGE, OF_PORT, dpid=DPID)
    try:
        lab.start()
        topology.build(lab)
        if controller:
            (workdir / "state.msgpack").unlink(missing_ok=True)  # each demo starts from vips.yaml
            if app == APP:
                Controller(lab, REST_PORT, VIPS_FILE, base_config=BASE_CONFIG).start() \
                    .wait_resolved("web")   # so the first curl is already balanced
                show_traffic(lab)
            else:
                lab.start_controller([BASE_CONFIG], REST_PORT, app=app)
    except BaseException:
        lab.stop()
        print(f"Demo not started; logs are in {workdir}")
        raise
    print_next_steps(lab, controller)


DEMO_CONNECTIONS = 12


def show_traffic(lab):
    """The main job, seen once: new connections from the client through the VIP, and who
    answered each (nginx says which member it is)."""
    members = served_by(connect(lab, topology.DEMO_VIP, 80, DEMO_CONNECTIONS))   # all answered, or it raises
    print(f"{DEMO_CONNECTIONS} new HTTP connections from the client to VIP web {topology.DEMO_VIP}:80, answered by "
          + ", ".join(f"{member} {count}" for member, count in sorted(members.items())))
    print()


def print_next_steps(lab, controller):
    env = f"OVS_RUNDIR={lab.workdir}"
    print(f"Demo is up in {lab.workdir} (switch {lab.bridge}, dpid {lab.dpid}):")
    for host in lab.hosts.values():
        print(f"  {host.name:7} {host.ip:13} {host.mac}  netns {host.netns:11} "
              f"OpenFlow port {host.ofport}")
    print()
    if not controller:
        print(f"No controller: the switch is fail_mode=secure and holds no flows, so nothing "
              f"passes until a controller listens on 127.0.0.1:{lab.of_port}.")
    print("Try:")
    print(f"  ip netns exec {PREFIX}-client curl -s http://{topology.DEMO_VIP}/   "
          "# a few times: m1, m2, m3 answer")
    print(f"  {env} ovs-ofctl -O OpenFlow13 dump-flows {lab.bridge}")
    print(f"  {env} ovs-ofctl -O OpenFlow13 dump-groups {lab.bridge}")
    if controller:
        print(f"  {env} ovs-ofctl -O OpenFlow13 dump-flows {lab.bridge} "
              "cookie=0x100000000/0xffffffff00000000   # VIP 1 (web) only")
    if controller:
        print(f"  curl -s localhost:{REST_PORT}/v1/vips")
        print("  .venv/bin/lbctl vip show web; .venv/bin/lbctl stats; .venv/bin/lbctl flows --vip web")
        print(f"  curl -s localhost:{REST_PORT}/metrics")
    print(f"  cat {lab.workdir}/m1-access.log    # client addresses m1 saw")
    print("  ./demo.sh status")
    print("  ./demo.sh down")


def down(workdir=WORKDIR):
    workdir = Path(workdir).resolve()
    if not Record(workdir).path.exists():
        print(f"No demo recorded in {workdir}")
        return
    for thing in remove_recorded(workdir):
        print(f"  removed {thing}")
    print(f"Demo in {workdir} removed (logs kept there)")


def status(workdir=WORKDIR):
    """Print whether the recorded daemons are alive and which hosts exist; 0 if all are up."""
    record = Record(Path(workdir).resolve())
    if not record.path.exists():
        print(f"No demo recorded in {record.path.parent}")
        return 1
    info = record.data["lab"]
    print(f"workdir {record.path.parent}: prefix {info.get('prefix')}, bridge "
          f"{info.get('bridge')}, dpid {info.get('dpid')}, OpenFlow 127.0.0.1:{info.get('of_port')}")
    all_up = True
    for key, entry in sorted(record.data["processes"].items()):
        alive = same_process(entry)
        all_up &= alive
        state = "alive" if alive else "GONE"
        print(f"  {key:14} pid {entry['pid']:<7} {state}  ({entry['what']})")
    controller = record.data.get("controller")
    if controller:
        print(f"  controller app {controller['app']}, REST 127.0.0.1:{controller['wsapi_port']}, "
              f"log {controller['log_file']}")
    for name, host in record.data["hosts"].items():
        present = netns_exists(host["netns"])
        all_up &= present
        print(f"  host {name:7} {host['ip']:13} {host['mac']}  netns {host['netns']:11} "
              f"port {host['ofport']}  {'present' if present else 'GONE'}")
    return 0 if all_up else 1
