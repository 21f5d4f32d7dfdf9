"""A non-dev OpenBao for tests that stop, seal and restart Vault.

The session's dev server (`conftest.vault`) keeps everything in memory, so a restart would
lose every secret. This one keeps its data in a temporary folder, so it can be stopped and
started again (it comes back sealed), and sealed and unsealed at will. OpenBao 2.x dropped
the `file` backend ("unknown storage type file"), so the storage is a one-node raft with
`performance_multiplier = 1` (it elects itself in about a second). One key share,
threshold one: a test unseals it with a single key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import hvac

from vaultfront import vault_admin as operator
from vaultfront.devserver import DevServerError, bao_binary, free_port_pair, wait_healthy

CONFIG = """\
storage "raft" {{
  path = "{data}"
  node_id = "vaultfront-test"
  performance_multiplier = 1
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable = true
}}
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
ui = false
"""


@dataclass
class VaultServer:
    """One OpenBao process over raft storage in `base`; `start()` restarts the same data."""

    base: Path
    port: int
    root_token: str = field(default="", repr=False)
    unseal_key: str = field(default="", repr=False)
    role_id: str = ""
    secret_id: str = field(default="", repr=False)
    process: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.base / "openbao.log"

    def root_client(self) -> hvac.Client:
        return hvac.Client(self.addr, token=self.root_token, timeout=10)

    # --- the process ------------------------------------------------------------------

    def start(self) -> None:
        """Start the server over the existing storage. It answers sealed until `unseal()`."""
        if self.process is not None and self.process.poll() is None:
            raise DevServerError("OpenBao is already running")
        home = self.base / "home"
        home.mkdir(exist_ok=True)
        env = {**os.environ, "HOME": str(home)}
        for name in ("VAULT_TOKEN", "BAO_TOKEN", "VAULT_ADDR", "BAO_ADDR"):
            env.pop(name, None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [bao_binary(), "server", f"-config={self.base / 'config.hcl'}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=home,
            )
        try:
            wait_healthy(self.addr, self.process, timeout=30)
        except DevServerError as exc:
            raise DevServerError(f"{exc}; its log:\n{self.tail_log()}") from None

    def stop(self) -> None:
        """SIGTERM, then wait: OpenBao shuts down cleanly and the port stops answering."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        """Stop, start again over the same storage, unseal."""
        self.stop()
        self.start()
        self.unseal()

    # --- seal state -------------------------------------------------------------------

    def seal(self) -> None:
        """PUT sys/seal with the root token."""
        self.root_client().sys.seal()
        deadline = time.monotonic() + 10
        while not hvac.Client(self.addr).sys.is_sealed():
            if time.monotonic() > deadline:
                raise DevServerError("OpenBao did not seal")
            time.sleep(0.05)

    def unseal(self) -> None:
        """PUT sys/unseal, then wait until the node is active (GET sys/health says 200)."""
        client = hvac.Client(self.addr)
        client.sys.submit_unseal_key(self.unseal_key)
        self.wait_active()

    def wait_active(self, timeout: float = 30) -> None:
        client = hvac.Client(self.addr)
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                health = client.sys.read_health_status(method="GET")
                status = getattr(health, "status_code", 200)
                last = status
                if status == 200 or (isinstance(health, dict) and not health.get("sealed")):
                    return
            except Exception as exc:  # still coming up
                last = exc
            time.sleep(0.05)
        raise DevServerError(f"OpenBao not active within {timeout:.0f} s (last: {last!r})")

    def tail_log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_vault_server(base: str | os.PathLike[str] | None = None) -> VaultServer:
    """Start, initialize (1 share, threshold 1), unseal and bootstrap a raft-storage OpenBao.

    `role_id` and `secret_id` are the facade's AppRole credentials from
    `vaultfront.operator.bootstrap`, the same code `vaultfront vault bootstrap` runs.
    """
    base_path = Path(base) if base else Path(tempfile.mkdtemp(prefix="vaultfront-bao-"))
    base_path.mkdir(parents=True, exist_ok=True)
    (base_path / "data").mkdir(exist_ok=True)
    port = free_port_pair()
    config = CONFIG.format(data=base_path / "data", port=port, cluster_port=port + 1)
    (base_path / "config.hcl").write_text(config)
    server = VaultServer(base=base_path, port=port)
    server.start()
    try:
        result = hvac.Client(server.addr).sys.initialize(secret_shares=1, secret_threshold=1)
        server.root_token = result["root_token"]
        server.unseal_key = result["keys"][0]
        server.unseal()
        creds = operator.bootstrap(server.root_client())
        server.role_id, server.secret_id = creds.role_id, creds.secret_id
    except BaseException:
        print(server.tail_log())
        server.stop()
        raise
    return server
