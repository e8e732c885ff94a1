// The diesel schema: one set of portable column types for SQLite and PostgreSQL, kept in step
// with migrations/sqlite and migrations/postgres (a test proves the two backends equal).

diesel::table! {
    org_units (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        level -> Text,
        parent_id -> Nullable<Text>,
        county_id -> Text,
        township_id -> Nullable<Text>,
        village_id -> Nullable<Text>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        radius_m -> Nullable<Double>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        org_unit_id -> Text,
        county_id -> Text,
        township_id -> Nullable<Text>,
        village_id -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        body -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        username -> Text,
        address -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    county_policies (county_id) {
        county_id -> Text,
        max_step -> Integer,
        rectify_months -> Integer,
        ban_months -> Integer,
        updated_at -> Timestamp,
        joint_approval -> Bool,
        township_precheck -> Bool,
        phone_photo_max_px -> Integer,
    }
}

diesel::table! {
    policy_changes (id) {
        id -> Text,
        county_id -> Text,
        effective_on -> Date,
        max_step -> Integer,
        rectify_months -> Integer,
        ban_months -> Integer,
        actor_id -> Nullable<Text>,
        actor -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    quarter_windows (county_id, quarter) {
        county_id -> Text,
        quarter -> Text,
        opens_on -> Date,
        closes_on -> Date,
        updated_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        county_id -> Nullable<Text>,
        summary -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    checklist_versions (id) {
        id -> Text,
        county_id -> Nullable<Text>,
        code -> Text,
        version -> Integer,
        star_level -> Integer,
        body -> Text,
        status -> Text,
        etag -> Text,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    star_baselines (village_id) {
        village_id -> Text,
        county_id -> Text,
        level -> Integer,
        since_quarter -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    declarations (id) {
        id -> Text,
        village_id -> Text,
        township_id -> Nullable<Text>,
        county_id -> Text,
        quarter -> Text,
        star_level -> Integer,
        kind -> Text,
        status -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_on -> Nullable<Date>,
        checked_by -> Nullable<Text>,
        checked_at -> Nullable<Timestamp>,
        check_comment -> Nullable<Text>,
    }
}

diesel::table! {
    inspections (id) {
        id -> Text,
        declaration_id -> Text,
        village_id -> Text,
        township_id -> Nullable<Text>,
        county_id -> Text,
        inspector_id -> Text,
        checklist_code -> Text,
        checklist_version -> Integer,
        status -> Text,
        revision -> Integer,
        body_hash -> Text,
        body -> Text,
        evaluation -> Text,
        score -> Double,
        passed -> Bool,
        flags -> Text,
        flag_severity -> Integer,
        started_at -> Timestamp,
        client_submitted_at -> Timestamp,
        received_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        claim_expires_at -> Nullable<Timestamp>,
        decided_at -> Nullable<Timestamp>,
        return_comment -> Nullable<Text>,
        updated_at -> Timestamp,
        awaiting_body -> Nullable<Text>,
    }
}

diesel::table! {
    approvals (id) {
        id -> Text,
        inspection_id -> Text,
        revision -> Integer,
        county_id -> Text,
        body -> Text,
        actor_id -> Text,
        comment -> Text,
        acknowledged_flags -> Text,
        approved_at -> Timestamp,
        withdrawn_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    decisions (id) {
        id -> Text,
        inspection_id -> Text,
        revision -> Integer,
        declaration_id -> Text,
        village_id -> Text,
        township_id -> Nullable<Text>,
        county_id -> Text,
        quarter -> Text,
        star_level -> Integer,
        kind -> Text,
        decision -> Text,
        consequence -> Nullable<Text>,
        comment -> Text,
        actor_id -> Text,
        decided_at -> Timestamp,
        decided_on -> Date,
        acknowledged_flags -> Text,
        reopened_at -> Nullable<Timestamp>,
        reopened_by -> Nullable<Text>,
        reopen_reason -> Nullable<Text>,
    }
}

diesel::table! {
    inspection_revisions (inspection_id, revision) {
        inspection_id -> Text,
        revision -> Integer,
        body -> Text,
        evaluation -> Text,
        flags -> Text,
        return_comment -> Nullable<Text>,
        archived_at -> Timestamp,
    }
}

diesel::table! {
    photos (id) {
        id -> Text,
        inspection_id -> Text,
        county_id -> Text,
        township_id -> Nullable<Text>,
        village_id -> Text,
        revision -> Integer,
        item -> Text,
        expected_sha256 -> Text,
        received -> Bool,
        format -> Nullable<Text>,
        bytes -> Nullable<BigInt>,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        taken_at -> Nullable<Timestamp>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        exif -> Nullable<Text>,
        phash -> Nullable<BigInt>,
        flags -> Text,
        received_at -> Nullable<Timestamp>,
        downsized_from -> Nullable<Text>,
    }
}

diesel::table! {
    uploads (id) {
        id -> Text,
        user_id -> Text,
        county_id -> Text,
        inspection_id -> Text,
        photo_id -> Text,
        length -> BigInt,
        upload_offset -> BigInt,
        sha256 -> Text,
        downsized_from -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Text,
        county_id -> Text,
        event_type -> Text,
        occurred_at -> Timestamp,
        data -> Text,
        dispatched -> Bool,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        county_id -> Text,
        township_id -> Nullable<Text>,
        village_id -> Nullable<Text>,
        url -> Text,
        events -> Text,
        secret -> Text,
        active -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_jobs (id) {
        id -> Text,
        webhook_id -> Text,
        event_id -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_id -> Text,
        attempt -> Integer,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    members (id) {
        id -> Text,
        village_id -> Text,
        township_id -> Nullable<Text>,
        county_id -> Text,
        name -> Text,
        user_id -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mentees (id) {
        id -> Text,
        member_id -> Text,
        village_id -> Text,
        township_id -> Nullable<Text>,
        county_id -> Text,
        code -> Text,
        display_name -> Text,
        created_on -> Date,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    visits (id) {
        id -> Text,
        mentee_id -> Text,
        member_id -> Text,
        village_id -> Text,
        township_id -> Nullable<Text>,
        county_id -> Text,
        visited_on -> Date,
        kind -> Text,
        note -> Nullable<Text>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        body_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    benefit_catalogues (id) {
        id -> Text,
        county_id -> Text,
        version -> Integer,
        effective_on -> Date,
        body -> Text,
        saved_by -> Nullable<Text>,
        saved_by_name -> Text,
        saved_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    org_units,
    users,
    refresh_tokens,
    login_failures,
    county_policies,
    policy_changes,
    quarter_windows,
    audit_log,
    checklist_versions,
    star_baselines,
    declarations,
    inspections,
    decisions,
    approvals,
    inspection_revisions,
    photos,
    uploads,
    outbox_events,
    webhooks,
    webhook_jobs,
    webhook_deliveries,
    members,
    mentees,
    visits,
    benefit_catalogues,
);
