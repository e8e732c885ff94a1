-- Issue 13, the programme's certification rules.

-- A decision keeps the alerts its reviewer acknowledged, and a reopened decision stays on the
-- record beside the decision that replaces it: one live decision per revision.
ALTER TABLE decisions ADD COLUMN acknowledged_flags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN reopened_at TIMESTAMP;
ALTER TABLE decisions ADD COLUMN reopened_by TEXT;
ALTER TABLE decisions ADD COLUMN reopen_reason TEXT;
DROP INDEX decisions_inspection_revision;
CREATE UNIQUE INDEX decisions_inspection_revision ON decisions (inspection_id, revision) WHERE reopened_at IS NULL;

-- A cancelled inspection no longer holds its declaration.
DROP INDEX inspections_live;
CREATE UNIQUE INDEX inspections_live ON inspections (declaration_id) WHERE status NOT IN ('returned', 'cancelled');

-- The day a closed verification window expired a declaration (expired, unverified).
ALTER TABLE declarations ADD COLUMN closed_on DATE;

-- A county's verification window for a quarter, where its admin set one.
CREATE TABLE quarter_windows (
    county_id TEXT NOT NULL REFERENCES org_units(id),
    quarter TEXT NOT NULL,
    opens_on DATE NOT NULL,
    closes_on DATE NOT NULL,
    updated_by TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (county_id, quarter)
);

-- Every policy a county has had, from the day it applied: policies are not retroactive.
CREATE TABLE policy_changes (
    id TEXT PRIMARY KEY NOT NULL,
    county_id TEXT NOT NULL REFERENCES org_units(id),
    effective_on DATE NOT NULL,
    max_step INTEGER NOT NULL,
    rectify_months INTEGER NOT NULL,
    ban_months INTEGER NOT NULL,
    actor_id TEXT,
    actor TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX policy_changes_county ON policy_changes (county_id, effective_on, changed_at);
-- A policy set before this history existed was applied to every date: it stays so.
INSERT INTO policy_changes (id, county_id, effective_on, max_step, rectify_months, ban_months, actor_id, actor, changed_at)
SELECT 'migrated-' || county_id, county_id, DATE '1970-01-01', max_step, rectify_months, ban_months, NULL, 'fieldstar', updated_at
FROM county_policies;
