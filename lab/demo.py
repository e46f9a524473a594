"""The README's demo: `python -m lab demo up|down|status`, and `fail|repair BALANCER` for the
cluster variant.

`up` builds the standard topology (lab/topology.py) on bridge br0 and starts the controller with
config/lbctl.conf plus a per-run override that points it at config/vips.yaml and a state file in
the workdir. `up --tenants` adds the tenant topology next to it (two VLANs with one address plan,
behind a trunk; the standard client is the provider client) and starts the controller with
config/tenants.yaml instead (docs/demo.md). `up --cluster` builds the cluster lab instead
(lab/cluster.py: balancers a and b, each its own Open vSwitch, on a Linux-bridge fabric with the
standard client and members) and starts the controller with config/cluster.yaml and the cluster
options (CLUSTER_OPTIONS: group 1 active on a, group 2 on b). `fail a` kills a's ovs-vswitchd (or
`--uplink`: cuts its uplink) and shows the groups move; `repair a` brings it back, as a standby.
A second `up` first removes the previous demo, whatever its variant; `down` removes everything
it made (the logs stay in the workdir for reading).
"""

import time
from pathlib import Path

from lab import dsr, topology
from lab.cluster import Cluster
from lab.base import REPO_ROOT
from lab.core import Lab, unavailable_reason
from lab.hosts import Host
from lab.lbctl import Controller, connect, served_by, wait_for
from lab.record import Record, netns_exists, remove_recorded, same_process
from lbctl_cli import cli

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
CLUSTER_FILE = REPO_ROOT / "config" / "cluster.yaml"
TENANT_A_MAC = "02:6c:00:00:10:01"   # the balancer's on tenant-a (network 1, redundancy group 1)
# What `up` shows: which host connects to which VIP (port 80), at which address.
TRAFFIC = (("client", "web", topology.DEMO_VIP),)
TENANT_TRAFFIC = TRAFFIC + (("a-client", "a-web", topology.TENANT_VIP),   # config/tenants.yaml's
                            ("b-client", "b-web", topology.TENANT_VIP),
                            ("client", "a-public", topology.PROVIDER_VIP))

# The cluster variant: two balancers, each VIP of config/cluster.yaml in a group of its own,
# group 1 active on a and group 2 on b (the groups not in group_order follow `balancers`).
CLUSTER_BALANCERS = ("a", "b")
CLUSTER_OPTIONS = {"balancers": "a=0000000000000001, b=0000000000000002",   # the lab's dpids
                   "group_order": "2=b a",
                   "uplinks": "a=50, b=50"}   # lab/cluster.py's UPLINK_OFPORT
CLUSTER_ACTIVE = {1: "a", 2: "b"}             # where the groups start
CLUSTER_DSR_VIP = "198.18.0.120"              # `direct`: members hold it on lo (lab/dsr.py)
CLUSTER_TRAFFIC = (("client", "web", topology.DEMO_VIP),
                   ("client", "direct", CLUSTER_DSR_VIP))
CLUSTER_TIMEOUT = 20.0   # seconds a takeover or a repair may take before `fail`/`repair` give up


def up(workdir=WORKDIR, controller=True, app=APP, tenants=False, cluster=False):
    workdir = Path(workdir).resolve()
    if tenants and cluster:
        raise SystemExit("--tenants and --cluster: one variant at a time")
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cannot start the demo: {reason}")
    if controller and not BASE_CONFIG.exists():
        raise SystemExit(f"{BASE_CONFIG} not found; use --no-controller to build the "
                         "switch and hosts only")
    if Record(workdir).path.exists():
        print(f"Removing the previous demo in {workdir}")
    if cluster:
        lab = Cluster(workdir, PREFIX, OF_PORT, CLUSTER_BALANCERS)
    else:
        lab = Lab(workdir, PREFIX, BRIDGE, OF_PORT, dpid=DPID)
    try:
        lab.start()   # removes what the previous demo in the workdir left, whatever its variant
        if cluster:
            build_cluster(lab)
        else:
            topology.build(lab, vlan=0 if tenants else None)   # 0: no tenant frame floods to them
        if tenants:
            topology.build_tenants(lab, provider_client=lab.hosts["client"])
        if controller:
            (workdir / "state.msgpack").unlink(missing_ok=True)  # each demo starts from its file
            if app == APP and cluster:
                lb = Controller(lab, REST_PORT, CLUSTER_FILE, base_config=BASE_CONFIG,
                                options=CLUSTER_OPTIONS).start(switches=len(CLUSTER_BALANCERS))
                wait_for(lambda: active_names(rest_api()) == CLUSTER_ACTIVE,
                         f"groups active as {CLUSTER_ACTIVE}")
                for _, vip, _ in CLUSTER_TRAFFIC:
                    wait_ready(lb, vip, switches=len(CLUSTER_BALANCERS))
                show_traffic(lab, CLUSTER_TRAFFIC)
                show_cluster(lab, rest_api())
            elif app == APP and tenants:
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
    if cluster:
        print_cluster_steps(lab, controller)
    else:
        print_next_steps(lab, controller, tenants)


def build_cluster(lab):
    """The standard client and members on the fabric, the members also serving config/cluster.
    yaml's dsr VIP (its address on their lo, lab/dsr.py)."""
    topology.build_fabric(lab)
    for member, _, _ in topology.MEMBERS:
        dsr.configure_member(lab, member, CLUSTER_DSR_VIP)


DEMO_CONNECTIONS = 12


def wait_ready(lb, name, switches=1):
    """Until every member of VIP `name` is found by each of `switches` switches (a cluster's
    balancers find members each by its own ARP probes) and up (probed healthy, where it has a
    monitor)."""
    def ready():
        vip = lb.call("GET", "/v1/vips/" + name)[1]
        return vip["members_up"] == len(vip["members"]) and \
            all(len(m["locations"]) >= switches for m in vip["members"])
    wait_for(ready, f"members of {name} up")


def show_traffic(lab, traffic=TRAFFIC, strict=True):
    """The main job, seen once: new connections from a client through each VIP, and who
    answered each (nginx says which member it is). `strict`: every one must be answered, or it
    raises; otherwise the line says what the others got."""
    for client, vip, address in traffic:
        seen = connect(lab, address, 80, DEMO_CONNECTIONS, host=client)
        if strict:
            served_by(seen)   # all answered, or it raises
        who = "the client" if client == "client" else client
        print(f"{DEMO_CONNECTIONS} new HTTP connections from {who} to VIP {vip} {address}:80, answered by "
              + answered(seen))
    print()


def answered(seen):
    """connect()'s result as the demo prints it: "m1 4, m2 3, m3 5", and what was not answered."""
    members = {key.split()[1]: n for key, n in seen.items() if key.startswith("200 ")}
    text = ", ".join(f"{member} {count}" for member, count in sorted(members.items())) or "none"
    failures = sorted((key, n) for key, n in seen.items() if not key.startswith("200 "))
    if failures:
        text += "; not answered: " + ", ".join(f"{n} ({key})" for key, n in failures)
    return text


def attachment(host, trunk_ofports):
    """Where a host meets the lbctl bridge: its OpenFlow port there, or the trunk its frames
    cross tagged (`trunk_ofports`: access bridge -> its trunk's OpenFlow port); in the cluster
    demo, its port of the fabric."""
    trunk = trunk_ofports.get(host.bridge)
    if trunk is not None:
        return f"VLAN {host.vlan}, tagged on trunk port {trunk}"
    if host.ofport is None:   # a cluster's host, on a port of the fabric bridge
        return f"fabric port {host.port_name}"
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


# -- the cluster variant ------------------------------------------------------------------------

def rest_api(port=REST_PORT):
    """The controller's REST API, as the `lbctl` command calls it."""
    return cli.Api(f"http://127.0.0.1:{port}")


def active_names(api):
    """{group: the name of the balancer it is active on, or None}."""
    return {group["group"]: group["active"] and group["active"]["name"]
            for group in api.get("/v1/cluster")["groups"]}


def healthy(api, name):
    return any(b["name"] == name and b["healthy"] for b in api.get("/v1/cluster")["balancers"])


def group_macs(api):
    """{group: the balancers' MAC for it} on the default network, the demo's one network."""
    return {int(group): mac for group, mac in api.get("/v1/networks/default")["macs"].items()}


def group_vips(api):
    """{group: names of its VIPs}."""
    vips = {}
    for vip in api.get("/v1/vips"):
        vips.setdefault(vip["redundancy_group"], []).append(vip["name"])
    return vips


def fabric_owner(lab, port):
    """Who is behind a port of the fabric: "balancer a", "client", ..."""
    for name, balancer in lab.balancers.items():
        if balancer.fabric_port == port:
            return f"balancer {name}"
    return next((host.name for host in lab.hosts.values() if host.port_name == port), "?")


def show_cluster(lab, api):
    """What `lbctl cluster` prints, then where the fabric sends each group's MAC."""
    print("$ .venv/bin/lbctl cluster")
    print(cli.cluster(api, None).text)
    fdb = lab.fabric_fdb()
    print(f"$ ip netns exec {lab.fabric_netns} bridge fdb show br fabric   # the groups' MACs")
    for group, mac in sorted(group_macs(api).items()):
        port = fdb.get(mac)
        where = f"port {port} ({fabric_owner(lab, port)})" if port else "not learned (no frame from it for 300 s)"
        print(f"group {group}: {mac} on {where}")
    print()


def attach_cluster(workdir):
    """The running cluster demo in workdir, and its controller's REST API."""
    record = Record(Path(workdir).resolve())
    if not record.path.exists():
        raise SystemExit(f"No demo recorded in {record.path.parent}")
    if "cluster" not in record.data:
        raise SystemExit(f"The demo in {record.path.parent} is not the cluster variant: "
                         "start that with `sudo ./demo.sh --cluster`")
    controller = record.data.get("controller")
    entry = record.data["processes"].get("controller")
    if not controller or not entry or not same_process(entry) or controller["app"] != APP:
        raise SystemExit(f"The cluster demo in {record.path.parent} runs no {APP}: "
                         "start it again with `sudo ./demo.sh --cluster`")
    lab = Cluster.attach(record.path.parent)
    return lab, rest_api(controller["wsapi_port"])


def balancer_of(lab, name):
    try:
        return lab.balancer(name)
    except ValueError as e:
        raise SystemExit(str(e)) from None


def show_cluster_traffic(lab, api):
    """show_traffic() through the VIPs whose group has an active balancer."""
    active = active_names(api)
    serving = {vip for group, vips in group_vips(api).items() if active.get(group) for vip in vips}
    for _, vip, address in CLUSTER_TRAFFIC:
        if vip not in serving:
            print(f"VIP {vip} {address}: no balancer is active for its group; nothing answers it")
    show_traffic(lab, [t for t in CLUSTER_TRAFFIC if t[1] in serving], strict=False)


def fail(workdir, name, uplink=False):
    """Fail balancer `name` of the running cluster demo: SIGKILL its ovs-vswitchd, or (`uplink`)
    cut its uplink; then show where its groups went, how fast, and traffic through the VIPs."""
    lab, api = attach_cluster(workdir)
    balancer = balancer_of(lab, name)
    if lab.vswitchd_pid(name) is None:
        raise SystemExit(f"Balancer {name} has failed already: its ovs-vswitchd is not running "
                         f"(`sudo ./demo.sh repair {name}`)")
    if lab.uplink_cut(name):
        raise SystemExit(f"Balancer {name} has failed already: its uplink is cut "
                         f"(`sudo ./demo.sh repair {name}`)")
    print("Before:")
    show_cluster(lab, api)
    macs, vips = group_macs(api), group_vips(api)
    moving = sorted(group for group, active in active_names(api).items() if active == name)
    if uplink:
        at = lab.cut_uplink(name)
        print(f"Cut {name}'s uplink: `ip -n {lab.fabric_netns} link set {balancer.fabric_port} down`, "
              f"as a pulled cable; {name}'s port {balancer.uplink_ofport} has lost its carrier.")
    else:
        pid = lab.vswitchd_pid(name)
        at = lab.kill_switch(name)
        print(f"Killed {name}'s ovs-vswitchd (pid {pid}) with SIGKILL, as a crash: its OpenFlow "
              "connection closed.")
    moved, learned = watch_takeover(lab, api, name, moving, macs, at)
    active = active_names(api)
    if not moving:
        print(f"{name} was active for no group (it stood by for all): no group moves.")
    for group in moving:
        what = f"Group {group} (VIP {', '.join(vips.get(group, [])) or 'none'})"
        new = active[group]
        if new is None:
            print(f"{what}: no healthy balancer is left to take it over; its addresses do not answer.")
            continue
        print(f"{what}: active on {new} {seconds(moved[group])} after; the fabric learned "
              f"{macs[group]} on {lab.balancer(new).fabric_port} {seconds(learned[group])} after, "
              f"from {new}'s gratuitous ARP.")
    print()
    print("After:")
    show_cluster(lab, api)
    show_cluster_traffic(lab, api)
    orphans = any(where is None for where in active.values())
    print(f"Bring it back: sudo ./demo.sh repair {name}   # "
          + ("it takes over the groups no balancer is active for" if orphans
             else "as a standby: no group moves back (preempt = false)"))


def watch_takeover(lab, api, name, groups, macs, at):
    """Until balancer `name` is unhealthy and each of `groups` (it was active for them) is active
    elsewhere, with the fabric sending the group's MAC (`macs`) there, or has no balancer left.
    Returns ({group: seconds from `at` until it was active elsewhere}, {group: ... until the
    fabric learned its MAC there})."""
    moved, learned = {}, {}

    def settled():
        active = active_names(api)
        fdb = lab.fabric_fdb()
        now = time.monotonic() - at
        for group in groups:
            new = active.get(group)
            if new and new != name:
                moved.setdefault(group, now)
                if fdb.get(macs[group]) == lab.balancer(new).fabric_port:
                    learned.setdefault(group, now)
        return not healthy(api, name) and all(
            group in learned or (group not in moved and active.get(group) is None) for group in groups)
    try:
        wait_for(settled, f"the groups of {name} moved", timeout=CLUSTER_TIMEOUT)
    except AssertionError as e:
        raise SystemExit(f"{e}; the controller's log: {lab.workdir / 'controller.log'}") from None
    return moved, learned


def repair(workdir, name):
    """Undo fail(): start balancer `name`'s ovs-vswitchd again, restore its uplink. It takes
    over the groups no balancer is active for and stands by for the others."""
    lab, api = attach_cluster(workdir)
    balancer = balancer_of(lab, name)
    killed, cut = lab.vswitchd_pid(name) is None, lab.uplink_cut(name)
    if not killed and not cut:
        print(f"Balancer {name} has not failed: its ovs-vswitchd runs and its uplink is up.")
        return
    at = time.monotonic()
    if killed:
        lab.restart_switch(name)
        print(f"Started {name}'s ovs-vswitchd again (pid {lab.vswitchd_pid(name)}): bridge "
              f"{balancer.bridge} and its port {balancer.uplink_ofport} come back from its database, "
              "without flows, and it connects to the controller.")
    if cut:
        lab.restore_uplink(name)
        print(f"Restored {name}'s uplink: `ip -n {lab.fabric_netns} link set {balancer.fabric_port} up`.")
    try:
        wait_for(lambda: healthy(api, name), f"{name} healthy", timeout=CLUSTER_TIMEOUT)
        # Ready to take over: its flows place every member (GET /v1/vips: locations per switch).
        wait_for(lambda: all(any(place["dpid"] == balancer.dpid for place in member["locations"])
                             for vip in api.get("/v1/vips") for member in vip["members"]),
                 f"the members located on {name}", timeout=CLUSTER_TIMEOUT)
    except AssertionError as e:
        raise SystemExit(f"{e}; the controller's log: {lab.workdir / 'controller.log'}") from None
    how = ("the controller has adopted it and installed its flows" if killed
           else f"the controller saw its port {balancer.uplink_ofport} come up (a port status)")
    print(f"{name} is healthy again {seconds(time.monotonic() - at)} after: {how}.")
    active = active_names(api)
    took = [group for group, where in sorted(active.items()) if where == name]
    stands_by = [group for group, where in sorted(active.items()) if where != name]
    if took:
        print(f"It took over {groups_text(took)}: no balancer was active for "
              f"{'them' if len(took) > 1 else 'it'}.")
    if stands_by:
        print(f"It stands by for {groups_text(stands_by)}: a group stays where it is "
              "(preempt = false).")
    print()
    show_cluster(lab, api)
    show_cluster_traffic(lab, api)


def groups_text(groups):
    """[1] -> "group 1", [1, 2, 3] -> "groups 1, 2 and 3"."""
    if len(groups) == 1:
        return f"group {groups[0]}"
    return "groups " + ", ".join(map(str, groups[:-1])) + f" and {groups[-1]}"


def seconds(duration):
    """A duration as `fail` and `repair` print it: to a hundredth, as polled."""
    return "< 0.01 s" if duration < 0.01 else f"{duration:.2f} s"


def print_cluster_steps(lab, controller):
    """The cluster demo's summary and its lines of "Try:" (docs/demo.md walks through them)."""
    names = " and ".join(lab.balancers)
    print(f"Cluster demo is up in {lab.workdir} (balancers {names}, fabric in netns {lab.fabric_netns}):")
    for line in balancer_lines(lab.balancers.values()):
        print(f"  {line}")
    for line in host_lines(lab.hosts.values(), {}):
        print(f"  {line}")
    print()
    if not controller:
        print(f"No controller: the switches are fail_mode=secure and hold no flows, so nothing "
              f"passes until a controller listens on 127.0.0.1:{lab.of_port}.")
    print("Try:")
    print(f"  ip netns exec {PREFIX}-client curl -s http://{topology.DEMO_VIP}/   "
          "# web, one-arm, group 1: through a")
    print(f"  ip netns exec {PREFIX}-client curl -s http://{CLUSTER_DSR_VIP}/   "
          "# direct, dsr, group 2: through b")
    print(f"  ip netns exec {PREFIX}-client arping -c1 -I eth0 {topology.DEMO_VIP}   "
          "# answered by group 1's MAC, from a alone")
    print(f"  ip netns exec {lab.fabric_netns} bridge fdb show br fabric | grep 02:6c   "
          "# where the fabric sends each group's MAC")
    if controller:
        print("  .venv/bin/lbctl cluster          # or: curl -s localhost:8080/v1/cluster")
        print("  sudo ./demo.sh fail a            # kill a's ovs-vswitchd: group 1 moves to b")
        print("  sudo ./demo.sh repair a          # a comes back, as a standby")
        print("  sudo ./demo.sh fail b --uplink   # then cut b's uplink: both groups move to a")
    a, b = lab.balancers.values()
    print(f"  OVS_RUNDIR={a.rundir} ovs-ofctl -O OpenFlow13 dump-flows {a.bridge}   "
          "# each balancer has its own Open vSwitch")
    if controller:
        print(f"  OVS_RUNDIR={b.rundir} ovs-ofctl -O OpenFlow13 dump-flows {b.bridge} table=9   "
              "# b stands by for group 1: no ARP or ping answered for it")
    print(f"  cat config/{CLUSTER_FILE.name}; cat {lab.workdir}/lbctl.conf   # the VIPs; the cluster options")
    print("  ./demo.sh status")
    print("  ./demo.sh down")


def balancer_lines(balancers, name_width=7):
    """One line per balancer: name, dpid, namespace, bridge, where its uplink meets the fabric."""
    return [f"{b.name:{name_width}} dpid {b.dpid}  netns {b.netns}  bridge {b.bridge}, port "
            f"{b.uplink_ofport} to fabric port {b.fabric_port}" for b in balancers]


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
    if "cluster" in record.data:
        all_up = cluster_status(record)
    else:
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


def cluster_status(record):
    """The cluster demo's first lines of `status`: the fabric and each balancer, its
    ovs-vswitchd and its uplink. True if all are up."""
    info = record.data["cluster"]
    fabric = netns_exists(info["fabric_netns"])
    print(f"workdir {record.path.parent}: cluster, prefix {info['prefix']}, balancers "
          f"{', '.join(info['balancers'])}, OpenFlow 127.0.0.1:{info['of_port']}, fabric in netns "
          f"{info['fabric_netns']} {'present' if fabric else 'GONE'}")
    lab = Cluster.attach(record.path.parent)
    all_up = fabric
    for line, balancer in zip(balancer_lines(lab.balancers.values(), 1), lab.balancers.values()):
        running = lab.vswitchd_pid(balancer.name) is not None
        cut = fabric and lab.uplink_cut(balancer.name)
        all_up &= running and fabric and not cut and netns_exists(balancer.netns)
        print(f"  balancer {line}: ovs-vswitchd {'running' if running else 'NOT RUNNING'}, uplink "
              f"{'CUT' if cut else 'up' if fabric else '?'}"
              + ("" if running and not cut else f" (`sudo ./demo.sh repair {balancer.name}`)"))
    return all_up
