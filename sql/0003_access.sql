-- 0003: who may use the API (users, camera grants, console sessions) and
-- the append-only, hash-chained audit log. docs/API.md says how each is used.

-- A person or service using the HTTPS API. No row exists after install:
-- the first admin is made on the machine with `nvrctl user add`.
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    -- 1 to 32 bytes, none of " & ; ` : and no control characters
    name            text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 32
                                         AND name !~ '["&;`:[:cntrl:]]'),
    role            text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'auditor')),
    -- scrypt (OpenSSL's KDF), as "scrypt$N$r$p$salt$hash" (base64): for
    -- session logins.
    password_hash   text NOT NULL,
    -- HTTP Digest needs H(user:realm:password) for MD5 and SHA-256; both are
    -- kept sealed under the recorder-local secret (storage/secret.h), bound
    -- to the user id, never in clear.
    ha1_sealed      bytea NOT NULL,
    -- The key holder whose sealed keys this user may fetch (NULL: none).
    key_holder_id   uuid REFERENCES key_holders (id),
    -- operator and viewer see the cameras in user_cameras, or every camera.
    all_cameras     boolean NOT NULL DEFAULT false,
    disabled        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
CREATE UNIQUE INDEX users_active_name ON users (name) WHERE removed_at IS NULL;

CREATE TABLE user_cameras (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    camera_id       uuid NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, camera_id)
);

-- Console sessions: the cookie's token is 32 random bytes; only its
-- SHA-256 is stored, so a copy of the database opens no session.
CREATE TABLE api_sessions (
    token_sha256    bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX api_sessions_user ON api_sessions (user_id);

-- The audit log. Rows are numbered 1, 2, 3 ... without gaps (not a
-- sequence: a rolled-back insert would leave a gap that looks like a
-- deletion); each carries the SHA-256 of the row before it and its own
-- (docs/FORMAT.md "audit chain"), so an edited, deleted or inserted row
-- breaks the chain. Writers serialise on an advisory lock.
CREATE TABLE audit_log (
    id              bigint PRIMARY KEY CHECK (id >= 1),
    at              timestamptz NOT NULL,
    actor           text NOT NULL,   -- user name, "nvrctl:<login>", "nvrd" or "-"
    address         text NOT NULL,   -- client address, "local" for nvrctl
    action          text NOT NULL,   -- "auth.login", "camera.add" ...
    object          text NOT NULL,   -- what it acted on, "" if nothing
    outcome         text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail          text NOT NULL,   -- a JSON object, byte for byte as hashed
    prev_sha256     bytea NOT NULL CHECK (length(prev_sha256) = 32),
    sha256          bytea NOT NULL CHECK (length(sha256) = 32)
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Every so often the head of the chain is signed with the recorder's
-- signing key: rewriting the whole chain after an edit then still fails.
CREATE TABLE audit_checkpoints (
    audit_id        bigint PRIMARY KEY REFERENCES audit_log (id),
    sha256          bytea NOT NULL CHECK (length(sha256) = 32),
    at              timestamptz NOT NULL DEFAULT now(),
    cert_sha256     bytea NOT NULL CHECK (length(cert_sha256) = 32),
    signature       bytea NOT NULL
);

-- Append-only: PostgreSQL refuses to change or remove a row. (The owner
-- can drop the trigger; the chain and checkpoints are what prove it.)
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
