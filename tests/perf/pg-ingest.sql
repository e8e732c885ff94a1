-- The write transaction of one submitted inspection (PUT /api/v1/inspections/{id}, a complete
-- body, no photos), statement for statement as fieldstar runs it on PostgreSQL (captured with
-- log_statement = all, at the commit that last changed this file): same tables, columns,
-- filters, order and value sizes, after the session check fieldstar makes for every request
-- (one SELECT of the user, outside the transaction). tests/perf/pg-ingest.sh also runs it
-- without that line (the transaction alone). Run by
-- tests/perf/pg-ingest.sh with pgbench -M prepared against the database a `fieldstar bench
-- ingest --keep` left, on the declarations still pending (bench_pick, one per transaction).
-- The first statement picks them and is not part of fieldstar's transaction. (pgbench reads
-- `:name` inside string literals too, so the event's JSON is built with json_build_object.)
SELECT d.id AS did, d.village_id AS vid, d.township_id AS tid, d.county_id AS cid, d.quarter AS q,
       u.id AS uid, gen_random_uuid()::text AS iid, gen_random_uuid()::text AS rid,
       date_trunc('quarter', now())::date AS first_day,
       (date_trunc('quarter', now()) + interval '3 months - 1 day')::date AS last_day
  FROM bench_pick p JOIN declarations d ON d.id = p.id
  JOIN users u ON u.username = 'bench-inspector'
 WHERE p.n = (SELECT nextval('bench_pick_seq')) \gset
SELECT active, role, org_unit_id, county_id FROM users WHERE id = :uid LIMIT 1;
BEGIN;
SELECT id, declaration_id, village_id, township_id, county_id, inspector_id, checklist_code, checklist_version, status, revision, body_hash, body, evaluation, score, passed, flags, flag_severity, started_at, client_submitted_at, received_at, submitted_at, claimed_by, claim_expires_at, decided_at, return_comment, updated_at, awaiting_body FROM inspections WHERE id = :iid LIMIT 1;
SELECT d.id, d.village_id, d.township_id, d.county_id, d.quarter, d.star_level, d.kind, d.status, d.created_by, d.created_at, d.updated_at, d.closed_on, d.checked_by, d.checked_at, d.check_comment, o.id, o.code, o.name, o.level, o.parent_id, o.county_id, o.township_id, o.village_id, o.lat, o.lon, o.radius_m, o.created_at, o.updated_at, w.opens_on, w.closes_on FROM ((declarations d INNER JOIN org_units o ON o.id = d.village_id) LEFT OUTER JOIN quarter_windows w ON w.county_id = d.county_id AND w.quarter = d.quarter) WHERE d.id = :did AND d.county_id = :cid LIMIT 1;
SELECT id, county_id, code, version, star_level, CASE WHEN version = 1 THEN body END, status, etag, created_at, published_at FROM checklist_versions WHERE code = 'bench-30' AND (version = 1 OR status = 'published');
SELECT 'member', id, name, CAST(NULL AS TEXT), CAST(NULL AS DATE) FROM members WHERE village_id = :vid AND active = true UNION ALL SELECT 'mentee', id, code, member_id, CAST(NULL AS DATE) FROM mentees WHERE village_id = :vid UNION ALL SELECT 'visit', mentee_id, member_id, kind, visited_on FROM visits WHERE village_id = :vid AND visited_on BETWEEN :first_day AND :last_day UNION ALL SELECT 'before', mentee_id, CAST(NULL AS TEXT), CAST(NULL AS TEXT), max(visited_on) FROM visits WHERE village_id = :vid AND visited_on < :first_day GROUP BY mentee_id;
UPDATE declarations SET status = 'inspecting', updated_at = now() WHERE id = :did AND status = 'pending';
INSERT INTO inspections (id, declaration_id, village_id, township_id, county_id, inspector_id, checklist_code, checklist_version, status, revision, body_hash, body, evaluation, score, passed, flags, flag_severity, started_at, client_submitted_at, received_at, submitted_at, updated_at) VALUES (:iid, :did, :vid, :tid, :cid, :uid, 'bench-30', 1, 'submitted', 1, md5(:iid::text) || md5(:did::text), repeat('b', 873), repeat('e', 1992), 100, true, '[]', 0, now() - interval '35 minutes', now() - interval '20 seconds', now(), now(), now()) RETURNING id, declaration_id, village_id, township_id, county_id, inspector_id, checklist_code, checklist_version, status, revision, body_hash, body, evaluation, score, passed, flags, flag_severity, started_at, client_submitted_at, received_at, submitted_at, claimed_by, claim_expires_at, decided_at, return_comment, updated_at, awaiting_body;
INSERT INTO audit_log (id, at, actor_id, actor, action, entity_type, entity_id, county_id, summary, request_id) VALUES (gen_random_uuid()::text, now(), :uid, 'bench-inspector', 'inspection.created', 'inspection', :iid, :cid, 'revision 1 for BENCH-V0000179 (level 1), score 100, 0 photo(s) announced', :rid);
INSERT INTO audit_log (id, at, actor_id, actor, action, entity_type, entity_id, county_id, summary, request_id) VALUES (gen_random_uuid()::text, now(), :uid, 'bench-inspector', 'inspection.submitted', 'inspection', :iid, :cid, 'revision 1 submitted with 0 photo(s) and 0 flag(s)', :rid);
INSERT INTO outbox_events (id, county_id, event_type, occurred_at, data, dispatched) VALUES (gen_random_uuid()::text, :cid, 'inspection.submitted', now(), json_build_object('declaration_id', :did::text, 'flags', json_build_array(), 'inspection_id', :iid::text, 'passed', true, 'revision', 1, 'score', 100.0, 'village_id', :vid::text)::text, false);
COMMIT;
