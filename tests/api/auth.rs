use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::{both_backends, both_backends_with};

fn claims_of(token: &str) -> Value {
    let body = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

both_backends!(
    login_gives_a_short_lived_token_naming_iss_and_aud,
    a_wrong_password_and_an_unknown_user_get_the_same_answer,
    login_returns_429_with_retry_after_after_repeated_failures,
    forged_none_and_expired_tokens_are_401,
    refresh_rotates_and_reuse_revokes_the_family,
    a_refresh_whose_answer_was_lost_is_retried_with_the_spent_token,
    a_token_replaced_by_a_retry_ends_the_family_when_it_comes_back,
    a_spent_token_after_the_two_minute_retry_window_ends_the_family,
    logout_revokes_the_refresh_token,
    a_deactivated_user_cannot_refresh_or_log_in
);

async fn login_gives_a_short_lived_token_naming_iss_and_aud(app: TestApp) {
    app.seed_demo().await;
    let res = app.login_raw("admin", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["role"], "admin");
    let c = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(
        (c["iss"].as_str(), c["aud"].as_str()),
        (Some("fieldstar"), Some("fieldstar-api"))
    );
    let ttl = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!(ttl <= 3600, "{ttl}");
    let me = json_of(
        app.get("/api/v1/me", body["access_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(me["username"], "admin");
    assert_eq!(me["org_unit"]["code"], "DEMO");
}

async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(app: TestApp) {
    app.seed_demo().await;
    let a = assert_problem(app.login_raw("admin", "wrong-password-1").await, 401).await;
    let b = assert_problem(app.login_raw("nobody-here", "wrong-password-1").await, 401).await;
    assert_eq!(a["detail"], b["detail"]);
    assert_eq!(a["code"], b["code"]);
}

async fn login_returns_429_with_retry_after_after_repeated_failures(app: TestApp) {
    app.seed_demo().await;
    for _ in 0..5 {
        assert_problem(app.login_raw("inspector1", "wrong-password-1").await, 401).await;
    }
    let res = app.login_raw("inspector1", PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert_problem(res, 429).await;
    // Another account from the same address is not throttled by one account's failures.
    assert_eq!(app.login_raw("inspector2", PASSWORD).await.status(), 200);
}

async fn forged_none_and_expired_tokens_are_401(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("admin").await;
    let mut parts: Vec<String> = s.token.split('.').map(str::to_string).collect();
    // alg: none, same claims, no signature
    parts[0] = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let none = format!("{}.{}.", parts[0], parts[1]);
    assert_problem(app.get("/api/v1/me", &none).await, 401).await;
    // a forged signature
    let mut forged: Vec<&str> = s.token.split('.').collect();
    forged[2] = "c2lnbmF0dXJl";
    assert_problem(app.get("/api/v1/me", &forged.join(".")).await, 401).await;
    // claims changed under the old signature
    let mut c = claims_of(&s.token);
    c["role"] = json!("admin");
    c["exp"] = json!(1);
    let tampered = format!(
        "{}.{}.{}",
        s.token.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(c.to_string()),
        s.token.split('.').nth(2).unwrap()
    );
    assert_problem(app.get("/api/v1/me", &tampered).await, 401).await;
    let res = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_problem(res, 401).await;
}

async fn refreshed(app: &TestApp, token: &str) -> String {
    let res = app.refresh_raw(token).await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert!(body["access_token"].is_string());
    body["refresh_token"].as_str().unwrap().to_string()
}

async fn refresh_rotates_and_reuse_revokes_the_family(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("reviewer1").await;
    let second = refreshed(&app, &s.refresh).await;
    assert_ne!(second, s.refresh);
    // The session moves on with the second token...
    let third = refreshed(&app, &second).await;
    // ...and the spent first one is presented again: 401, and the whole family is revoked.
    assert_problem(app.refresh_raw(&s.refresh).await, 401).await;
    assert_problem(app.refresh_raw(&third).await, 401).await;
    assert_problem(app.refresh_raw(&second).await, 401).await;
}

async fn a_refresh_whose_answer_was_lost_is_retried_with_the_spent_token(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("inspector1").await;
    // The server rotates, and the answer never reaches the phone.
    let lost = refreshed(&app, &s.refresh).await;
    // The phone asks again with the token it holds: a new pair, in place of the lost one.
    let retried = refreshed(&app, &s.refresh).await;
    assert_ne!(retried, lost);
    // Lost twice: still the retry (nothing of the family was used since).
    let retried = refreshed(&app, &s.refresh).await;
    // The session goes on with the last answer.
    let next = refreshed(&app, &retried).await;
    // Once the family moved on, the first token is a copy: the family ends.
    assert_problem(app.refresh_raw(&s.refresh).await, 401).await;
    assert_problem(app.refresh_raw(&next).await, 401).await;
}

async fn a_token_replaced_by_a_retry_ends_the_family_when_it_comes_back(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("inspector1").await;
    // Whoever got the first answer holds `lost`; the retry replaced it.
    let lost = refreshed(&app, &s.refresh).await;
    let retried = refreshed(&app, &s.refresh).await;
    // Two holders of one session: presenting the replaced token ends the family for both.
    assert_problem(app.refresh_raw(&lost).await, 401).await;
    assert_problem(app.refresh_raw(&retried).await, 401).await;
}

async fn a_spent_token_after_the_two_minute_retry_window_ends_the_family(app: TestApp) {
    use diesel::prelude::*;
    use fieldstar::db::schema::refresh_tokens;
    app.seed_demo().await;
    let s = app.login("inspector1").await;
    let next = refreshed(&app, &s.refresh).await;
    // Three minutes go by (every token of the table: only this session's were used).
    app.state
        .db
        .write(|conn| {
            let rows: Vec<(String, chrono::NaiveDateTime)> = refresh_tokens::table
                .filter(refresh_tokens::used_at.is_not_null())
                .select((
                    refresh_tokens::id,
                    refresh_tokens::used_at.assume_not_null(),
                ))
                .load(conn)?;
            for (id, used) in rows {
                diesel::update(refresh_tokens::table.find(id))
                    .set(refresh_tokens::used_at.eq(used - chrono::TimeDelta::minutes(3)))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_problem(app.refresh_raw(&s.refresh).await, 401).await;
    assert_problem(app.refresh_raw(&next).await, 401).await;
}

async fn logout_revokes_the_refresh_token(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("secretary1").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(app.refresh_raw(&s.refresh).await, 401).await;
}

async fn a_deactivated_user_cannot_refresh_or_log_in(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let inspector = app.login("inspector2").await;
    let id = inspector.user["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin.token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(json_of(res).await["active"], false);
    assert_problem(app.refresh_raw(&inspector.refresh).await, 401).await;
    assert_problem(app.login_raw("inspector2", PASSWORD).await, 401).await;
}

/// A failed login from `forwarded` (as a proxy reports it), for a fresh unknown account so the
/// per-account limit never applies.
async fn fail_from(app: &TestApp, n: usize, forwarded: &str) -> u16 {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded)
        .json(
            &json!({"username": format!("nobody-{forwarded}-{n}"), "password": "wrong-password-1"}),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends!(x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy);

async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(app: TestApp) {
    app.seed_demo().await;
    // Every request claims another address; the server still counts them as the peer's.
    for n in 0..31 {
        assert_eq!(fail_from(&app, n, &format!("198.51.100.{n}")).await, 401);
    }
    assert_eq!(fail_from(&app, 31, "198.51.100.200").await, 429);
}

both_backends_with!(
    &[("FIELDSTAR_TRUSTED_PROXIES", "127.0.0.1, ::1")];
    behind_a_trusted_proxy_each_client_address_is_throttled_alone,
);

async fn behind_a_trusted_proxy_each_client_address_is_throttled_alone(app: TestApp) {
    app.seed_demo().await;
    // More than thirty failures from one client behind the proxy, a forged first entry or not...
    for n in 0..31 {
        let forwarded = if n % 2 == 0 {
            "203.0.113.7".to_string()
        } else {
            format!("10.9.9.{n}, 203.0.113.7")
        };
        assert_eq!(fail_from(&app, n, &forwarded).await, 401);
    }
    // ...throttle that client...
    assert_eq!(fail_from(&app, 31, "203.0.113.7").await, 429);
    // ...and nobody else behind the same proxy.
    assert_eq!(fail_from(&app, 32, "203.0.113.8").await, 401);
    assert_eq!(app.login_raw("inspector1", PASSWORD).await.status(), 200);
}
