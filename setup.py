"""lbctl: L4 load balancing in Open vSwitch tables, steered by a Ryu application."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "lbctl_ryu_compat.pth"


class BuildWithPth(build_py):
    """Also put lbctl_ryu_compat.pth at the top of site-packages (see lbctl_ryu_compat.py)."""

    def run(self):
        super().run()
        self.copy_file(PTH, os.path.join(self.build_lib, PTH))


setup(
    name="lbctl",
    version="0.1.0",
    description="L4 load balancing in Open vSwitch tables, steered by a Ryu OpenFlow application",
    packages=["flows", "lbctl", "lbctl.core", "lbctl_app", "lbctl_cli"],
    py_modules=["lbctl_ryu_compat"],
    python_requires=">=3.11,<3.12",
    install_requires=[
        "ryu==4.34",           # needs setuptools<68 to build: see setup.sh
        "eventlet>=0.35.2",    # 0.33.x breaks DNS with dnspython >= 2.6
        "netaddr", "webob", "msgpack", "pyyaml",
        "prometheus_client",   # /metrics in the text exposition format
    ],
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": ["lbctl = lbctl_cli.cli:main"]},
    cmdclass={"build_py": BuildWithPth},
)
