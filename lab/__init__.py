"""lab: the test harness of lbctl -- a private Open vSwitch (userspace datapath), hosts in
network namespaces, nginx members and a Ryu controller, for the demo, the integration tests and
the benchmarks. Standard library only.

    lab = Lab(workdir, prefix="lt1a2b", bridge="lt1a2bbr", of_port=free_tcp_port()).start()
    topology.build(lab)             # client + members m1..m3 serving HTTP on 80 and 8080
    # or topology.build_tenants(lab): two tenant VLANs with one address plan, behind a trunk
    lab.ofctl("add-flow", "priority=0,actions=NORMAL")
    lab.run("client", ["curl", "-s", "http://198.18.0.11:8080/"]).stdout   # "m1\\n"
    lab.stop()

Several balancer switches on one L2 fabric, one controller port (lab/cluster.py):

    cluster = Cluster(workdir, prefix="lc1a2b", of_port=free_tcp_port(), balancers=("a", "b"))
    cluster.start(); topology.build_fabric(cluster)
    cluster.ofctl("a", "add-flow", "priority=0,actions=NORMAL")
    cluster.kill_switch("a"); cluster.cut_uplink("b"); cluster.fabric_fdb()
    cluster.stop()
"""

from lab.cluster import Cluster
from lab.cmd import CommandFailed
from lab.core import Lab, free_tcp_port, unavailable_reason
from lab.hosts import Host

__all__ = ["CommandFailed", "Cluster", "Host", "Lab", "free_tcp_port", "unavailable_reason"]
