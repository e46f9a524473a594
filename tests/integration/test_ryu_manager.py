"""The stock ryu 4.34 `ryu-manager` starts lbctl_app on Python 3.11 with a current eventlet, as
installed by setup.sh: no switch needed, only the process and its REST API."""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


from lab import free_tcp_port

RYU_MANAGER = Path(sys.executable).parent / "ryu-manager"


def test_eventlet_lacks_the_name_ryu_imports_and_the_compat_hook_supplies_it():
    import eventlet.wsgi  # noqa: F401  (binds eventlet)
    assert tuple(int(x) for x in eventlet.__version__.split(".")[:2]) >= (0, 35)
    fresh = subprocess.run([sys.executable, "-c", "import ryu.app.wsgi, eventlet.wsgi as w; print(repr(w.ALREADY_HANDLED))"],
                           capture_output=True, text=True, cwd="/")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == "()"
    without = subprocess.run([sys.executable, "-S", "-c", "import sys; sys.path[:0] = %r; import ryu.app.wsgi" % sys.path],
                             capture_output=True, text=True, cwd="/")
    assert "ALREADY_HANDLED" in without.stderr, "without the .pth (python -S) ryu.app.wsgi fails as documented"


def start(tmp_path, rest):
    config = tmp_path / "lbctl.conf"
    config.write_text("[lbctl]\nvips_file = %s\nstate_file = %s\n"
                      % (Path(__file__).parents[2] / "config" / "vips.yaml", tmp_path / "state.msgpack"))
    return subprocess.Popen([str(RYU_MANAGER), "--config-file", str(config), "--ofp-listen-host", "127.0.0.1",
                             "--ofp-tcp-listen-port", str(free_tcp_port()), "--wsapi-host", "127.0.0.1",
                             "--wsapi-port", str(rest), "lbctl_app"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_stock_ryu_manager_serves_the_lbctl_rest_api_and_owns_its_state_file(tmp_path):
    rest = free_tcp_port()
    proc = start(tmp_path, rest)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/v1/vips" % rest, timeout=2) as reply:
                    vips = json.load(reply)
                break
            except OSError:
                assert time.monotonic() < deadline, "REST API not up within 20 s"
                time.sleep(0.2)
        assert [v["name"] for v in vips] == ["web"]
        second = start(tmp_path, free_tcp_port())   # the same state file
        try:
            out, _ = second.communicate(timeout=30)
        finally:
            second.kill()
        assert second.returncode != 0
        assert b"is in use by another controller (pid %d)" % proc.pid in out
    finally:
        proc.terminate()
        proc.wait(timeout=10)
