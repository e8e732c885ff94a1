-- Issue 16: resumable photo uploads (tus 1.0.0). The bytes received so far are kept on the local
-- disk under the data dir (uploads/{id}); the row says how many, for which photo, until when.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    county_id TEXT NOT NULL,
    inspection_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    length BIGINT NOT NULL,
    upload_offset BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    downsized_from TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    outcome TEXT
);
CREATE INDEX uploads_user ON uploads (user_id);
CREATE INDEX uploads_expires ON uploads (expires_at);

-- The original's size when the phone downsized a photo before sending it ("4032x3024").
ALTER TABLE photos ADD COLUMN downsized_from TEXT;
