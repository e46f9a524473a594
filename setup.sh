#!/usr/bin/env bash
# Installs what lbctl needs on Debian 12, idempotently: Debian packages (Open vSwitch and the tools
# the demo, tests and benchmarks use) and a venv in .venv with ryu 4.34, a current eventlet and lbctl.
# Run as root. Prints nothing but progress lines; safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (Open vSwitch, network namespaces and apt need it)" >&2
  exit 1
fi

DEBS="openvswitch-switch iproute2 ethtool iputils-arping iputils-ping nginx-light apache2-utils wrk curl procps"
missing=""
for deb in $DEBS; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "ok installed" || missing="$missing $deb"
done
if [ -n "$missing" ]; then
  echo "setup.sh: installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup.sh: creating .venv"
  if ! python3 -m venv .venv 2>/dev/null; then
    rm -rf .venv
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  fi
fi
pip() {   # quiet, but a failure still fails (pipefail); drops one harmless warning of local pip configs
  .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }
}
# ryu's own build hook calls an API removed in setuptools 68: build it, without isolation, with an
# older setuptools in the venv.
if ! .venv/bin/python -c "import ryu" 2>/dev/null; then
  echo "setup.sh: installing Python packages into .venv"
  pip install "setuptools<68" wheel pbr
fi
pip install --no-build-isolation -r requirements.txt   # quick when nothing is missing
# Always reinstall lbctl itself, so ryu-manager runs the code of this checkout.
pip install --no-deps --no-build-isolation --force-reinstall .
rm -rf build lbctl.egg-info
.venv/bin/python -c "import ryu, lbctl_ryu_compat" || { echo "setup.sh: install failed" >&2; exit 1; }
echo "setup.sh: ready ($(.venv/bin/python --version), ryu $(.venv/bin/python -c 'import ryu; print(ryu.version)' 2>/dev/null))"
