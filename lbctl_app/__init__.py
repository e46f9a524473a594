"""lbctl: L4 load balancing in Open vSwitch tables, run as `ryu-manager lbctl_app`.

ryu-manager loads the RyuApp classes *defined in* the module it is given, so the app class is
declared here (a subclass of the shell in `lbctl_app.app`, which holds the code).
"""
import warnings

# Importing Ryu imports eventlet, which warns that it is deprecated (Ryu needs it; see README).
# The `lbctl` command imports this package too, and its errors must stay one line.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    from lbctl_app.app import LoadBalancerApp as _Shell


class LoadBalancer(_Shell):
    """The lbctl application: VIPs from REST/YAML, steered into Open vSwitch."""
