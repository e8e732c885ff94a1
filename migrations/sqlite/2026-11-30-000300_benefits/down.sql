DROP INDEX benefit_catalogues_county_version;
DROP TABLE benefit_catalogues;
