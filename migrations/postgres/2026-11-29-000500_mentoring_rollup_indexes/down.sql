DROP INDEX visits_township_date;
DROP INDEX visits_county_date;
DROP INDEX mentees_township;
DROP INDEX mentees_county;
