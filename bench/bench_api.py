"""The facade's API against its floors, measured in the same run against the same OpenBao.

- list 100 secrets (GET /api/orgs/{org}/secrets) vs a bare Starlette endpoint returning the
  same JSON, both under uvicorn over keep-alive HTTP;
- create with three values vs raw hvac doing the irreducible Vault work (three Transit
  encrypts and three KV writes);
- PATCH one environment vs one encrypt and one KV write;
- GET one secret's detail vs the bare endpoint.

Prints medians and ratios; asserts nothing. Run: .venv/bin/python bench/bench_api.py
"""

from __future__ import annotations

import base64
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import hvac
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import VaultInstance, populate, settings_for

from vaultfront import vault_admin as operator
from vaultfront.devserver import free_port, start_dev_server
from vaultfront.web.app import create_app

ROUNDS = 200


def serve(app: Starlette) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def timed(fn: Callable[[int], object], rounds: int = ROUNDS) -> float:
    for i in range(min(10, rounds)):
        fn(-1 - i)
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    vault_server = start_dev_server()
    tmp = tempfile.mkdtemp(prefix="vaultfront-bench-")
    try:
        root = hvac.Client(vault_server.addr, token=vault_server.root_token)
        creds = operator.bootstrap(root)
        vault = VaultInstance(
            vault_server.addr, vault_server.root_token, creds.role_id, creds.secret_id
        )
        db_url = f"sqlite:///{tmp}/bench.db"
        org = "bench"
        tokens = populate(db_url, org, "other")
        app = create_app(settings_for(vault, db_url), background_recovery=False)
        server, base = serve(app)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['owner']}"})
        for i in range(100):
            client.post(
                f"/api/orgs/{org}/secrets",
                json={"name": f"SEED_{i}", "values": {"production": f"value-{i}-" + "x" * 30}},
            ).raise_for_status()
        rows = client.get(f"/api/orgs/{org}/secrets").json()

        bare = Starlette(
            routes=[
                Route("/rows", lambda r: JSONResponse(rows)),
                Route("/one", lambda r: JSONResponse(rows["secrets"][0])),
            ]
        )
        bare_server, bare_base = serve(bare)
        bare_client = httpx.Client(base_url=bare_base)

        facade = hvac.Client(vault.addr)
        facade.auth.approle.login(creds.role_id, creds.secret_id)
        envs = ("development", "staging", "production")

        def raw_create(i: int) -> None:
            for env in envs:
                ct = facade.secrets.transit.encrypt_data(
                    f"org-{org}-{env}",
                    base64.b64encode(b"v" * 40).decode(),
                    mount_point="vaultfront-transit",
                )["data"]["ciphertext"]
                facade.secrets.kv.v2.create_or_update_secret(
                    f"orgs/{org}/{env}/large/raw-{i}", {"ct": ct}, mount_point="vaultfront"
                )

        def raw_update(i: int) -> None:
            ct = facade.secrets.transit.encrypt_data(
                f"org-{org}-production",
                base64.b64encode(b"w" * 40).decode(),
                mount_point="vaultfront-transit",
            )["data"]["ciphertext"]
            facade.secrets.kv.v2.create_or_update_secret(
                f"orgs/{org}/production/large/raw", {"ct": ct}, mount_point="vaultfront"
            )

        def api_create(i: int) -> None:
            name = f"NEW_{uuid.uuid4().hex.upper()}"
            values = {env: f"{env}-{uuid.uuid4().hex}" for env in envs}
            client.post(
                f"/api/orgs/{org}/secrets", json={"name": name, "values": values}
            ).raise_for_status()

        target = rows["secrets"][0]["id"]

        def api_update(i: int) -> None:
            client.patch(
                f"/api/orgs/{org}/secrets/{target}",
                json={"values": {"production": uuid.uuid4().hex}},
            ).raise_for_status()

        results = [
            (
                "GET list (100 rows)",
                timed(lambda i: client.get(f"/api/orgs/{org}/secrets").raise_for_status()),
                "bare Starlette, same JSON",
                timed(lambda i: bare_client.get("/rows").raise_for_status()),
            ),
            (
                "GET detail",
                timed(lambda i: client.get(f"/api/orgs/{org}/secrets/{target}").raise_for_status()),
                "bare Starlette, same JSON",
                timed(lambda i: bare_client.get("/one").raise_for_status()),
            ),
            (
                "POST create, 3 values",
                timed(api_create, 100),
                "raw hvac: 3 encrypts + 3 KV writes",
                timed(raw_create, 100),
            ),
            (
                "PATCH one value",
                timed(api_update, 100),
                "raw hvac: 1 encrypt + 1 KV write",
                timed(raw_update, 100),
            ),
        ]
        print(f"{'operation':28} {'vaultfront':>11} {'baseline':>10}  ratio  baseline is")
        for name, ours, base_name, base_ms in results:
            print(f"{name:28} {ours:9.2f}ms {base_ms:8.2f}ms {ours / base_ms:6.2f}x  {base_name}")
        server.should_exit = True
        bare_server.should_exit = True
    finally:
        vault_server.stop()


if __name__ == "__main__":
    main()
