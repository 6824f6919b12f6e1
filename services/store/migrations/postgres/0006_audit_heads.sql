-- The hub signs the head of its audit chain (its length and last hash) at least once a
-- minute while the chain grows and at every action-day close, with an Ed25519 key of its
-- own made on first start, so that an export cut short of a signed head is caught.
CREATE TABLE hub_audit_keys (
    kid         TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    public_pem  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE audit_heads (
    seq       BIGINT PRIMARY KEY,
    jws       TEXT NOT NULL,
    signed_at BIGINT NOT NULL
);
