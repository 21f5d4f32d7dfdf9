"""The facade's Vault session: AppRole login, renewal and re-login, token mode."""

from __future__ import annotations

import time

import hvac
import pytest
from conftest import VaultInstance, settings_for

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.errors import VaultUnavailable
from vaultfront.vault import VaultStore


def short_lived_role(vault: VaultInstance) -> tuple[str, str]:
    """The facade's policy on an AppRole whose tokens live 2 s (at most 4 s)."""
    root = vault.root_client()
    root.auth.approle.create_or_update_approle(
        "vaultfront-facade-short",
        token_policies=[operator.FACADE_POLICY],
        token_ttl="2s",
        token_max_ttl="4s",
        token_no_default_policy=True,
    )
    role_id = root.auth.approle.read_role_id("vaultfront-facade-short")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("vaultfront-facade-short")["data"]["secret_id"]
    return role_id, secret_id


def test_store_keeps_working_past_its_token_ttl(vault: VaultInstance) -> None:
    role_id, secret_id = short_lived_role(vault)
    settings = settings_for(vault, "sqlite://")
    settings = type(settings)(
        **{**settings.__dict__, "vault_role_id": role_id, "vault_secret_id": secret_id}
    )
    store = VaultStore(settings)
    tokens_seen = set()
    deadline = time.monotonic() + 5.5
    calls = 0
    while time.monotonic() < deadline:
        ciphertext = store.encrypt("renewal", "staging", "value-for-renewal-test")
        assert layout.is_ciphertext(ciphertext)
        tokens_seen.add(store.client().token)
        calls += 1
        time.sleep(0.25)
    # The first token expired after at most 4 s, so the store must have logged in again.
    assert len(tokens_seen) >= 2, f"one token for {calls} calls over 5.5 s: no renewal or re-login"
    lookup = hvac.Client(vault.addr, token=store.client().token).lookup_token()["data"]
    assert lookup["policies"] == [operator.FACADE_POLICY], lookup["policies"]


def test_store_with_a_token_instead_of_an_approle(vault: VaultInstance) -> None:
    root = vault.root_client()
    token = root.auth.token.create(
        policies=[operator.FACADE_POLICY], no_default_policy=True, ttl="10m"
    )["auth"]["client_token"]
    settings = settings_for(vault, "sqlite://")
    settings = type(settings)(
        **{
            **settings.__dict__,
            "vault_role_id": None,
            "vault_secret_id": None,
            "vault_token": token,
        }
    )
    assert layout.is_ciphertext(VaultStore(settings).encrypt("tokenmode", "production", "abc"))


def test_store_without_credentials_says_what_to_set(vault: VaultInstance) -> None:
    settings = settings_for(vault, "sqlite://")
    settings = type(settings)(
        **{**settings.__dict__, "vault_role_id": None, "vault_secret_id": None}
    )
    with pytest.raises(VaultUnavailable) as caught:
        VaultStore(settings).encrypt("nocreds", "staging", "abc")
    assert "VAULTFRONT_VAULT_ROLE_ID" in caught.value.message


def test_unreachable_vault_is_a_503_with_a_sentence(vault: VaultInstance) -> None:
    from vaultfront.devserver import free_port

    settings = settings_for(vault, "sqlite://")
    settings = type(settings)(
        **{**settings.__dict__, "vault_addr": f"http://127.0.0.1:{free_port()}"}
    )
    with pytest.raises(VaultUnavailable) as caught:
        VaultStore(settings).encrypt("down", "staging", "a-value-that-must-not-leak")
    assert caught.value.status == 503 and caught.value.code == "vault_unavailable"
    assert "cannot be reached" in caught.value.message
    assert "a-value-that-must-not-leak" not in caught.value.message
