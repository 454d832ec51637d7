-- 0007: how a camera's RTP travels (ingest/camera.h, enum ing_transport):
-- interleaved on the RTSP connection (tcp, the default), udp, or RTSP
-- tunnelled over HTTP(S) ("Internet mode", tunnel). 0002 made the column
-- with tcp alone; a tunnel URL is https:// or http:// (GStreamer also says
-- rtspsh:// and rtsph://), which the URL's check must now let in.
ALTER TABLE cameras
    DROP CONSTRAINT cameras_transport_check,
    ADD CONSTRAINT cameras_transport_check CHECK (transport IN ('tcp', 'udp', 'tunnel')),
    DROP CONSTRAINT cameras_url_check,
    ADD CONSTRAINT cameras_url_check CHECK (url ~ '^(rtsps?|rtsps?h|https?)://');
