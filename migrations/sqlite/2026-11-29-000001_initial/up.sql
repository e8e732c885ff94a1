-- Org units: county -> township -> village. Every scoped row carries county_id,
-- township_id and village_id so that one scope filter serves every table.
CREATE TABLE org_units (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent_id TEXT REFERENCES org_units(id),
    county_id TEXT NOT NULL,
    township_id TEXT,
    village_id TEXT,
    lat DOUBLE,
    lon DOUBLE,
    radius_m DOUBLE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX org_units_code ON org_units (code);
CREATE INDEX org_units_parent ON org_units (parent_id, id);
CREATE INDEX org_units_county ON org_units (county_id, level, id);
CREATE INDEX org_units_township ON org_units (township_id, id);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    org_unit_id TEXT NOT NULL REFERENCES org_units(id),
    county_id TEXT NOT NULL,
    township_id TEXT,
    village_id TEXT,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (username);
CREATE INDEX users_county ON users (county_id, id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE login_failures (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_address ON login_failures (address, at);

CREATE TABLE county_policies (
    county_id TEXT PRIMARY KEY NOT NULL REFERENCES org_units(id),
    max_step INTEGER NOT NULL,
    rectify_months INTEGER NOT NULL,
    ban_months INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    county_id TEXT,
    summary TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, id);
CREATE INDEX audit_log_county ON audit_log (county_id, id);

-- Checklist templates: county_id NULL means a default available to every county.
CREATE TABLE checklist_versions (
    id TEXT PRIMARY KEY NOT NULL,
    county_id TEXT,
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    star_level INTEGER NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    etag TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
CREATE UNIQUE INDEX checklist_versions_code_version ON checklist_versions (code, version);

CREATE TABLE star_baselines (
    village_id TEXT PRIMARY KEY NOT NULL REFERENCES org_units(id),
    county_id TEXT NOT NULL,
    level INTEGER NOT NULL,
    since_quarter TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE declarations (
    id TEXT PRIMARY KEY NOT NULL,
    village_id TEXT NOT NULL REFERENCES org_units(id),
    township_id TEXT,
    county_id TEXT NOT NULL,
    quarter TEXT NOT NULL,
    star_level INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX declarations_open ON declarations (village_id, quarter) WHERE status IN ('pending', 'inspecting');
CREATE INDEX declarations_county ON declarations (county_id, status, id);
CREATE INDEX declarations_village ON declarations (village_id, quarter);

CREATE TABLE inspections (
    id TEXT PRIMARY KEY NOT NULL,
    declaration_id TEXT NOT NULL REFERENCES declarations(id),
    village_id TEXT NOT NULL,
    township_id TEXT,
    county_id TEXT NOT NULL,
    inspector_id TEXT NOT NULL,
    checklist_code TEXT NOT NULL,
    checklist_version INTEGER NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    evaluation TEXT NOT NULL,
    score DOUBLE NOT NULL,
    passed BOOLEAN NOT NULL,
    flags TEXT NOT NULL,
    flag_severity INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    client_submitted_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    submitted_at TIMESTAMP,
    claimed_by TEXT,
    claim_expires_at TIMESTAMP,
    decided_at TIMESTAMP,
    return_comment TEXT,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX inspections_live ON inspections (declaration_id) WHERE status <> 'returned';
CREATE INDEX inspections_queue ON inspections (county_id, status, submitted_at, id);
CREATE INDEX inspections_village ON inspections (village_id, id);

-- Decisions are immutable: one row per decided revision; the star engine reads them.
CREATE TABLE decisions (
    id TEXT PRIMARY KEY NOT NULL,
    inspection_id TEXT NOT NULL REFERENCES inspections(id),
    revision INTEGER NOT NULL,
    declaration_id TEXT NOT NULL REFERENCES declarations(id),
    village_id TEXT NOT NULL,
    township_id TEXT,
    county_id TEXT NOT NULL,
    quarter TEXT NOT NULL,
    star_level INTEGER NOT NULL,
    kind TEXT NOT NULL,
    decision TEXT NOT NULL,
    consequence TEXT,
    comment TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    decided_on DATE NOT NULL
);
CREATE UNIQUE INDEX decisions_inspection_revision ON decisions (inspection_id, revision);
CREATE INDEX decisions_village ON decisions (village_id, decided_at);
CREATE INDEX decisions_county ON decisions (county_id, decided_at);

CREATE TABLE inspection_revisions (
    inspection_id TEXT NOT NULL REFERENCES inspections(id),
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    evaluation TEXT NOT NULL,
    flags TEXT NOT NULL,
    return_comment TEXT,
    archived_at TIMESTAMP NOT NULL,
    PRIMARY KEY (inspection_id, revision)
);

CREATE TABLE photos (
    id TEXT PRIMARY KEY NOT NULL,
    inspection_id TEXT NOT NULL REFERENCES inspections(id),
    county_id TEXT NOT NULL,
    township_id TEXT,
    village_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    item TEXT NOT NULL,
    expected_sha256 TEXT NOT NULL,
    received BOOLEAN NOT NULL,
    format TEXT,
    bytes BIGINT,
    width INTEGER,
    height INTEGER,
    taken_at TIMESTAMP,
    lat DOUBLE,
    lon DOUBLE,
    exif TEXT,
    phash BIGINT,
    flags TEXT NOT NULL,
    received_at TIMESTAMP
);
CREATE INDEX photos_inspection ON photos (inspection_id, id);
CREATE INDEX photos_sha256 ON photos (expected_sha256);
CREATE INDEX photos_county_phash ON photos (county_id, phash);

CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY NOT NULL,
    county_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    data TEXT NOT NULL,
    dispatched BOOLEAN NOT NULL
);
CREATE INDEX outbox_events_pending ON outbox_events (dispatched, id);

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    county_id TEXT NOT NULL,
    township_id TEXT,
    village_id TEXT,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_county ON webhooks (county_id, id);

CREATE TABLE webhook_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id),
    event_id TEXT NOT NULL REFERENCES outbox_events(id),
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_jobs_due ON webhook_jobs (state, next_attempt_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE members (
    id TEXT PRIMARY KEY NOT NULL,
    village_id TEXT NOT NULL REFERENCES org_units(id),
    township_id TEXT,
    county_id TEXT NOT NULL,
    name TEXT NOT NULL,
    user_id TEXT REFERENCES users(id),
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX members_village ON members (village_id, id);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE mentees (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL REFERENCES members(id),
    village_id TEXT NOT NULL,
    township_id TEXT,
    county_id TEXT NOT NULL,
    code TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_on DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX mentees_village_code ON mentees (village_id, code);
CREATE INDEX mentees_member ON mentees (member_id, id);

CREATE TABLE visits (
    id TEXT PRIMARY KEY NOT NULL,
    mentee_id TEXT NOT NULL REFERENCES mentees(id),
    member_id TEXT NOT NULL,
    village_id TEXT NOT NULL,
    township_id TEXT,
    county_id TEXT NOT NULL,
    visited_on DATE NOT NULL,
    kind TEXT NOT NULL,
    note TEXT,
    lat DOUBLE,
    lon DOUBLE,
    body_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX visits_village_date ON visits (village_id, visited_on);
CREATE INDEX visits_mentee ON visits (mentee_id, visited_on);
