"""Running commands: one place that turns a failed command into an error showing its stderr."""

import subprocess


class CommandFailed(subprocess.CalledProcessError):
    """A CalledProcessError whose message includes what the command printed to stderr."""

    def __str__(self):
        argv = " ".join(map(str, self.cmd))
        detail = (self.stderr or self.stdout or "").strip()
        return f"{argv} exited with {self.returncode}" + (f": {detail}" if detail else "")


def run(argv, env=None, timeout=30, check=True):
    argv = [str(a) for a in argv]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandFailed(proc.returncode, argv, proc.stdout, proc.stderr)
    return proc
