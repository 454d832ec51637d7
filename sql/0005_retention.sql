-- 0005: retention limits, evidence holds, and tombstones of segments
-- being deleted (storage/retention.h).

-- Per camera limits; NULL: no limit. A storage root's high-water mark is
-- in nvrd.conf ([storage] high_water), not here: it is the machine's.
ALTER TABLE cameras
    ADD COLUMN retain_max_age interval CHECK (retain_max_age IS NULL OR retain_max_age > interval '0'),
    ADD COLUMN retain_max_bytes bigint CHECK (retain_max_bytes IS NULL OR retain_max_bytes > 0);

-- An evidence hold: segments of the camera overlapping time_range are
-- exempt from retention until the hold is released. Rows are never
-- deleted: a released hold stays as the record of who held what, and why.
CREATE TABLE holds (
    id              uuid PRIMARY KEY,
    camera_id       uuid NOT NULL REFERENCES cameras (id) ON DELETE RESTRICT,
    time_range      tstzrange NOT NULL CHECK (NOT isempty(time_range)),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1024),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    released_at     timestamptz,
    released_by     text,
    CHECK ((released_at IS NULL) = (released_by IS NULL))
);
CREATE INDEX holds_active ON holds (camera_id) WHERE released_at IS NULL;

-- A segment being deleted: retention moves its row here in the statement
-- that takes it out of segments (so listings never show it), unlinks its
-- files, then deletes this row. nvrd finishes what is left here at start,
-- before it re-indexes files that have no segment row.
CREATE TABLE segment_tombstones (
    segment_id      uuid PRIMARY KEY,
    camera_id       uuid NOT NULL,
    path            text NOT NULL,   -- relative to the storage root
    bytes           bigint NOT NULL,
    time_range      tstzrange NOT NULL,
    deleted_at      timestamptz NOT NULL DEFAULT now()
);
