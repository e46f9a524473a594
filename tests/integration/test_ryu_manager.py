"""The stock ryu 4.34 `ryu-manager` starts lbctl_app on Python 3.11 with a current eventlet, as
installed by setup.sh: no switch needed, only the process and its REST API, which idle and slow
clients cannot freeze. It runs the checkout's code (the repo root first on PYTHONPATH), not the
copy setup.sh installed, both as started here and as the lab starts it."""
import http.client
import json
import os
import re
import resource
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


from lab import free_tcp_port
from lab.lbctl import wait_for
from lbctl_app import httpd

RYU_MANAGER = Path(sys.executable).parent / "ryu-manager"
REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))

# A Ryu app loaded after lbctl_app: it says where the modules the controller runs came from.
WHERE_APP = """
import sys
from ryu.base import app_manager

class Where(app_manager.RyuApp):
    def start(self):
        names = ("lbctl_app", "lbctl", "lbctl.core", "flows", "lbctl_ryu_compat")
        print("modules from: " + " ".join("%s=%s" % (name, sys.modules[name].__file__) for name in names), flush=True)
        return super().start()
"""
CHECKOUT_MODULES = {name: str(REPO_ROOT / path) for name, path in (
    ("lbctl_app", "lbctl_app/__init__.py"), ("lbctl", "lbctl/__init__.py"), ("lbctl.core", "lbctl/core/__init__.py"),
    ("flows", "flows/__init__.py"), ("lbctl_ryu_compat", "lbctl_ryu_compat.py"))}


def modules_from(log):
    """The module files the WHERE_APP line in `log` names, or None before it is written."""
    found = re.search(r"^modules from: (.*)$", log.read_text(errors="replace"), re.M)
    return dict(entry.split("=", 1) for entry in found[1].split()) if found else None


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


def write_config(tmp_path):
    config = tmp_path / "lbctl.conf"
    config.write_text("[lbctl]\nvips_file = %s\nstate_file = %s\n"
                      % (REPO_ROOT / "config" / "vips.yaml", tmp_path / "state.msgpack"))
    return config


def start(tmp_path, rest, output=subprocess.PIPE, apps=("lbctl_app",)):
    """ryu-manager with `apps`, running the checkout's code."""
    return subprocess.Popen([str(RYU_MANAGER), "--config-file", str(write_config(tmp_path)), "--ofp-listen-host",
                             "127.0.0.1", "--ofp-tcp-listen-port", str(free_tcp_port()), "--wsapi-host", "127.0.0.1",
                             "--wsapi-port", str(rest), *apps],
                            cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT, env=CHECKOUT_ENV)


def test_ryu_manager_runs_the_checkouts_code_not_the_installed_copy(tmp_path):
    where = tmp_path / "where_app.py"
    where.write_text(WHERE_APP)
    rest, log = free_tcp_port(), tmp_path / "controller.log"
    with open(log, "wb") as output:
        proc = start(tmp_path, rest, output, apps=("lbctl_app", str(where)))
    try:
        assert [v["name"] for v in first_vips(proc, rest)] == ["web"]
        wait_for(lambda: modules_from(log), "the where app's line", timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert modules_from(log) == CHECKOUT_MODULES


def test_the_labs_controller_runs_the_checkouts_code(make_lab):
    lab = make_lab().start()
    where = lab.workdir / "where_app.py"
    where.write_text(WHERE_APP)
    lab.start_controller(write_config(lab.workdir), free_tcp_port(), extra_args=[where])
    try:
        wait_for(lambda: modules_from(lab.workdir / "controller.log"), "the where app's line", timeout=10)
    finally:
        lab.stop_controller()
    assert modules_from(lab.workdir / "controller.log") == CHECKOUT_MODULES


def first_vips(proc, rest):
    """GET /v1/vips once the REST API answers (within 20 s of the start)."""
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "ryu-manager exited"
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/v1/vips" % rest, timeout=2) as reply:
                return json.load(reply)
        except OSError:
            assert time.monotonic() < deadline, "REST API not up within 20 s"
            time.sleep(0.2)


def test_stock_ryu_manager_serves_the_lbctl_rest_api_and_owns_its_state_file(tmp_path):
    rest = free_tcp_port()
    proc = start(tmp_path, rest)
    try:
        assert [v["name"] for v in first_vips(proc, rest)] == ["web"]
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


IDLE_CONNECTIONS = 1100   # more than eventlet's default pool (1,024), which used to freeze the API


def ended(sockets, wait=0.0):
    """Those of `sockets` the server has closed or answered (readable), waiting at most `wait`
    seconds for the first."""
    poll = select.poll()
    by_fd = {s.fileno(): s for s in sockets}
    for fd in by_fd:
        poll.register(fd, select.POLLIN)
    return {by_fd[fd] for fd, _ in poll.poll(wait * 1000)}


def unanswered(connection):
    """Whether the server closed `connection` without sending a byte."""
    try:
        return connection.recv(100) == b""
    except ConnectionResetError:   # closed with bytes of ours unread
        return True


def connect(rest, client):
    """A TCP connection to the REST port from `client` (any address of 127/8 is this machine)."""
    return socket.create_connection(("127.0.0.1", rest), timeout=5, source_address=(client, 0))


def get_vips(rest, client):
    conn = http.client.HTTPConnection("127.0.0.1", rest, timeout=5, source_address=(client, 0))
    try:
        conn.request("GET", "/v1/vips")
        reply = conn.getresponse()
        return reply.status, [v["name"] for v in json.loads(reply.read())]
    finally:
        conn.close()


def test_idle_and_slow_connections_do_not_freeze_the_rest_api(tmp_path):
    """1,100 idle connections from one client: the server keeps CONNECTIONS_PER_CLIENT of them,
    closes the others at once, and answers another client meanwhile. The ones it keeps, a request
    whose headers trickle in a byte a second and one whose body never completes are closed after
    their timeouts, unanswered; then the first client is served again. The refusals are logged in
    a few lines, not one per connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    rest, log = free_tcp_port(), tmp_path / "controller.log"
    idle, slow = [], []
    with open(log, "wb") as output:
        proc = start(tmp_path, rest, output)
    try:
        first_vips(proc, rest)
        deadline = time.monotonic() + 60
        while len(idle) < IDLE_CONNECTIONS:
            assert time.monotonic() < deadline, "only %d connections made in 60 s" % len(idle)
            idle.append(connect(rest, "127.0.0.1"))
        assert get_vips(rest, "127.0.0.2") == (200, ["web"])
        time.sleep(1)
        refused = ended(idle)
        assert len(idle) - len(refused) == httpd.CONNECTIONS_PER_CLIENT
        assert all(unanswered(connection) for connection in refused)

        headers = connect(rest, "127.0.0.3")
        headers.sendall(b"GET /v1/vips HTTP/1.1\r\nHost: lbctl\r\n")
        body = connect(rest, "127.0.0.4")
        body.sendall(b'POST /v1/vips HTTP/1.1\r\nHost: lbctl\r\nContent-Type: application/json\r\n'
                     b'Content-Length: 1000\r\n\r\n{"name": "slow", ')
        slow = [headers, body]
        deadline = time.monotonic() + max(httpd.HEAD_TIMEOUT, httpd.BODY_TIMEOUT) + 30
        open_ones = set(idle) - refused | set(slow)
        while open_ones:
            assert time.monotonic() < deadline, "%d connections still open" % len(open_ones)
            for trickling in open_ones & set(slow):   # a byte a second: no single read ever times out
                try:
                    trickling.sendall(b"X")
                except OSError:   # closed meanwhile: poll says so next
                    pass
            open_ones -= ended(open_ones, wait=1.0)
        assert all(unanswered(connection) for connection in set(idle) - refused | set(slow))
        assert get_vips(rest, "127.0.0.1") == (200, ["web"])
    finally:
        for connection in idle + slow:
            connection.close()
        proc.terminate()
        proc.wait(timeout=10)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    refusals = [line for line in log.read_text().splitlines() if "lbctl: REST refused" in line]
    assert refusals and "127.0.0.1: " in refusals[0] and "from one client" in refusals[0]
    assert len(refusals) <= 5, refusals
