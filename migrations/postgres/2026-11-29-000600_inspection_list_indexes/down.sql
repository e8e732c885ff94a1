DROP INDEX inspections_county_id;
DROP INDEX inspections_county_status_id;
