"""The facade's Vault session: AppRole login, renewal and re-login, token mode."""

from __future__ import annotations

from dataclasses import replace

import hvac
import pytest
from conftest import FakeClock, VaultInstance, settings_for

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.config import Settings
from vaultfront.errors import VaultUnavailable
from vaultfront.store.vault import VaultStore


def facade_role(vault: VaultInstance, name: str, ttl: str, max_ttl: str) -> Settings:
    """Settings that log in with the facade's policy on an AppRole of these token TTLs."""
    root = vault.root_client()
    root.auth.approle.create_or_update_approle(
        name,
        token_policies=[operator.FACADE_POLICY],
        token_ttl=ttl,
        token_max_ttl=max_ttl,
        token_no_default_policy=True,
    )
    role_id = root.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    settings = settings_for(vault, "sqlite://")
    return replace(settings, vault_role_id=role_id, vault_secret_id=secret_id)


def test_store_logs_in_again_when_its_token_cannot_be_renewed_for_long(
    vault: VaultInstance,
) -> None:
    """Tokens that live 2 s (at most 4 s): once two thirds of the TTL have passed, renewal
    would give less than a minute, so the store logs in again and keeps encrypting."""
    clock = FakeClock()
    store = VaultStore(facade_role(vault, "vaultfront-facade-short", "2s", "4s"), clock=clock)
    assert layout.is_ciphertext(store.encrypt("renewal", "staging", "value-for-renewal-test"))
    first = store.client().token
    clock.advance(1.0)  # a third of the TTL has passed: not yet time to renew
    assert store.client().token == first
    clock.advance(0.5)  # past two thirds
    assert layout.is_ciphertext(store.encrypt("renewal", "staging", "value-for-renewal-test"))
    second = store.client().token
    assert second != first, "the store kept its token past two thirds of its TTL"
    lookup = hvac.Client(vault.addr, token=second).lookup_token()["data"]
    assert lookup["policies"] == [operator.FACADE_POLICY], lookup["policies"]


def test_store_renews_a_long_lived_token_in_place(vault: VaultInstance) -> None:
    """Tokens that live 10 minutes (at most an hour): renewed (auth/token/renew-self), the
    same token, once two thirds of its TTL have passed."""
    clock = FakeClock()
    store = VaultStore(facade_role(vault, "vaultfront-facade-long", "10m", "1h"), clock=clock)
    assert layout.is_ciphertext(store.encrypt("renewal", "staging", "value-for-renewal-test"))
    token = store.client().token
    before = hvac.Client(vault.addr, token=token).lookup_token()["data"]
    clock.advance(7 * 60)
    assert layout.is_ciphertext(store.encrypt("renewal", "staging", "value-for-renewal-test"))
    assert store.client().token == token
    after = hvac.Client(vault.addr, token=token).lookup_token()["data"]
    assert after.get("last_renewal_time") and not before.get("last_renewal_time"), (before, after)


def test_store_with_a_token_instead_of_an_approle(vault: VaultInstance) -> None:
    root = vault.root_client()
    token = root.auth.token.create(
        policies=[operator.FACADE_POLICY], no_default_policy=True, ttl="10m"
    )["auth"]["client_token"]
    settings = replace(
        settings_for(vault, "sqlite://"),
        vault_role_id=None,
        vault_secret_id=None,
        vault_token=token,
    )
    assert layout.is_ciphertext(VaultStore(settings).encrypt("tokenmode", "production", "abc"))


def test_store_without_credentials_says_what_to_set(vault: VaultInstance) -> None:
    settings = replace(settings_for(vault, "sqlite://"), vault_role_id=None, vault_secret_id=None)
    with pytest.raises(VaultUnavailable) as caught:
        VaultStore(settings).encrypt("nocreds", "staging", "abc")
    assert "VAULTFRONT_VAULT_ROLE_ID" in caught.value.message


def test_unreachable_vault_is_a_503_with_a_sentence(vault: VaultInstance) -> None:
    from vaultfront.devserver import free_port

    settings = replace(
        settings_for(vault, "sqlite://"), vault_addr=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(VaultUnavailable) as caught:
        VaultStore(settings).encrypt("down", "staging", "a-value-that-must-not-leak")
    assert caught.value.status == 503 and caught.value.code == "vault_unavailable"
    assert "cannot be reached" in caught.value.message
    assert "a-value-that-must-not-leak" not in caught.value.message
