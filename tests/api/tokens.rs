//! Tokens and sessions over HTTP: every kind of bad access token is 401, refresh-token reuse
//! ends only its own family, logout ends it, and logins are throttled per account and per
//! address without telling unknown users from wrong passwords, by answer or by time.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Sha256, Sha512};

use crate::both_backends;
use crate::helpers::*;

fn claims_of(token: &str) -> Value {
    let body = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

/// A token with any header and claims, signed with the server's own secret by `alg`'s HMAC
/// (for RS256 that is the classic key-confusion attack: the secret used as an HMAC key).
fn signed(app: &TestApp, header: Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let secret = &app.state.config.jwt_secret;
    let sig = if header["alg"] == "HS512" {
        let mut m = Hmac::<Sha512>::new_from_slice(secret).unwrap();
        m.update(input.as_bytes());
        m.finalize().into_bytes().to_vec()
    } else {
        let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        m.update(input.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A problem body without its request id, to compare two answers.
async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let mut body: Value = res.json().await.unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    (status, body)
}

async fn timed_login(app: &TestApp, user: &str, password: &str) -> (Duration, u16) {
    let t = Instant::now();
    let res = app.login_raw(user, password).await;
    (t.elapsed(), res.status().as_u16())
}

both_backends!(
    every_kind_of_bad_access_token_is_401,
    refresh_reuse_revokes_only_its_own_family_and_logout_ends_a_family,
    an_account_is_throttled_after_five_failures_whatever_the_password,
    more_than_30_failures_from_one_address_throttle_every_account_from_it,
    unknown_users_and_wrong_passwords_look_the_same_in_answer_and_time
);

async fn every_kind_of_bad_access_token_is_401(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("admin").await;
    let good = claims_of(&s.token);
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    // The forging helper itself makes tokens the server accepts.
    assert_eq!(
        app.get("/api/v1/me", &signed(&app, hs256.clone(), &good))
            .await
            .status(),
        200
    );

    let now = chrono::Utc::now().timestamp();
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let without = |field: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(field);
        c
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let forged = {
        let mut parts: Vec<&str> = s.token.split('.').collect();
        parts[2] = "c2lnbmF0dXJlLW9mLXNvbWVvbmUtZWxzZQ";
        parts.join(".")
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none),
        (
            "HS512",
            signed(&app, json!({"alg": "HS512", "typ": "JWT"}), &good),
        ),
        (
            "RS256 header, HMAC with the secret",
            signed(&app, json!({"alg": "RS256", "typ": "JWT"}), &good),
        ),
        ("forged signature", forged),
        (
            "expired",
            signed(&app, hs256.clone(), &with("exp", json!(now - 3600))),
        ),
        (
            "wrong aud",
            signed(&app, hs256.clone(), &with("aud", json!("another-api"))),
        ),
        (
            "wrong iss",
            signed(&app, hs256.clone(), &with("iss", json!("someone-else"))),
        ),
        (
            "exp as a string",
            signed(
                &app,
                hs256.clone(),
                &with("exp", json!((now + 600).to_string())),
            ),
        ),
        (
            "exp far in the future as a string",
            signed(&app, hs256.clone(), &with("exp", json!("99999999999"))),
        ),
        ("no exp", signed(&app, hs256.clone(), &without("exp"))),
        ("no aud", signed(&app, hs256.clone(), &without("aud"))),
        ("no iss", signed(&app, hs256.clone(), &without("iss"))),
        ("garbage", "not.a.token".into()),
        ("empty", String::new()),
    ];
    for (name, token) in cases {
        let res = app
            .client
            .get(app.url("/api/v1/me"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{name}");
        assert_problem(res, 401).await;
    }
    // Another scheme, and the token without a scheme.
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("Basic {}", s.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", s.token.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn refresh_reuse_revokes_only_its_own_family_and_logout_ends_a_family(app: TestApp) {
    app.seed_demo().await;
    let phone = app.login("inspector1").await;
    let laptop = app.login("inspector1").await;
    let next = json_of(app.refresh_raw(&phone.refresh).await).await;
    let next_refresh = next["refresh_token"].as_str().unwrap().to_string();
    // The phone's session moves on...
    let newest = json_of(app.refresh_raw(&next_refresh).await).await;
    let newest = newest["refresh_token"].as_str().unwrap().to_string();
    // ...and the spent token comes back (stolen): its family ends, the newest token with it.
    assert_problem(app.refresh_raw(&phone.refresh).await, 401).await;
    assert_problem(app.refresh_raw(&newest).await, 401).await;
    // The other session is another family and lives on.
    let other = app.refresh_raw(&laptop.refresh).await;
    assert_eq!(other.status(), 200);
    let other = json_of(other).await;
    let other_refresh = other["refresh_token"].as_str().unwrap().to_string();
    // Logging out with the newest token ends the family, older members included.
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": other_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(app.refresh_raw(&other_refresh).await, 401).await;
    assert_problem(app.refresh_raw(&laptop.refresh).await, 401).await;
    // Logging out twice, or with nonsense, says nothing either way.
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": other_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": "nonsense"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

async fn an_account_is_throttled_after_five_failures_whatever_the_password(app: TestApp) {
    app.seed_demo().await;
    for _ in 0..5 {
        assert_problem(app.login_raw("reviewer2", "wrong-password-1").await, 401).await;
    }
    for password in ["wrong-password-1", PASSWORD] {
        let res = app.login_raw("reviewer2", password).await;
        assert!(res.headers().contains_key("retry-after"));
        assert_problem(res, 429).await;
    }
    // Usernames are normalised: another spelling is the same account.
    assert_eq!(app.login_raw("Reviewer2", PASSWORD).await.status(), 429);
}

async fn more_than_30_failures_from_one_address_throttle_every_account_from_it(app: TestApp) {
    app.seed_demo().await;
    // Spraying one password over many usernames: none hits the per-account limit.
    for i in 0..31 {
        let user = if i % 10 == 0 {
            "admin".to_string()
        } else {
            format!("ghost-{i}")
        };
        let res = app.login_raw(&user, &format!("spray-password-{i}")).await;
        assert_eq!(res.status(), 401, "{i}");
    }
    let res = app.login_raw("secretary1", PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert_problem(res, 429).await;
}

async fn unknown_users_and_wrong_passwords_look_the_same_in_answer_and_time(app: TestApp) {
    app.seed_demo().await;
    let mut known = Duration::ZERO;
    let mut unknown = Duration::ZERO;
    // Four of each stays under every throttle; interleaved so that load affects both.
    for i in 0..4 {
        let (t, s) = timed_login(&app, "inspector1", &format!("wrong-password-{i}")).await;
        assert_eq!(s, 401);
        known += t;
        let (t, s) =
            timed_login(&app, &format!("nobody-{i}"), &format!("wrong-password-{i}")).await;
        assert_eq!(s, 401);
        unknown += t;
    }
    let (k, u) = (known.as_secs_f64() / 4.0, unknown.as_secs_f64() / 4.0);
    assert!(
        k > 0.002 && u > 0.002,
        "both verify a hash: {k} s and {u} s"
    );
    let ratio = u / k;
    assert!(
        (0.3..3.0).contains(&ratio),
        "an unknown user takes {u} s, a wrong password {k} s"
    );

    let a = answer(app.login_raw("inspector2", "wrong-password-9").await).await;
    let b = answer(app.login_raw("nobody-at-all", "wrong-password-9").await).await;
    assert_eq!(a, b);
    // A deactivated user's right password answers like a wrong one.
    let admin = app.login("admin").await;
    let member = app.login("member1").await;
    let id = member.user["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin.token,
        &json!({"active": false}),
    )
    .await;
    let c = answer(app.login_raw("member1", PASSWORD).await).await;
    assert_eq!(a, c);
}

/// Moves every refresh token of `username` `days` into the past, as if that time had gone by.
async fn age_sessions(app: &TestApp, username: &str, days: i64) {
    use diesel::prelude::*;
    use fieldstar::db::schema::{refresh_tokens, users};
    let username = username.to_string();
    app.state
        .db
        .write(move |conn| {
            let id: String = users::table
                .filter(users::username.eq(&username))
                .select(users::id)
                .first(conn)?;
            let rows: Vec<(String, chrono::NaiveDateTime, chrono::NaiveDateTime)> =
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(&id))
                    .select((
                        refresh_tokens::id,
                        refresh_tokens::issued_at,
                        refresh_tokens::expires_at,
                    ))
                    .load(conn)?;
            let by = chrono::TimeDelta::days(days);
            for (row, issued, expires) in rows {
                diesel::update(refresh_tokens::table.find(row))
                    .set((
                        refresh_tokens::issued_at.eq(issued - by),
                        refresh_tokens::expires_at.eq(expires - by),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// Sets a column of `username`'s row straight in the database, as an operator or a future
/// route might.
async fn set_user(app: &TestApp, username: &str, role: Option<&str>, active: Option<bool>) {
    use diesel::prelude::*;
    use fieldstar::db::schema::users;
    let (username, role) = (username.to_string(), role.map(str::to_string));
    app.state
        .db
        .write(move |conn| {
            let q = users::table.filter(users::username.eq(&username));
            if let Some(r) = role {
                diesel::update(q).set(users::role.eq(r)).execute(conn)?;
            }
            if let Some(a) = active {
                diesel::update(users::table.filter(users::username.eq(&username)))
                    .set(users::active.eq(a))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

both_backends!(
    a_password_change_ends_every_session_of_the_user,
    a_session_ends_30_days_after_login_however_often_it_rotates,
    deactivation_and_role_changes_take_effect_on_the_next_request
);

async fn a_password_change_ends_every_session_of_the_user(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let phone = app.login("inspector1").await;
    let laptop = app.login("inspector1").await;
    let other = app.login("inspector2").await;
    // One of the sessions has rotated already: its newest token must end too.
    let rotated = json_of(app.refresh_raw(&laptop.refresh).await).await;
    let rotated = rotated["refresh_token"].as_str().unwrap().to_string();
    let id = phone.user["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin.token,
            &json!({"password": "a-new-password-456"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(app.refresh_raw(&phone.refresh).await, 401).await;
    assert_problem(app.refresh_raw(&rotated).await, 401).await;
    // Another user's session is untouched; the new password logs in.
    assert_eq!(app.refresh_raw(&other.refresh).await.status(), 200);
    assert_eq!(
        app.login_raw("inspector1", "a-new-password-456")
            .await
            .status(),
        200
    );

    // An admin changing her own password ends her other sessions too.
    let admin_id = admin.user["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{admin_id}"),
            &admin.token,
            &json!({"password": "another-password-789"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(app.refresh_raw(&admin.refresh).await, 401).await;
}

async fn a_session_ends_30_days_after_login_however_often_it_rotates(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("reviewer1").await;
    // 29 days of daily use: the session still refreshes...
    age_sessions(&app, "reviewer1", 29).await;
    let next = json_of(app.refresh_raw(&s.refresh).await).await;
    let next = next["refresh_token"].as_str().unwrap().to_string();
    // ...but the rotation does not extend it: two days later, 31 after the login, it is over.
    age_sessions(&app, "reviewer1", 2).await;
    assert_problem(app.refresh_raw(&next).await, 401).await;
    // Logging in again starts a new 30 days.
    let again = app.login("reviewer1").await;
    assert_eq!(app.refresh_raw(&again.refresh).await.status(), 200);
}

async fn deactivation_and_role_changes_take_effect_on_the_next_request(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let inspector = app.login("inspector2").await;
    let reviewer = app.login("reviewer1").await;
    assert_eq!(
        app.get("/api/v1/inspections", &inspector.token)
            .await
            .status(),
        200
    );
    let id = inspector.user["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin.token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // The access token has 15 minutes left; it is refused at once.
    assert_problem(app.get("/api/v1/inspections", &inspector.token).await, 401).await;
    assert_problem(app.get("/api/v1/me", &inspector.token).await, 401).await;
    // Reactivated, the same token works again: nothing else about her changed.
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin.token,
        &json!({"active": true}),
    )
    .await;
    assert_eq!(
        app.get("/api/v1/inspections", &inspector.token)
            .await
            .status(),
        200
    );

    // A role changed behind the token: the token's role no longer holds.
    assert_eq!(
        app.get("/api/v1/review-queue", &reviewer.token)
            .await
            .status(),
        200
    );
    set_user(&app, "reviewer1", Some("inspector"), None).await;
    assert_problem(app.get("/api/v1/review-queue", &reviewer.token).await, 401).await;
    set_user(&app, "reviewer1", Some("reviewer"), None).await;
    assert_eq!(
        app.get("/api/v1/review-queue", &reviewer.token)
            .await
            .status(),
        200
    );
    // Deactivated behind the server's back, too.
    set_user(&app, "reviewer1", None, Some(false)).await;
    assert_problem(app.get("/api/v1/review-queue", &reviewer.token).await, 401).await;
}

both_backends!(forty_parallel_wrong_passwords_check_at_most_five);

async fn forty_parallel_wrong_passwords_check_at_most_five(app: TestApp) {
    use diesel::prelude::*;
    use fieldstar::db::schema::login_failures;
    app.seed_demo().await;
    let attempts = (0..40).map(|i| {
        let app = &app;
        async move {
            app.login_raw("inspector1", &format!("wrong-password-{i}"))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + throttled, 40, "{statuses:?}");
    assert!(
        checked <= 5,
        "{checked} passwords of 40 were checked: {statuses:?}"
    );
    // Every checked attempt is counted, and nothing else is.
    let counted: i64 = app
        .state
        .db
        .read(|conn| {
            Ok(login_failures::table
                .filter(login_failures::username.eq("inspector1"))
                .count()
                .get_result(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(counted, checked as i64);
    // The account stays shut, the right password included.
    assert_problem(app.login_raw("inspector1", PASSWORD).await, 429).await;
}
