-- Issue 16: the longest side, in pixels, to which the phone downsizes a photo before sending
-- it (keeping its EXIF block); 0 sends the original.
ALTER TABLE county_policies ADD COLUMN phone_photo_max_px INTEGER NOT NULL DEFAULT 0;
