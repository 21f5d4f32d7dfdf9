# vaultfront facade: the web tier's Vault identity.
# It encrypts, writes and reads ciphertext, rewraps and deletes. It can NOT decrypt:
# compromising the web tier yields ciphertext and masks only (SPEC section 1).
# Placeholders ($kv_mount, $transit_mount) are filled by `vaultfront vault bootstrap`.

# Index documents and out-of-line values. (Writes in flight wait in the database's
# outbox, not in Vault: everything under orgs/ is committed.)
path "$kv_mount/data/orgs/*" {
  capabilities = ["create", "read", "update"]
}
path "$kv_mount/metadata/orgs/*" {
  # delete here destroys every version of an entry (a deleted secret leaves nothing)
  capabilities = ["read", "list", "delete"]
}

# Transit: encrypt and rewrap with existing keys (update only: encrypt cannot auto-create).
path "$transit_mount/encrypt/*" {
  capabilities = ["update"]
}
path "$transit_mount/rewrap/*" {
  capabilities = ["update"]
}
# Key management: `keys/+`, not `keys/*` (which would also match keys/NAME/trim).
path "$transit_mount/keys/+" {
  capabilities = ["read", "update"]
  allowed_parameters = {
    "type" = ["aes256-gcm96"]
    "exportable" = [false]
    "allow_plaintext_backup" = [false]
    "derived" = [false]
  }
}
path "$transit_mount/keys/+/rotate" {
  capabilities = ["update"]
}

# Explicit denials win over any other grant.
path "$transit_mount/decrypt/*" {
  capabilities = ["deny"]
}
path "$transit_mount/export/*" {
  capabilities = ["deny"]
}
path "$transit_mount/backup/*" {
  capabilities = ["deny"]
}
path "$transit_mount/datakey/*" {
  capabilities = ["deny"]
}
path "$transit_mount/keys/+/config" {
  capabilities = ["deny"]
}

# The token's own upkeep (the AppRole has no `default` policy; it halves throughput).
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}
