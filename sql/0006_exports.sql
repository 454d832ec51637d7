-- 0006: evidence export jobs made through the API (web/exports.h). The
-- bundle is a file below the storage root (exports/<id>.tar); this row
-- says who asked for it, why, and how the job ended. Rows are kept: they
-- are the record of what left the recorder (as the audit log is).
CREATE TABLE exports (
    id              uuid PRIMARY KEY,
    created_by      text NOT NULL,
    address         text NOT NULL,
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1024),
    cameras         text[] NOT NULL,
    time_range      tstzrange NOT NULL CHECK (NOT isempty(time_range)),
    state           text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    bytes_total     bigint,          -- segment bytes to copy, once chosen
    size            bigint,          -- the bundle's size, once done
    error           text,            -- why it failed
    path            text,            -- relative to the storage root, once done
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX exports_created_by ON exports (created_by, created_at DESC);
