ALTER TABLE photos DROP COLUMN downsized_from;
DROP INDEX uploads_expires;
DROP INDEX uploads_user;
DROP TABLE uploads;
