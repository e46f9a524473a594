"""The nginx configuration of a member host: answers every request with "<host name>\\n" and
logs the client address it saw, first on each line of `<workdir>/<host>-access.log`.

Every path nginx would otherwise take from its compiled-in defaults (pid, logs, temp dirs) is
in the workdir, so members of concurrent runs never share a file.
"""

from pathlib import Path

CONFIG = """\
# Written by lab/nginx.py for host {name}.
daemon on;
master_process on;
worker_processes 1;
pid {pid_file};
error_log {error_log} warn;

events {{
    worker_connections 4096;
}}

http {{
    log_format client '$remote_addr $server_port "$request" $status';
    access_log {access_log} client;
    keepalive_timeout 0;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/plain;

    server {{
{listens}
        location / {{
            return 200 "{name}\\n";
        }}
    }}
}}
"""


class NginxFiles:
    """Where the files of host `name`'s nginx live in the workdir."""

    def __init__(self, workdir, name):
        workdir = Path(workdir)
        self.name = name
        self.config = workdir / f"{name}-nginx.conf"
        self.pid_file = workdir / f"{name}-nginx.pid"
        self.error_log = workdir / f"{name}-nginx-error.log"
        self.access_log = workdir / f"{name}-access.log"
        self.tmp = workdir / f"{name}-nginx-tmp"

    def write_config(self, ports):
        self.tmp.mkdir(exist_ok=True)
        listens = "\n".join(f"        listen {port} backlog=4096;" for port in ports)
        self.config.write_text(CONFIG.format(
            name=self.name, pid_file=self.pid_file, error_log=self.error_log,
            access_log=self.access_log, tmp=self.tmp, listens=listens))

    def argv(self):
        # -e: the error log used before the config is read (the default is under /var/log).
        return ["nginx", "-e", str(self.error_log), "-c", str(self.config)]
