-- Reports walk a county's villages in code order a page at a time: without this index each
-- page sorted every village of the county.
CREATE INDEX org_units_county_level_code ON org_units (county_id, level, code);
