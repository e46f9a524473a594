"""Service: the core behind one lock, with the messages each call returns handed on to be sent.
The REST API and the shell's event handlers call the core only through it, so the messages of two
calls never interleave on a switch."""
from lbctl.view import View


class Service:
    def __init__(self, core, send, lock, token=None):
        """`send(out)`: sends (dpid, message) pairs in order; `lock`: a context manager that
        admits one caller at a time (the shell's is a green-thread semaphore); `token`: the
        bearer token changes need, or None."""
        self.core = core
        self.view = View(core)
        self.token = token
        self._send = send
        self._lock = lock

    def run(self, call, *args):
        """Call the core (an event: it returns messages) and send what it returns."""
        with self._lock:
            self._send(call(*args))

    def change(self, call, *args):
        """Call the core for a change (it returns a result and messages); send the messages,
        return the result."""
        with self._lock:
            result, out = call(*args)
            self._send(out)
        return result

    def create_vip(self, vip):
        return self.change(self.core.create_vip, vip)

    def replace_vip(self, name, vip, revision=None):
        return self.change(self.core.replace_vip, name, vip, revision)

    def delete_vip(self, name, revision=None):
        return self.change(self.core.delete_vip, name, revision)

    def forget_host(self, address, network):
        return self.change(self.core.forget_host, address, network)

    def create_network(self, network):
        return self.change(self.core.create_network, network)

    def replace_network(self, name, network, revision=None):
        return self.change(self.core.replace_network, name, network, revision)

    def delete_network(self, name, revision=None):
        return self.change(self.core.delete_network, name, revision)
