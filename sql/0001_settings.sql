-- 0001: recorder-wide settings, one row per named setting.
-- Later migrations add cameras, segments, users and the audit log.
-- Every migration runs inside nvrd's migration transaction: no statement
-- here may need to run outside one (no CREATE INDEX CONCURRENTLY).

CREATE TABLE settings (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.]{0,63}$'),
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE settings IS 'recorder-wide settings changed at run time (the API), as opposed to nvrd.conf';
