//! Per-user upload quotas, in memory: photos in flight at once and a byte budget that refills
//! over an hour (a token bucket). Over either limit the upload answers 429 with Retry-After.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::ApiError;

pub struct UploadQuota {
    max_in_flight: usize,
    bytes_per_hour: f64,
    users: Arc<Mutex<HashMap<String, Bucket>>>,
}

struct Bucket {
    in_flight: usize,
    tokens: f64,
    at: Instant,
}

/// Held while an upload runs; dropping it frees the user's slot.
pub struct UploadSlot {
    user_id: String,
    users: Arc<Mutex<HashMap<String, Bucket>>>,
    bytes_per_hour: f64,
}

impl UploadQuota {
    pub fn new(max_in_flight: usize, bytes_per_hour: u64) -> Self {
        UploadQuota {
            max_in_flight: max_in_flight.max(1),
            bytes_per_hour: bytes_per_hour.max(1) as f64,
            users: Arc::default(),
        }
    }

    fn rate(&self) -> f64 {
        self.bytes_per_hour / 3600.0
    }

    /// Takes a slot for an upload of `declared` bytes (the Content-Length, when sent).
    pub fn begin(&self, user_id: &str, declared: Option<usize>) -> Result<UploadSlot, ApiError> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Forget users whose budget is full again and who upload nothing: the map stays small.
        if users.len() > 10_000 {
            let full = self.bytes_per_hour;
            users.retain(|_, b| b.in_flight > 0 || b.tokens < full);
        }
        let b = users.entry(user_id.to_string()).or_insert(Bucket {
            in_flight: 0,
            tokens: self.bytes_per_hour,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate())
            .min(self.bytes_per_hour);
        b.at = now;
        if b.in_flight >= self.max_in_flight {
            return Err(quota_error(
                1,
                format!(
                    "at most {} photo uploads at once per user; wait for one to finish",
                    self.max_in_flight
                ),
            ));
        }
        let need = declared.unwrap_or(1).min(self.bytes_per_hour as usize) as f64;
        if b.tokens < need {
            let wait = ((need - b.tokens) / self.rate()).ceil() as u64;
            return Err(quota_error(
                wait,
                format!(
                    "the upload budget of {} bytes per hour is spent; retry later",
                    self.bytes_per_hour as u64
                ),
            ));
        }
        b.in_flight += 1;
        Ok(UploadSlot {
            user_id: user_id.to_string(),
            users: self.users.clone(),
            bytes_per_hour: self.bytes_per_hour,
        })
    }
}

impl UploadSlot {
    /// Charges the bytes actually received to the user's budget.
    pub fn charge(&self, bytes: usize) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = users.get_mut(&self.user_id) {
            b.tokens = (b.tokens - bytes as f64).max(-self.bytes_per_hour);
        }
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = users.get_mut(&self.user_id) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
    }
}

fn quota_error(retry_after: u64, detail: String) -> ApiError {
    let mut e = ApiError::too_many_requests(retry_after);
    e.code = "upload_quota";
    e.detail = detail;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_user_and_freed_on_drop() {
        let q = UploadQuota::new(2, 1 << 30);
        let a = q.begin("u", Some(10)).unwrap();
        let _b = q.begin("u", Some(10)).unwrap();
        let e = q.begin("u", Some(10)).err().unwrap();
        assert_eq!((e.status.as_u16(), e.retry_after), (429, Some(1)));
        assert!(
            q.begin("v", Some(10)).is_ok(),
            "another user is not limited"
        );
        drop(a);
        assert!(q.begin("u", Some(10)).is_ok());
    }

    #[test]
    fn a_spent_byte_budget_answers_with_the_wait() {
        let q = UploadQuota::new(4, 3600 * 1000);
        let s = q.begin("u", Some(3_000_000)).unwrap();
        s.charge(3_000_000);
        drop(s);
        let e = q.begin("u", Some(1_000_000)).err().unwrap();
        assert_eq!(e.status.as_u16(), 429);
        let wait = e.retry_after.unwrap();
        assert!((390..=410).contains(&wait), "{wait}");
        assert!(q.begin("u", Some(500_000)).is_ok());
    }
}
