-- 0008: a camera can record and still be less safe than it should be: a
-- plain-RTP camera (cameras.plain_rtp) is encrypted at ingest, but its
-- network link is not protected. The state stays 'recording' (it is
-- recording); this says what is wrong with it. NULL when nothing is.
ALTER TABLE camera_status ADD COLUMN warning text;
