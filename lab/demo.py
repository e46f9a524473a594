"""The README's demo: `python -m lab demo up|down|status`.

`up` builds the standard topology (lab/topology.py) on bridge br0 and starts the controller with
config/lbctl.conf plus a per-run override that points it at config/vips.yaml and a state file in
the workdir. `up --tenants` adds the tenant topology next to it (two VLANs with one address plan,
behind a trunk; the standard client is the provider client) and starts the controller with
config/tenants.yaml instead (docs/demo.md). A second `up` first removes the previous demo; `down`
removes everything it made (the logs stay in the workdir for reading).
"""

from pathlib import Path

from lab import topology
from lab.base import REPO_ROOT
from lab.core import Lab, unavailable_reason
from lab.hosts import Host
from lab.lbctl import Controller, connect, served_by, wait_for
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
TENANTS_FILE = REPO_ROOT / "config" / "tenants.yaml"
TENANT_A_MAC = "02:6c:00:00:10:01"   # the balancer's on tenant-a (network 1, redundancy group 1)
# What `up` shows: which host connects to which VIP (port 80), at which address.
TRAFFIC = (("client", "web", topology.DEMO_VIP),)
TENANT_TRAFFIC = TRAFFIC + (("a-client", "a-web", topology.TENANT_VIP),   # config/tenants.yaml's
                            ("b-client", "b-web", topology.TENANT_VIP),
                            ("client", "a-public", topology.PROVIDER_VIP))


def up(workdir=WORKDIR, controller=True, app=APP, tenants=False):
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
        topology.build(lab, vlan=0 if tenants else None)   # 0: no tenant frame floods to them
        if tenants:
            topology.build_tenants(lab, provider_client=lab.hosts["client"])
        if controller:
            (workdir / "state.msgpack").unlink(missing_ok=True)  # each demo starts from its file
            if app == APP and tenants:
                lb = Controller(lab, REST_PORT, TENANTS_FILE, base_config=BASE_CONFIG).start()
                for _, vip, _ in TENANT_TRAFFIC:
                    wait_ready(lb, vip)
                show_traffic(lab, TENANT_TRAFFIC)
            elif app == APP:
                Controller(lab, REST_PORT, VIPS_FILE, base_config=BASE_CONFIG).start() \
                    .wait_resolved("web")   # so the first curl is already balanced
                show_traffic(lab)
            else:
                lab.start_controller([BASE_CONFIG], REST_PORT, app=app)
    except BaseException:
        lab.stop()
        print(f"Demo not started; logs are in {workdir}")
        raise
    print_next_steps(lab, controller, tenants)


DEMO_CONNECTIONS = 12


def wait_ready(lb, name):
    """Until every member of VIP `name` is found and up (probed healthy, where it has a monitor)."""
    def ready():
        vip = lb.call("GET", "/v1/vips/" + name)[1]
        return vip["members_up"] == len(vip["members"]) and all(m["locations"] for m in vip["members"])
    wait_for(ready, f"members of {name} up")


def show_traffic(lab, traffic=TRAFFIC):
    """The main job, seen once: new connections from a client through each VIP, and who
    answered each (nginx says which member it is)."""
    for client, vip, address in traffic:
        members = served_by(connect(lab, address, 80, DEMO_CONNECTIONS, host=client))   # all answered, or it raises
        who = "the client" if client == "client" else client
        print(f"{DEMO_CONNECTIONS} new HTTP connections from {who} to VIP {vip} {address}:80, answered by "
              + ", ".join(f"{member} {count}" for member, count in sorted(members.items())))
    print()


def attachment(host, trunk_ofports):
    """Where a host meets the lbctl bridge: its OpenFlow port there, or the trunk its frames
    cross tagged (`trunk_ofports`: access bridge -> its trunk's OpenFlow port)."""
    trunk = trunk_ofports.get(host.bridge)
    if trunk is not None:
        return f"VLAN {host.vlan}, tagged on trunk port {trunk}"
    if host.vlan:
        return f"OpenFlow port {host.ofport}, VLAN {host.vlan} untagged"
    return f"OpenFlow port {host.ofport}"


def host_lines(hosts, trunk_ofports):
    """One line per host, in columns: name, address, MAC, namespace, where it is attached."""
    hosts = list(hosts)
    name_width = max([7, *(len(host.name) for host in hosts)])
    netns_width = max([11, *(len(host.netns) for host in hosts)])
    return [f"{host.name:{name_width}} {host.ip:13} {host.mac}  netns {host.netns:{netns_width}} "
            f"{attachment(host, trunk_ofports)}" for host in hosts]


def print_next_steps(lab, controller, tenants=False):
    env = f"OVS_RUNDIR={lab.workdir}"
    trunks = {bridge: access.trunk_ofport for bridge, access in lab.access_bridges.items()}
    print(f"Demo is up in {lab.workdir} (switch {lab.bridge}, dpid {lab.dpid}):")
    for line in host_lines(lab.hosts.values(), trunks):
        print(f"  {line}")
    print()
    if not controller:
        print(f"No controller: the switch is fail_mode=secure and holds no flows, so nothing "
              f"passes until a controller listens on 127.0.0.1:{lab.of_port}.")
    print("Try:")
    if tenants:
        print_tenant_steps(lab, controller)
        print("And as in the standard demo:")
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


def print_tenant_steps(lab, controller):
    """The tenant demo's own lines of "Try:" (docs/demo.md walks through them)."""
    env = f"OVS_RUNDIR={lab.workdir}"
    address = topology.TENANT_VIP
    print(f"  ip netns exec {PREFIX}-a-client curl -s http://{address}/   # a-m1, a-m2, a-m3: tenant A's")
    print(f"  ip netns exec {PREFIX}-b-client curl -s http://{address}/   # the same address: b-m1, b-m2, b-m3")
    print(f"  ip netns exec {PREFIX}-client curl -s http://{topology.PROVIDER_VIP}/   "
          "# a-public, on the provider network: a-m1, a-m2")
    if controller:
        print("  .venv/bin/lbctl network list    # default, tenant-a, tenant-b: VLAN, gateways, MACs")
        print(f"  curl -s 'localhost:{REST_PORT}/v1/hosts/10.0.0.11?network=tenant-b'   "
              "# b-m1; tenant-a's 10.0.0.11 is another host")
    print(f"  {env} ovs-ofctl -O OpenFlow13 dump-flows {lab.bridge} table=0   "
          "# ingress: dl_vlan=101, 102 popped; access ports 21, 22")
    (access,) = lab.access_bridges.values()
    print(f"  ovs-appctl -t {lab.workdir}/ovs-vswitchd.ctl ofproto/trace {access.bridge} "
          f"in_port={lab.hosts['a-client'].ofport},tcp,dl_dst={TENANT_A_MAC},nw_dst={address},tp_dst=80   "
          "# a-client's SYN crosses the trunk tagged 101")
    print(f"  cat config/{TENANTS_FILE.name}")


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
    trunks = {bridge: access["trunk_ofport"] for bridge, access in record.data["access_bridges"].items()}
    hosts = [Host(**host) for host in record.data["hosts"].values()]
    for host, line in zip(hosts, host_lines(hosts, trunks)):
        present = netns_exists(host.netns)
        all_up &= present
        print(f"  host {line}  {'present' if present else 'GONE'}")
    return 0 if all_up else 1
