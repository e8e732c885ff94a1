ALTER TABLE county_policies DROP COLUMN phone_photo_max_px;
