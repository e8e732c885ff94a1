-- The inspections list pages newest first by id within the caller's county, optionally of one
-- status. The queue index (county_id, status, submitted_at, id) cannot give that order, so
-- both backends sorted every row of the county for each page: 0.5 s at 20,000 inspections
-- on SQLite. With these the first page reads 51 index entries (docs/performance.md).
CREATE INDEX inspections_county_status_id ON inspections (county_id, status, id);
CREATE INDEX inspections_county_id ON inspections (county_id, id);
