package main

// callsPerRotation is the section of docs/PERFORMANCE.md that lists the
// calls one rotation makes and what each proves. The count is pinned by
// TestHappyPathCallBudget (internal/localstack), which fails before this
// table can go stale.
const callsPerRotation = `
## Calls per rotation

A personal token without replicas, previous token revoked at once
(PREVIOUS_TOKEN_GRACE=0s): 8 Secrets Manager and 6 Aiven calls, 14 in all,
pinned by ` + "`TestHappyPathCallBudget`" + ` (at most 14). With a grace period the
DELETE moves to a later sweep or rotation: 13.

| step | call | what it proves |
|---|---|---|
| createSecret | DescribeSecret | the guard: rotation enabled, this function's secret, the version AWSPENDING |
| createSecret | GetSecretValue (AWSCURRENT) | the token to replace, and the settings it carries |
| createSecret | GET /v1/me, current token | whose token is made: the new value records the user and its id |
| createSecret | GET /v1/access_token, current token | the replaced token's prefix, this version's orphans, abandoned rotations' tokens, and whether a token for this version exists at all |
| createSecret | POST /v1/access_token | the new token, marked with the secret, the version and the attempt |
| createSecret | PutSecretValue (AWSPENDING) | the pending version, idempotent by ClientRequestToken, carrying the RotationToken |
| setSecret | none | Aiven activates a token on creation: nothing to set |
| testSecret | DescribeSecret | the guard |
| testSecret | GetSecretValue (AWSPENDING) | the pending token |
| testSecret | GET /v1/me, pending token | the new token works, as the user createSecret recorded |
| finishSecret | DescribeSecret | the guard, and which version is AWSCURRENT now |
| finishSecret | GetSecretValue (version id) | the new value and the prefix of the token it replaces |
| finishSecret | GET /v1/access_token, new token | the new token still works just before the promotion (I1), and the markers of stale tokens |
| finishSecret | UpdateSecretVersionStage | the promotion |
| finishSecret | DELETE /v1/access_token/{prefix} | the replaced token revoked |

Removed in issue 18, proving nothing new: setSecret's DescribeSecret and
GetSecretValue (testSecret reads and proves the pending version next), and
createSecret's GetSecretValue of the pending version when Aiven lists no
token with this version's marker (a stored value's token carries it).
`
