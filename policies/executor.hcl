# vaultfront executor for one organization ($org) and one environment ($env).
# It reads that environment's index and out-of-line values and decrypts with that
# environment's Transit key; nothing else. Exact paths, never `$env*` (which would also
# match `$env` followed by anything).
# Placeholders are filled by `vaultfront vault executor-role --org ORG --env ENV`.

path "$kv_mount/data/orgs/$org/$env" {
  capabilities = ["read"]
}
path "$kv_mount/data/orgs/$org/$env/large/*" {
  capabilities = ["read"]
}
path "$transit_mount/decrypt/$transit_key" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}
