-- 0002: cameras, key holders and the index of recorded segments.
-- Timestamps are timestamptz (UTC). Ids are UUIDs made by nvrd/nvrctl.

-- A camera as configured. The password is sealed under the recorder-local
-- secret (AES-256-GCM, docs/FORMAT.md); it is never stored in clear.
CREATE TABLE cameras (
    id              uuid PRIMARY KEY,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    url             text NOT NULL CHECK (url ~ '^rtsps?://'),
    username        text,
    password_sealed bytea,
    tls_ca_pem      text,            -- camera CA bundle; NULL: see tls_pin or the system store
    tls_pin_sha256  bytea CHECK (tls_pin_sha256 IS NULL OR length(tls_pin_sha256) = 32),
    transport       text NOT NULL DEFAULT 'tcp' CHECK (transport IN ('tcp')),
    allow_basic     boolean NOT NULL DEFAULT false,
    plain_rtp       boolean NOT NULL DEFAULT false,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Removing a camera stops it and hides it; its recordings and their
    -- index stay until retention or an operator deletes them.
    removed_at      timestamptz
);
CREATE UNIQUE INDEX cameras_active_name ON cameras (name) WHERE removed_at IS NULL;

-- What nvrd last saw of each camera: one row per camera, updated on every
-- state change and every few seconds while recording.
CREATE TABLE camera_status (
    camera_id       uuid PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    state           text NOT NULL,
    last_error      text,
    since           timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    packets         bigint NOT NULL DEFAULT 0,
    bytes           bigint NOT NULL DEFAULT 0,
    forged          bigint NOT NULL DEFAULT 0,
    replayed        bigint NOT NULL DEFAULT 0,
    lost            bigint NOT NULL DEFAULT 0,
    reconnects      bigint NOT NULL DEFAULT 0
);

-- People or services who may view video: only their public keys are here.
CREATE TABLE key_holders (
    id              uuid PRIMARY KEY,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    public_key_pem  text NOT NULL,
    fingerprint     bytea NOT NULL CHECK (length(fingerprint) = 32),  -- SHA-256 of the SPKI DER
    created_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
CREATE UNIQUE INDEX key_holders_active_name ON key_holders (name) WHERE removed_at IS NULL;
CREATE UNIQUE INDEX key_holders_active_fingerprint ON key_holders (fingerprint) WHERE removed_at IS NULL;

-- One media stream of a camera (a= control of the SDP), kept across
-- sessions so that its segments form one hash chain.
CREATE TABLE streams (
    id              uuid PRIMARY KEY,
    camera_id       uuid NOT NULL REFERENCES cameras (id) ON DELETE RESTRICT,
    name            text NOT NULL,   -- "video", "audio", "video2" ...
    codec           text,
    clock_rate      integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (camera_id, name)
);

-- One SRTP session (one master key): key_id names the sealed key.
CREATE TABLE rtsp_sessions (
    key_id          uuid PRIMARY KEY,
    stream_id       uuid NOT NULL REFERENCES streams (id) ON DELETE RESTRICT,
    ssrc            bigint,
    suite           text NOT NULL,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz
);

-- The session key sealed to each key holder (the same JSON as the
-- keys/<key_id>.sealed.json file; docs/FORMAT.md).
CREATE TABLE sealed_keys (
    key_id          uuid NOT NULL REFERENCES rtsp_sessions (key_id) ON DELETE RESTRICT,
    key_holder_id   uuid NOT NULL REFERENCES key_holders (id),
    sealed          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, key_holder_id)
);

-- A durable, signed segment. Rows are added only once the segment file,
-- its manifest and signature are on disk.
CREATE TABLE segments (
    id              uuid PRIMARY KEY,
    stream_id       uuid NOT NULL REFERENCES streams (id) ON DELETE RESTRICT,
    seq             bigint NOT NULL,
    key_id          uuid NOT NULL,
    path            text NOT NULL,   -- relative to the storage root
    time_range      tstzrange NOT NULL,
    bytes           bigint NOT NULL,
    packets         bigint NOT NULL,
    sha256          bytea NOT NULL CHECK (length(sha256) = 32),
    manifest_sha256 bytea NOT NULL CHECK (length(manifest_sha256) = 32),
    prev_manifest_sha256 bytea,
    forged          bigint NOT NULL DEFAULT 0,
    lost            bigint NOT NULL DEFAULT 0,
    clean_start     boolean NOT NULL,
    tag_verified    boolean NOT NULL,
    indexed_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, seq)
);
-- Recordings are evidence: nothing here cascades into segments, sessions
-- or sealed keys; deleting them is retention's explicit job.

-- Listings ask "segments of stream S overlapping [a, b)": a btree on the
-- start time serves that without the btree_gist extension, which a
-- restricted database role may not be allowed to create.
CREATE INDEX segments_stream_start ON segments (stream_id, lower(time_range));
