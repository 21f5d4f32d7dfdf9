"""What Vault's HTTP statuses mean, for the facade (`vaultfront.store`) and the executor
(`vaultfront.executor`) alike: one table, so both tell a refusal from an outage the same
way. Pure: no I/O, standard library only (the executor may import it)."""

from __future__ import annotations

from typing import Final

#: A refusal: the caller's token or policy does not allow the call (or the token was
#: revoked or expired). Not an outage: waiting does not help, credentials or policy do.
REFUSED_STATUSES: Final = frozenset({403})

#: Statuses of a Vault that cannot serve now: rate limited (429), a DR secondary (472) or
#: performance standby (473) asked for what it does not serve, not initialised (501),
#: sealed or without a leader (503); 502 and 504 come from a proxy or load balancer in
#: front of a Vault that does not answer.
UNAVAILABLE_STATUSES: Final = {
    429: "rate limiting requests",
    472: "a disaster-recovery secondary",
    473: "a performance standby",
    501: "not initialised",
    502: "not answering its proxy",
    503: "sealed or without a leader",
    504: "not answering its proxy in time",
}
