"""lbctl's core: the configuration (model, store), what the controller knows of hosts and of its
members' health, its counters, the packets it writes, and the balancer itself (lbctl.core). No
Ryu and no event loop here: the Ryu shell (lbctl_app) feeds events in and sends what comes out."""
