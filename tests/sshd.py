"""A real OpenSSH server on 127.0.0.1 for the SSH tests: throwaway keys, its own config.

The server runs `/usr/sbin/sshd -D -e -f <tmp>/sshd_config` on a free port,
accepts one throwaway client key for the current user, and writes a client
ssh_config (alias `nexara-test`) and known_hosts next to it, so tests exercise
the same alias resolution and host-key checks as a user's ~/.ssh.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
ALIAS = "nexara-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "nexara-test",
                    "-f", str(path)], check=True)
    return path


@dataclass
class Sshd:
    dir: Path
    port: int
    user: str
    proc: subprocess.Popen
    client_key: Path
    host_key: Path
    ssh_config: Path
    known_hosts: Path

    @property
    def host_id(self) -> str:
        return f"[127.0.0.1]:{self.port}"

    def known_hosts_line(self) -> str:
        kind, b64 = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{self.host_id} {kind} {b64}\n"

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes (children of the listener)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill_sessions(self) -> int:
        """Drop every SSH connection the hard way, as a dying link would."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sshd(d: Path) -> Sshd:
    if not os.path.exists(SSHD):
        raise RuntimeError("sshd not found: run `make sysdeps` (installs openssh-server)")
    d.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation dir
    host_key = keygen(d / "ssh_host_ed25519_key")
    client_key = keygen(d / "id_ed25519")
    (d / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    port = free_port()
    user = getpass.getuser()
    (d / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
MaxStartups 100
MaxSessions 100
Subsystem sftp internal-sftp
LogLevel ERROR
""")
    with open(d / "sshd.log", "ab") as log:  # the child keeps its own copy of the fd
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"sshd did not start: {(d / 'sshd.log').read_text()[-2000:]}")
        time.sleep(0.05)
    ssh_config = d / "ssh_config"
    known_hosts = d / "known_hosts"
    ssh_config.write_text(f"""\
Host {ALIAS}
    HostName 127.0.0.1
    Port {port}
    User {user}
    IdentityFile {client_key}
    UserKnownHostsFile {known_hosts}
""")
    s = Sshd(d, port, user, proc, client_key, host_key, ssh_config, known_hosts)
    known_hosts.write_text(s.known_hosts_line())
    return s
