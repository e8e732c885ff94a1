//! Which addresses a webhook may be sent to: public ones only, unless the operator allows
//! private targets (`FIELDSTAR_WEBHOOK_ALLOW_PRIVATE=1`). Checked when a subscription is made
//! and again before every delivery, because DNS answers change.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

pub const NOT_ALLOWED: &str = "target address not allowed";

const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A subscriber URL: http or https, with a host.
pub fn parse_url(text: &str) -> Result<Url, String> {
    if text.len() > 2000 {
        return Err("must be at most 2000 characters".into());
    }
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    Ok(url)
}

/// Whether fieldstar may connect to `ip` without the operator's permission.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (first & 0xffc0) == 0xfe80)
}

/// Resolves the URL's host; every address must be allowed. Returns the host and the
/// addresses to connect to (pinned, so a second DNS answer cannot swap them).
pub async fn resolve(url: &Url, allow_private: bool) -> Result<(String, Vec<SocketAddr>), String> {
    let host = url.host_str().ok_or("the URL names no host")?.to_string();
    let port = url.port_or_known_default().ok_or("the URL names no port")?;
    // Literal IPv6 hosts come bracketed; lookup_host wants them bare.
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let lookup = tokio::net::lookup_host((bare.as_str(), port));
    let addrs: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
        .await
        .map_err(|_| format!("cannot resolve {host}: no answer within 5 s"))?
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(NOT_ALLOWED.into());
    }
    Ok((bare, addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn private_loopback_link_local_and_special_addresses_are_refused() {
        for refused in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip(refused)), "{refused}");
        }
        for allowed in [
            "93.184.216.34",
            "172.32.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "100.128.0.1",
        ] {
            assert!(is_public(ip(allowed)), "{allowed}");
        }
    }

    #[test]
    fn only_http_urls_with_a_host_are_targets() {
        assert!(parse_url("https://example.org/hook").is_ok());
        assert!(parse_url("http://example.org:8080/hook?x=1").is_ok());
        for bad in [
            "ftp://example.org/",
            "example.org/hook",
            "https://",
            "file:///etc/passwd",
            "https://u:p@example.org/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[actix_web::test]
    async fn literal_private_addresses_are_refused_unless_allowed() {
        let url = parse_url("http://127.0.0.1:9/hook").unwrap();
        assert_eq!(resolve(&url, false).await.unwrap_err(), NOT_ALLOWED);
        let (host, addrs) = resolve(&url, true).await.unwrap();
        assert_eq!(host, "127.0.0.1");
        assert_eq!(addrs[0].port(), 9);
        let v6 = parse_url("http://[::1]:9/").unwrap();
        assert_eq!(resolve(&v6, false).await.unwrap_err(), NOT_ALLOWED);
    }
}
