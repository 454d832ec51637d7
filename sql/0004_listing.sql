-- 0004: recording listings that read only the index.
--
-- A listing asks "segments of stream S overlapping [a, b)". A btree on the
-- start time finds them as "start in [a - longest segment, b)"; 0002's
-- query assumed no segment is longer than an hour, which is wrong (with
-- segment_duration = 60m and no clean point a segment runs to two hours)
-- and, with minute segments, read twice the rows it needed. Each stream
-- now keeps the length of its longest segment, kept by a trigger, so the
-- bound is exact whatever segment_duration was when a segment was made.
ALTER TABLE streams ADD COLUMN max_span interval NOT NULL DEFAULT interval '0';

UPDATE streams s SET max_span = coalesce(
    (SELECT max(upper(g.time_range) - lower(g.time_range)) FROM segments g WHERE g.stream_id = s.id),
    interval '0');

CREATE FUNCTION segments_max_span() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only a longer segment writes the stream row: most inserts only read it.
    UPDATE streams SET max_span = upper(NEW.time_range) - lower(NEW.time_range)
     WHERE id = NEW.stream_id AND max_span < upper(NEW.time_range) - lower(NEW.time_range);
    RETURN NULL;
END $$;

CREATE TRIGGER segments_max_span AFTER INSERT ON segments
    FOR EACH ROW EXECUTE FUNCTION segments_max_span();

-- The same key as before, carrying every column a listing returns, so a
-- listing is an index-only scan: a handful of pages rather than one heap
-- page per segment (a camera's segments are spread among every other
-- camera's, as they are written in time order).
DROP INDEX segments_stream_start;
CREATE INDEX segments_stream_start ON segments (stream_id, lower(time_range))
    INCLUDE (time_range, id, seq, key_id, bytes, packets, clean_start, tag_verified, forged, lost);

-- Index-only scans skip the heap only for pages marked all-visible, which
-- VACUUM does. segments is insert-only, and by default autovacuum visits
-- such a table after it grew by a fifth: weeks for a large recorder. Every
-- 10,000 new rows (a few hours of a hundred cameras) keeps the map fresh.
ALTER TABLE segments SET (autovacuum_vacuum_insert_threshold = 10000,
                          autovacuum_vacuum_insert_scale_factor = 0);
