-- Issue 14: each county's benefit catalogue, versioned. A save adds a version and changes none:
-- the report for a past date reads the version in force that day.
CREATE TABLE benefit_catalogues (
    id TEXT PRIMARY KEY NOT NULL,
    county_id TEXT NOT NULL REFERENCES org_units(id),
    version INTEGER NOT NULL,
    effective_on DATE NOT NULL,
    body TEXT NOT NULL,
    saved_by TEXT,
    saved_by_name TEXT NOT NULL,
    saved_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX benefit_catalogues_county_version ON benefit_catalogues (county_id, version);
