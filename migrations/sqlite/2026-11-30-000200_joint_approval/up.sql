-- Issue 14: who verifies. The county's programme department and its association verify
-- together (joint approval); townships take part, and may check their villages' declarations
-- before the county sees them.

-- A reviewer belongs to one of the two verifying bodies: 'department' or 'association'.
ALTER TABLE users ADD COLUMN body TEXT;
-- Reviewers made before bodies existed were the department's.
UPDATE users SET body = 'department' WHERE role = 'reviewer';

-- The county's procedure: an approval needs both bodies (the programme's rule), and townships
-- may pre-check their villages' declarations.
ALTER TABLE county_policies ADD COLUMN joint_approval BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE county_policies ADD COLUMN township_precheck BOOLEAN NOT NULL DEFAULT 0;

-- One approval of a revision per body; the decision is written when the last body approves.
-- A reopened decision withdraws the approvals that made it.
CREATE TABLE approvals (
    id TEXT PRIMARY KEY NOT NULL,
    inspection_id TEXT NOT NULL REFERENCES inspections(id),
    revision INTEGER NOT NULL,
    county_id TEXT NOT NULL,
    body TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    comment TEXT NOT NULL,
    acknowledged_flags TEXT NOT NULL DEFAULT '[]',
    approved_at TIMESTAMP NOT NULL,
    withdrawn_at TIMESTAMP
);
CREATE UNIQUE INDEX approvals_live ON approvals (inspection_id, revision, body) WHERE withdrawn_at IS NULL;

-- Which body's approval an inspection in 'awaiting_second_approval' still needs.
ALTER TABLE inspections ADD COLUMN awaiting_body TEXT;

-- The township's check of a declaration: who forwarded or sent it back, when, and why.
ALTER TABLE declarations ADD COLUMN checked_by TEXT;
ALTER TABLE declarations ADD COLUMN checked_at TIMESTAMP;
ALTER TABLE declarations ADD COLUMN check_comment TEXT;
DROP INDEX declarations_open;
CREATE UNIQUE INDEX declarations_open ON declarations (village_id, quarter) WHERE status IN ('awaiting_township', 'pending', 'inspecting');
