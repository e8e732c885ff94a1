-- The mentoring roll-up counts mentees and follow-ups per village for a whole county or
-- township with grouped queries; these indexes let it read only that county's rows.
CREATE INDEX mentees_county ON mentees (county_id, village_id);
CREATE INDEX mentees_township ON mentees (township_id, village_id);
CREATE INDEX visits_county_date ON visits (county_id, visited_on);
CREATE INDEX visits_township_date ON visits (township_id, visited_on);
