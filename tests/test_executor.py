"""The integration executor against a real OpenBao: scope, errors, render, renewal, audit.

SPEC sections 1 and 6. Index documents are written as the facade writes them
(`executor_helpers.write_env`, per vaultfront/layout.py) unless a test says otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
from conftest import VaultInstance, World
from executor_helpers import (
    encrypt,
    executor_environ,
    executor_for,
    login,
    new_org,
    read_index,
    write_env,
)

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.devserver import bao_binary, free_port, free_port_pair, wait_healthy
from vaultfront.executor import (
    DECRYPT_BATCH_LIMIT,
    Executor,
    ExecutorConfigError,
    ExecutorError,
    SecretNotFound,
    TLSSettings,
    VaultDenied,
    VaultUnreachable,
)
from vaultfront.executor.client import Reply, VaultHTTP

STAGING = {
    "STRIPE_API_KEY": "sk_test_staging_4eC39HqLyjWDarjtT1zdp7dc",
    "DATABASE_URL": "postgresql://app:s3cr3t@db.staging/app",
    "PEM": (
        "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
        "-----END KEY-----\n"
    ),
    "UNICODE": "pässwörd ✓ 🔑",
}


@pytest.fixture(scope="module")
def two_orgs(vault: VaultInstance) -> dict[str, str]:
    """Org A with all three environments set (different values) and org B's staging."""
    root = vault.root_client()
    org_a, org_b = new_org(), new_org()
    write_env(root, org_a, "staging", STAGING, large={"PEM"})
    write_env(root, org_a, "production", {"STRIPE_API_KEY": "sk_live_PRODUCTION_ONLY_9f8e7d"})
    write_env(root, org_a, "development", {"DEV_ONLY": "dev-value-5b4a3c2d"})
    write_env(root, org_b, "staging", {"STRIPE_API_KEY": "sk_test_ORG_B_STAGING_1a2b3c"})
    return {"a": org_a, "b": org_b}


def test_staging_executor_reads_and_decrypts_staging(
    vault: VaultInstance, two_orgs: dict[str, str]
) -> None:
    root = vault.root_client()
    with executor_for(root, vault.addr, two_orgs["a"], "staging") as executor:
        everything = executor.resolve_all()
        assert everything == STAGING, f"saw names {sorted(everything)}"
        assert executor.get("PEM") == STAGING["PEM"]  # kept out of line
        assert executor.resolve(["UNICODE", "STRIPE_API_KEY", "UNICODE"]) == {
            "UNICODE": STAGING["UNICODE"],
            "STRIPE_API_KEY": STAGING["STRIPE_API_KEY"],
        }
        assert executor.resolve([]) == {}


@pytest.mark.parametrize(
    "target", ["production", "development", "org B staging"], ids=["prod", "dev", "orgB"]
)
def test_staging_executor_is_refused_by_vault_elsewhere(
    vault: VaultInstance, two_orgs: dict[str, str], target: str
) -> None:
    root = vault.root_client()
    org_a = two_orgs["a"]
    org, env = (two_orgs["b"], "staging") if target == "org B staging" else (org_a, target)
    environ = executor_environ(root, vault.addr, org_a, "staging")

    # Through vaultfront: the same staging credentials, aimed at another place.
    aimed = Executor.from_env(org=org, environment=env, environ=environ)
    with pytest.raises(VaultDenied) as denied:
        aimed.resolve_all()
    message = str(denied.value)
    assert "403" in message or "permission denied" in message, message
    assert env in message and org in message, message

    # With raw hvac and the executor's own token: Vault itself refuses the KV read...
    raw = login(vault.addr, environ)
    with pytest.raises(hvac.exceptions.Forbidden):
        raw.secrets.kv.v2.read_secret_version(
            layout.index_path(org, env), mount_point=DEFAULT_KV_MOUNT, raise_on_deleted_version=True
        )
    # ...and the decrypt of a ciphertext copied by hand (read here with the root token).
    copied = next(iter(read_index(root, org, env).values()))
    assert copied.ct is not None
    with pytest.raises(hvac.exceptions.Forbidden):
        raw.secrets.transit.decrypt_data(
            layout.transit_key(org, env), copied.ct, mount_point=DEFAULT_TRANSIT_MOUNT
        )
    # Its own key cannot open another environment's ciphertext either.
    with pytest.raises(hvac.exceptions.InvalidRequest) as wrong_key:
        raw.secrets.transit.decrypt_data(
            layout.transit_key(org_a, "staging"), copied.ct, mount_point=DEFAULT_TRANSIT_MOUNT
        )
    assert "plaintext" not in str(wrong_key.value)
    # The same token does read its own environment (the refusals are about scope).
    own = raw.secrets.kv.v2.read_secret_version(
        layout.index_path(org_a, "staging"),
        mount_point=DEFAULT_KV_MOUNT,
        raise_on_deleted_version=True,
    )
    assert layout.decode_index(own["data"]["data"]).keys() == STAGING.keys()


def test_facade_identity_cannot_decrypt(vault: VaultInstance, two_orgs: dict[str, str]) -> None:
    facade = hvac.Client(vault.addr, token="")
    facade.auth.approle.login(vault.role_id, vault.secret_id)
    copied = read_index(vault.root_client(), two_orgs["a"], "staging")["STRIPE_API_KEY"]
    with pytest.raises(hvac.exceptions.Forbidden):
        facade.secrets.transit.decrypt_data(
            layout.transit_key(two_orgs["a"], "staging"),
            copied.ct,
            mount_point=DEFAULT_TRANSIT_MOUNT,
        )


def test_unknown_and_other_environment_names(
    vault: VaultInstance, two_orgs: dict[str, str]
) -> None:
    root = vault.root_client()
    executor = executor_for(root, vault.addr, two_orgs["a"], "staging")
    with pytest.raises(SecretNotFound) as unknown:
        executor.get("NO_SUCH_SECRET")
    assert unknown.value.secret == "NO_SUCH_SECRET"
    assert str(unknown.value) == (
        f"NO_SUCH_SECRET is not set in staging of organization {two_orgs['a']}"
    )
    # Set in development only: from a staging identity it is simply not set here.
    with pytest.raises(SecretNotFound) as elsewhere:
        executor.resolve(["STRIPE_API_KEY", "DEV_ONLY", "ALSO_MISSING"])
    assert elsewhere.value.names == ("DEV_ONLY", "ALSO_MISSING")
    assert "DEV_ONLY, ALSO_MISSING are not set in staging" in str(elsewhere.value)
    assert isinstance(elsewhere.value, ExecutorError)
    for value in STAGING.values():
        assert value not in str(elsewhere.value)


def test_empty_environment_has_no_secrets(vault: VaultInstance) -> None:
    root = vault.root_client()
    org = new_org()
    executor = executor_for(root, vault.addr, org, "production")
    assert executor.resolve_all() == {}
    with pytest.raises(SecretNotFound):
        executor.get("ANYTHING")


def test_many_secrets_use_several_batches(vault: VaultInstance) -> None:
    root = vault.root_client()
    org = new_org()
    count = DECRYPT_BATCH_LIMIT + 37
    values = {f"S_{i:04d}": f"value-{i}-{uuid.uuid4().hex}" for i in range(count)}
    # One encrypt per value with the root client is the slow part; batch it.
    key = layout.transit_key(org, "staging")
    root.adapter.post(f"/v1/{DEFAULT_TRANSIT_MOUNT}/keys/{key}")
    names = list(values)
    entries: dict[str, layout.Entry] = {}
    for offset in range(0, count, 400):
        chunk = names[offset : offset + 400]
        result = root.adapter.post(
            f"/v1/{DEFAULT_TRANSIT_MOUNT}/encrypt/{key}",
            json={
                "batch_input": [
                    {"plaintext": base64.b64encode(values[n].encode()).decode()} for n in chunk
                ]
            },
        )
        for name, item in zip(chunk, result["data"]["batch_results"], strict=True):
            entries[name] = layout.Entry(id=str(uuid.uuid4()), version=1, ct=item["ciphertext"])
    root.secrets.kv.v2.create_or_update_secret(
        layout.index_path(org, "staging"),
        secret=layout.encode_index(entries),
        mount_point=DEFAULT_KV_MOUNT,
    )
    executor = executor_for(root, vault.addr, org, "staging")
    resolved = executor.resolve_all()
    assert len(resolved) == count
    assert resolved == values, [n for n in values if resolved.get(n) != values[n]][:5]


def test_render_fills_known_and_repeated_placeholders(
    vault: VaultInstance, two_orgs: dict[str, str]
) -> None:
    executor = executor_for(vault.root_client(), vault.addr, two_orgs["a"], "staging")
    template = (
        "key={{ secrets.STRIPE_API_KEY }}\n"
        "again={{secrets.STRIPE_API_KEY}} tabs={{\tsecrets.UNICODE\t}}\n"
        "db={{  secrets.DATABASE_URL  }} untouched={{ other.THING }} ${HOME}\n"
    )
    rendered = executor.render(template)
    key, unicode, db = (STAGING[n] for n in ("STRIPE_API_KEY", "UNICODE", "DATABASE_URL"))
    assert rendered == (
        f"key={key}\nagain={key} tabs={unicode}\n"
        f"db={db} untouched={{{{ other.THING }}}} ${{HOME}}\n"
    ), rendered
    assert executor.render("no placeholders here") == "no placeholders here"


def test_render_does_not_expand_placeholders_inside_values(vault: VaultInstance) -> None:
    root = vault.root_client()
    org = new_org()
    write_env(root, org, "staging", {"OUTER": "x{{ secrets.INNER }}y", "INNER": "inner-v"})
    executor = executor_for(root, vault.addr, org, "staging")
    assert executor.render("[{{ secrets.OUTER }}]") == "[x{{ secrets.INNER }}y]"


def test_render_unknown_placeholder_names_it(
    vault: VaultInstance, two_orgs: dict[str, str]
) -> None:
    executor = executor_for(vault.root_client(), vault.addr, two_orgs["a"], "staging")
    with pytest.raises(SecretNotFound) as unknown:
        executor.render("a={{ secrets.STRIPE_API_KEY }} b={{ secrets.MISSING_ONE }}")
    message = str(unknown.value)
    assert "{{ secrets.MISSING_ONE }}" in message, message
    assert "not set in staging" in message, message
    assert STAGING["STRIPE_API_KEY"] not in message
    with pytest.raises(SecretNotFound) as lowercase:
        executor.render("{{ secrets.stripe_api_key }}")
    assert "stripe_api_key" in str(lowercase.value)
    with pytest.raises(ExecutorError) as malformed:
        executor.render("x {{ secrets.STRIPE_API_KEY | upper }}")
    assert "malformed placeholder" in str(malformed.value), str(malformed.value)
    with pytest.raises(ExecutorError):
        executor.render("{{ secrets.PEM\n}}")  # no newlines inside the braces


def test_vault_down_is_its_own_error() -> None:
    executor = Executor(
        org="acme",
        environment="staging",
        vault_addr=f"http://127.0.0.1:{free_port()}",
        role_id="r",
        secret_id="s",
        timeout=2,
    )
    with pytest.raises(VaultUnreachable) as down:
        executor.get("STRIPE_API_KEY")
    assert "cannot be reached" in str(down.value), str(down.value)


def test_bad_credentials_are_refused(vault: VaultInstance, two_orgs: dict[str, str]) -> None:
    environ = executor_environ(vault.root_client(), vault.addr, two_orgs["a"], "staging")
    environ["VAULTFRONT_EXECUTOR_SECRET_ID"] = str(uuid.uuid4())
    executor = Executor.from_env(org=two_orgs["a"], environment="staging", environ=environ)
    with pytest.raises(VaultDenied) as refused:
        executor.get("STRIPE_API_KEY")
    assert "AppRole login" in str(refused.value), str(refused.value)


def test_configuration_errors() -> None:
    with pytest.raises(ExecutorConfigError) as missing:
        Executor.from_env(org="acme", environment="staging", environ={})
    assert "VAULTFRONT_EXECUTOR_ROLE_ID" in str(missing.value)
    assert "--org acme --env staging" in str(missing.value)
    with pytest.raises(ExecutorConfigError):
        Executor.from_env(
            org="acme", environment="staging", environ={"VAULTFRONT_EXECUTOR_ROLE_ID": "x"}
        )
    with pytest.raises(ExecutorConfigError) as bad_env:
        Executor.from_env(org="acme", environment="prod", environ={"VAULT_TOKEN": "t"})
    assert "not an environment" in str(bad_env.value)


def test_vault_token_instead_of_approle(vault: VaultInstance, two_orgs: dict[str, str]) -> None:
    root = vault.root_client()
    environ = executor_environ(root, vault.addr, two_orgs["a"], "staging")
    token = login(vault.addr, environ).token
    executor = Executor.from_env(
        org=two_orgs["a"],
        environment="staging",
        environ={"VAULT_ADDR": vault.addr, "VAULT_TOKEN": token},
    )
    assert executor.get("STRIPE_API_KEY") == STAGING["STRIPE_API_KEY"]


def test_logs_in_once_renews_and_logs_in_again(
    vault: VaultInstance, two_orgs: dict[str, str]
) -> None:
    """Real renew-self and re-login calls; only the executor's clock is ours."""
    root = vault.root_client()
    now = [1000.0]
    environ = executor_environ(root, vault.addr, two_orgs["a"], "staging")
    executor = Executor(
        org=two_orgs["a"],
        environment="staging",
        vault_addr=vault.addr,
        role_id=environ["VAULTFRONT_EXECUTOR_ROLE_ID"],
        secret_id=environ["VAULTFRONT_EXECUTOR_SECRET_ID"],
        clock=lambda: now[0],
    )
    executor.get("STRIPE_API_KEY")
    first = executor._session.client.token
    executor.resolve_all()
    assert executor._session.client.token == first, "logged in twice"
    assert "last_renewal_time" not in root.auth.token.lookup(first)["data"]

    now[0] += 1200 * 0.7  # past two thirds of the 20-minute lease
    executor.get("STRIPE_API_KEY")
    looked_up = root.auth.token.lookup(first)["data"]
    assert executor._session.client.token == first
    assert looked_up.get("last_renewal_time"), f"not renewed: {looked_up}"

    # Renewal refused (the token was revoked): a new login, and the call succeeds.
    root.auth.token.revoke(first)
    now[0] += 1200 * 0.7
    assert executor.get("STRIPE_API_KEY") == STAGING["STRIPE_API_KEY"]
    second = executor._session.client.token
    assert second != first

    # Revoked before renewal is due: the 403 leads to one new login and a retry.
    root.auth.token.revoke(second)
    now[0] += 1
    assert executor.get("UNICODE") == STAGING["UNICODE"]
    assert executor._session.client.token not in (first, second)


def test_errors_never_carry_values(vault: VaultInstance, two_orgs: dict[str, str]) -> None:
    root = vault.root_client()
    # A ciphertext of another key in the index: Vault cannot decrypt it; the error names
    # the secret, not the value.
    foreign = encrypt(root, two_orgs["b"], "staging", "foreign-value-0xdeadbeef")
    broken_org = new_org()
    write_env(root, broken_org, "staging", {"GOOD": "good-value-123"})
    entries = read_index(root, broken_org, "staging")
    entries["BROKEN"] = layout.Entry(id=str(uuid.uuid4()), version=1, ct=foreign)
    root.secrets.kv.v2.create_or_update_secret(
        layout.index_path(broken_org, "staging"),
        secret=layout.encode_index(entries),
        mount_point=DEFAULT_KV_MOUNT,
    )
    executor = executor_for(root, vault.addr, broken_org, "staging")
    with pytest.raises(ExecutorError) as failed:
        executor.resolve_all()
    message = str(failed.value)
    assert "BROKEN" in message and "could not decrypt" in message, message
    assert "good-value-123" not in message and "foreign-value" not in message
    assert executor.get("GOOD") == "good-value-123"


def test_only_current_values_reach_the_executor(vault: VaultInstance) -> None:
    """SPEC 1: after a change and a delete, no earlier or deleted value is obtainable by the
    executor's identity at any KV version of any path it may read (layout-level writes)."""
    root = vault.root_client()
    org = new_org()
    old = {"KEEP": "keep-old-111", "GONE": "gone-222", "BIG": "big-old-" + "x" * 5000}
    write_env(root, org, "staging", old, large={"BIG", "GONE"})
    ids = {name: entry.id for name, entry in read_index(root, org, "staging").items()}
    new = {"KEEP": "keep-new-333", "BIG": "big-new-" + "y" * 5000}
    write_env(root, org, "staging", new, large={"BIG"})  # KEEP, BIG changed; GONE deleted

    environ = executor_environ(root, vault.addr, org, "staging")
    assert Executor.from_env(org=org, environment="staging", environ=environ).resolve_all() == new
    obtained = _everything_readable(vault.addr, environ, org, "staging", ids.values())
    assert obtained, "read nothing at all"
    for name in ("KEEP", "GONE", "BIG"):
        assert old[name] not in obtained, f"the earlier value of {name} is still obtainable"
    assert set(new.values()) <= obtained


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rename_in_the_facade_is_seen_under_the_new_name_only(world: World) -> None:
    created = world.create(
        name="OLD_NAME", description="", values={"staging": "renamed-1", "production": "p-1"}
    )
    executor = executor_for(world.vault.root_client(), world.vault.addr, world.org, "staging")
    assert executor.resolve_all() == {"OLD_NAME": "renamed-1"}
    response = world.call(
        "owner",
        "PATCH",
        f"/api/orgs/{world.org}/secrets/{created['id']}",
        json={"name": "NEW_NAME"},
    )
    assert response.status_code == 200, response.text
    assert executor.resolve_all() == {"NEW_NAME": "renamed-1"}
    with pytest.raises(SecretNotFound):
        executor.get("OLD_NAME")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_only_current_values_after_facade_update_and_delete(world: World) -> None:
    """SPEC 1 through the real facade: change a value (inline and out of line), delete
    another; the executor's identity, reading every path it may read at every KV
    version, obtains neither an earlier value nor the deleted one."""
    old = {"KEEP": "keep-old-111", "GONE": "gone-222", "BIG": "big-old-" + "x" * 5000}
    ids = {
        name: world.create(name=name, description="", values={"staging": value})["id"]
        for name, value in old.items()
    }
    new = {"KEEP": "keep-new-333", "BIG": "big-new-" + "y" * 5000}
    for name, value in new.items():
        response = world.call(
            "owner",
            "PATCH",
            f"/api/orgs/{world.org}/secrets/{ids[name]}",
            json={"values": {"staging": value}},
        )
        assert response.status_code == 200, response.text
    response = world.call("owner", "DELETE", f"/api/orgs/{world.org}/secrets/{ids['GONE']}")
    assert response.status_code == 204, response.text

    root = world.vault.root_client()
    index = read_index(root, world.org, "staging")
    assert index["BIG"].ref is not None, "the large value should be kept out of line"
    environ = executor_environ(root, world.vault.addr, world.org, "staging")
    executor = Executor.from_env(org=world.org, environment="staging", environ=environ)
    assert executor.resolve_all() == new
    obtained = _everything_readable(world.vault.addr, environ, world.org, "staging", ids.values())
    for name in ("KEEP", "GONE", "BIG"):
        assert old[name] not in obtained, f"the earlier value of {name} is still obtainable"
    assert set(new.values()) <= obtained


def _everything_readable(
    addr: str, environ: dict[str, str], org: str, env: str, secret_ids: object
) -> set[str]:
    """Every plaintext the executor's raw token can obtain: each path of its policy, at
    versions 1..20, each ciphertext found there decrypted."""
    raw = login(addr, environ)
    paths = [layout.index_path(org, env)]
    paths += [
        layout.large_path(org, env, str(secret_id), version)
        for secret_id in secret_ids  # type: ignore[attr-defined]
        for version in range(1, 6)
    ]
    ciphertexts: set[str] = set()
    for path in paths:
        for version in range(1, 21):
            try:
                data = raw.secrets.kv.v2.read_secret_version(
                    path,
                    version=version,
                    mount_point=DEFAULT_KV_MOUNT,
                    raise_on_deleted_version=False,
                )["data"]["data"]
            except hvac.exceptions.InvalidPath:
                continue
            if not data:
                continue
            if "ct" in data:
                ciphertexts.add(data["ct"])
            else:
                ciphertexts.update(e.ct for e in layout.decode_index(data).values() if e.ct)
    plaintexts = set()
    for ct in ciphertexts:
        result = raw.secrets.transit.decrypt_data(
            layout.transit_key(org, env), ct, mount_point=DEFAULT_TRANSIT_MOUNT
        )
        plaintexts.add(base64.b64decode(result["data"]["plaintext"]).decode())
    return plaintexts


@pytest.fixture
def audited_vault(tmp_path: Path) -> Iterator[tuple[VaultInstance, Path]]:
    """A dev server of its own with a file audit device declared in its configuration:
    OpenBao refuses `sys/audit` over the API unless `unsafe_allow_api_audit_creation`."""
    audit_log = tmp_path / "audit.log"
    config = tmp_path / "audit.hcl"
    config.write_text(
        'audit "file" "vaultfront-audit" {\n'
        f'  options {{\n    file_path = "{audit_log}"\n  }}\n'
        "}\n"
    )
    port, token = free_port_pair(), "root-" + uuid.uuid4().hex
    log = (tmp_path / "openbao.log").open("wb")
    process = subprocess.Popen(
        [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-root-token-id={token}",
            "-dev-no-store-token",
            f"-config={config}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        addr = f"http://127.0.0.1:{port}"
        wait_healthy(addr, process, timeout=30)
        creds = operator.bootstrap(hvac.Client(addr, token=token))
        yield VaultInstance(addr, token, creds.role_id, creds.secret_id), audit_log
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_audit_device_shows_executor_decrypts_and_no_facade_decrypt(
    audited_vault: tuple[VaultInstance, Path],
) -> None:
    vault, audit_log = audited_vault
    root = vault.root_client()
    org = new_org()
    # The facade's actions, with the facade's own AppRole: key, encrypt, index write.
    facade = hvac.Client(vault.addr, token="")
    facade.auth.approle.login(vault.role_id, vault.secret_id)
    key = layout.transit_key(org, "staging")
    facade.adapter.post(f"/v1/{DEFAULT_TRANSIT_MOUNT}/keys/{key}")
    value = "audited-value-" + uuid.uuid4().hex
    ct = facade.secrets.transit.encrypt_data(
        key, base64.b64encode(value.encode()).decode(), mount_point=DEFAULT_TRANSIT_MOUNT
    )["data"]["ciphertext"]
    facade.secrets.kv.v2.create_or_update_secret(
        layout.index_path(org, "staging"),
        secret=layout.encode_index({"AUDITED": layout.Entry(id="i", version=1, ct=ct)}),
        mount_point=DEFAULT_KV_MOUNT,
    )
    # The executor's read.
    assert executor_for(root, vault.addr, org, "staging").get("AUDITED") == value

    text = audit_log.read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [e for e in entries if e.get("type") == "request"]
    executor_policy, _ = operator.executor_names(org, "staging")
    decrypt_path = f"{DEFAULT_TRANSIT_MOUNT}/decrypt/{key}"

    def paths_of(policy: str) -> list[str]:
        return [
            e["request"]["path"]
            for e in requests
            if policy in ((e.get("auth") or {}).get("policies") or [])
        ]

    executor_paths, facade_paths = paths_of(executor_policy), paths_of(operator.FACADE_POLICY)
    assert decrypt_path in executor_paths, f"executor requests seen: {executor_paths}"
    assert f"{DEFAULT_TRANSIT_MOUNT}/encrypt/{key}" in facade_paths, facade_paths
    assert not [p for p in facade_paths if "/decrypt/" in p], facade_paths
    # Audit devices HMAC request and response data: the value is not in the log.
    assert value not in text and base64.b64encode(value.encode()).decode() not in text


def test_close_revokes_the_token_it_logged_in_for(vault: VaultInstance) -> None:
    org = new_org()
    root = vault.root_client()
    write_env(root, org, "staging", {"ONLY": "value-for-revoke-test"})
    executor = executor_for(root, vault.addr, org, "staging")
    assert executor.get("ONLY") == "value-for-revoke-test"
    token = executor._session.client.token
    hvac.Client(vault.addr, token=token).lookup_token()  # alive before close
    executor.close()
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(vault.addr, token=token).lookup_token()


def test_close_leaves_a_given_vault_token_alone(vault: VaultInstance) -> None:
    org = new_org()
    root = vault.root_client()
    write_env(root, org, "staging", {"ONLY": "value-for-token-test"})
    policy, _ = operator.executor_names(org, "staging")
    operator.executor_role(root, org, "staging")
    token = root.auth.token.create(policies=[policy], no_default_policy=True, ttl="5m")["auth"][
        "client_token"
    ]
    executor = Executor(org=org, environment="staging", vault_addr=vault.addr, token=token)
    assert executor.get("ONLY") == "value-for-token-test"
    executor.close()
    hvac.Client(vault.addr, token=token).lookup_token()  # still alive: not ours to revoke


# -- Vault's HTTP API without hvac: statuses, headers, connections, TLS ---------------------


class StubVault:
    """A stand-in for Vault's HTTP API, for what a dev server cannot be made to answer
    (429, 472, sealed, a proxy's 502, a slow answer, a dropped keep-alive connection).
    `answers[(method, path)]` gives `(status, json body, extra headers)`."""

    CT = "vault:v1:c3R1Yi1jaXBoZXJ0ZXh0LW5vdC1yZWFs"

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.connections = 0
        self.close_after_each = False
        self.delay = 0.0
        index = {
            "format": layout.FORMAT,
            "secrets": json.dumps({"API_KEY": {"id": "i", "version": 1, "ct": self.CT}}),
        }
        plaintext = base64.b64encode(b"stub-value-123").decode()
        self.answers: dict[tuple[str, str], tuple[int, object, dict[str, str]]] = {
            ("GET", "/v1/auth/token/lookup-self"): (200, {"data": {"ttl": 0}}, {}),
            ("GET", "/v1/vaultfront/data/orgs/acme/staging"): (200, {"data": {"data": index}}, {}),
            ("POST", "/v1/vaultfront-transit/decrypt/org-acme-staging"): (
                200,
                {"data": {"batch_results": [{"plaintext": plaintext}]}},
                {},
            ),
        }
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes

            def setup(self) -> None:
                stub.connections += 1
                super().setup()

            def log_message(self, *args: object) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload, headers = stub.answers.get(
                    (self.command, self.path), (404, {"errors": []}, {})
                )
                if stub.delay:
                    time.sleep(stub.delay)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (a timeout test)
                    self.wfile.write(data)
                if stub.close_after_each:
                    self.close_connection = True  # without saying so: an idle timeout

            do_GET = do_POST = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def executor(self, **environ: str) -> Executor:
        env = {"VAULT_ADDR": self.addr, "VAULT_TOKEN": "s.stub-token", **environ}
        return Executor.from_env(org="acme", environment="staging", environ=env)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubVault]:
    server = StubVault()
    try:
        yield server
    finally:
        server.stop()


def test_one_keep_alive_connection_and_vault_headers(stub: StubVault) -> None:
    executor = stub.executor(VAULT_NAMESPACE="team-a/apps")
    assert executor.get("API_KEY") == "stub-value-123"
    assert executor.resolve_all() == {"API_KEY": "stub-value-123"}
    assert stub.connections == 1, "a new connection per request"
    paths = [path for _, path, _, _ in stub.requests]
    assert paths[0] == "/v1/auth/token/lookup-self" and len(paths) == 5, paths
    for _, _, headers, _ in stub.requests:
        assert headers.get("X-Vault-Token") == "s.stub-token", headers
        assert headers.get("X-Vault-Request") == "true", headers
        assert headers.get("X-Vault-Namespace") == "team-a/apps", headers
    decrypt = json.loads(stub.requests[2][3])
    assert decrypt == {
        "batch_input": [{"ciphertext": StubVault.CT}],
        "partial_failure_response_code": 200,
    }
    executor.close()
    seen = len(stub.requests)
    stub.executor().get("API_KEY")
    assert all("X-Vault-Namespace" not in r[2] for r in stub.requests[seen:]), "namespace unset"


def test_threads_share_an_executor_and_its_connection(stub: StubVault) -> None:
    from concurrent.futures import ThreadPoolExecutor

    executor = stub.executor()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: executor.get("API_KEY"), range(40)))
    assert results == ["stub-value-123"] * 40
    assert stub.connections == 1
    assert len(stub.requests) == 1 + 40 * 2  # one lookup-self, then a read and a decrypt


def test_a_connection_closed_while_idle_is_reopened(stub: StubVault) -> None:
    stub.close_after_each = True
    executor = stub.executor()
    for _ in range(3):
        assert executor.get("API_KEY") == "stub-value-123"
    assert stub.connections == 7  # lookup-self, then a read and a decrypt per call


@pytest.mark.parametrize("status", [429, 472, 473, 501, 502, 503, 504])
def test_unavailable_statuses_are_vault_unreachable(stub: StubVault, status: int) -> None:
    path = "/v1/vaultfront/data/orgs/acme/staging"
    stub.answers[("GET", path)] = (status, {"errors": ["Vault is sealed"]}, {})
    with pytest.raises(VaultUnreachable) as unavailable:
        stub.executor().get("API_KEY")
    message = str(unavailable.value)
    assert "unavailable" in message and str(status) in message, message
    assert "vaultfront/data/orgs/acme/staging" in message, message


@pytest.mark.parametrize(
    ("status", "expected"), [(403, VaultDenied), (500, ExecutorError), (412, ExecutorError)]
)
def test_other_statuses_name_the_path_and_never_the_request(
    stub: StubVault, status: int, expected: type[ExecutorError]
) -> None:
    path = "/v1/vaultfront-transit/decrypt/org-acme-staging"
    stub.answers[("POST", path)] = (status, {"errors": ["1 error occurred:\n\t* boom\n\n"]}, {})
    with pytest.raises(expected) as failed:
        stub.executor().get("API_KEY")
    message = str(failed.value)
    assert not isinstance(failed.value, VaultUnreachable)
    assert path.removeprefix("/v1/") in message and str(status) in message, message
    assert "1 error occurred: * boom" in message, message
    assert StubVault.CT not in message and "s.stub-token" not in message, message


def test_a_batch_where_every_item_fails_names_the_secret(stub: StubVault) -> None:
    path = "/v1/vaultfront-transit/decrypt/org-acme-staging"
    results = {"batch_results": [{"plaintext": "", "error": "invalid ciphertext length"}]}
    stub.answers[("POST", path)] = (400, {"data": results}, {})
    with pytest.raises(ExecutorError) as failed:
        stub.executor().get("API_KEY")
    assert str(failed.value) == (
        "Vault could not decrypt API_KEY (invalid ciphertext length) with key org-acme-staging"
    )
    assert failed.value.secret == "API_KEY"


def test_a_slow_vault_times_out_as_unreachable(stub: StubVault) -> None:
    stub.delay = 1.0
    executor = Executor(
        org="acme", environment="staging", vault_addr=stub.addr, token="s.t", timeout=0.3
    )
    with pytest.raises(VaultUnreachable) as slow:
        executor.get("API_KEY")
    assert "cannot be reached" in str(slow.value) and "timed out" in str(slow.value)


def test_a_redirect_is_followed_once_never_to_plain_http(stub: StubVault) -> None:
    active = StubVault()
    try:
        path = "/v1/vaultfront/data/orgs/acme/staging"
        stub.answers[("GET", path)] = (307, None, {"Location": f"{active.addr}{path}"})
        assert stub.executor().get("API_KEY") == "stub-value-123"
        assert [p for _, p, _, _ in active.requests] == [path]
        assert active.requests[0][2].get("X-Vault-Token") == "s.stub-token"
    finally:
        active.stop()
    # From https to http the token would travel in clear: the redirect is not followed.
    client = VaultHTTP("https://127.0.0.1:1", timeout=1, tls=TLSSettings(skip_verify=True))
    redirect = Reply(307, "Temporary Redirect", None, "http://127.0.0.1:2/v1/x")
    assert client._follow("GET", "/v1/x", redirect, None, {}) is redirect


def test_address_token_and_tls_settings_are_checked_up_front(tmp_path: Path) -> None:
    def build(**environ: str) -> Executor:
        return Executor.from_env(
            org="acme", environment="staging", environ={"VAULT_TOKEN": "s.t", **environ}
        )

    for addr in ("vault.internal:8200", "ftp://vault", "https://"):
        with pytest.raises(ExecutorConfigError, match="VAULT_ADDR"):
            build(VAULT_ADDR=addr)
    with pytest.raises(ExecutorConfigError, match="VAULT_SKIP_VERIFY"):
        build(VAULT_ADDR="https://vault:8200", VAULT_SKIP_VERIFY="maybe")
    with pytest.raises(ExecutorConfigError, match="VAULT_CACERT") as missing_ca:
        build(VAULT_ADDR="https://vault:8200", VAULT_CACERT=str(tmp_path / "nope.pem"))
    assert "nope.pem" in str(missing_ca.value)
    with pytest.raises(ExecutorConfigError) as bad_token:
        build(VAULT_TOKEN="s.secret-part\n")
    assert "secret-part" not in str(bad_token.value) and "VAULT_TOKEN" in str(bad_token.value)
    # Plain http never loads TLS settings; skip-verify builds without a CA.
    build(VAULT_ADDR="http://vault:8200", VAULT_CACERT=str(tmp_path / "nope.pem"))
    build(VAULT_ADDR="https://vault:8200", VAULT_SKIP_VERIFY="true")


@pytest.fixture(scope="module")
def tls_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VaultInstance, Path]]:
    """`bao server -dev -dev-tls`: OpenBao over https with a CA of its own."""
    workdir = tmp_path_factory.mktemp("openbao-tls")
    port, token = free_port_pair(), "root-" + uuid.uuid4().hex
    log = (workdir / "openbao.log").open("wb")
    process = subprocess.Popen(
        [
            bao_binary(),
            "server",
            "-dev",
            "-dev-tls",
            f"-dev-tls-cert-dir={workdir}",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-root-token-id={token}",
            "-dev-no-store-token",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(workdir)},
    )
    addr, ca = f"https://127.0.0.1:{port}", workdir / "vault-ca.pem"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                context = ssl.create_default_context(cafile=str(ca))
                health = f"{addr}/v1/sys/health"
                with urllib.request.urlopen(health, context=context, timeout=1):  # noqa: S310
                    break
            except (OSError, ValueError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        creds = operator.bootstrap(hvac.Client(addr, token=token, verify=str(ca)))
        yield VaultInstance(addr, token, creds.role_id, creds.secret_id), ca
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_https_with_vault_cacert_capath_or_skip_verify(
    tls_vault: tuple[VaultInstance, Path], tmp_path: Path
) -> None:
    vault, ca = tls_vault
    root = hvac.Client(vault.addr, token=vault.root_token, verify=str(ca))
    org = new_org()
    write_env(root, org, "staging", {"TLS_SECRET": "over-tls-value-42"})
    environ = executor_environ(root, vault.addr, org, "staging")

    def get(**tls: str) -> str:
        executor = Executor.from_env(org=org, environment="staging", environ={**environ, **tls})
        with executor:
            return executor.get("TLS_SECRET")

    assert get(VAULT_CACERT=str(ca)) == "over-tls-value-42"
    capath = tmp_path / "cas"
    capath.mkdir()
    (capath / "our-ca.pem").write_bytes(ca.read_bytes())  # not named by hash
    (capath / "README").write_text("not a certificate\n")
    assert get(VAULT_CAPATH=str(capath)) == "over-tls-value-42"
    assert get(VAULT_SKIP_VERIFY="1") == "over-tls-value-42"
    with pytest.raises(VaultUnreachable) as untrusted:
        get()  # the system's trust store does not know the dev server's CA
    message = str(untrusted.value)
    assert "TLS" in message and "VAULT_CACERT" in message, message
