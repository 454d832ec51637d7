-- 0009: what an export job's bundle lacks of the range asked for, and the
-- damaged segments it was allowed to keep (storage/export.h's report:
-- {complete, missing, damaged}), so that the API says a bundle is shorter
-- than asked as export.json does. NULL until the job is done.
ALTER TABLE exports ADD COLUMN report jsonb;
