//! The client's address: the peer, or, when the peer is one of the operator's proxies
//! (`FIELDSTAR_TRUSTED_PROXIES`), the nearest address in `X-Forwarded-For` that is not one.
//!
//! Behind a load balancer every request's peer is the balancer, and the login throttle's
//! per-address limit would lock everybody out together. `X-Forwarded-For` is the client's own
//! claim, so it is read only from trusted peers, from the right (the entries our proxies
//! appended) to the left, stopping at the first address none of them vouches for.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// Parses `FIELDSTAR_TRUSTED_PROXIES`: addresses or CIDR ranges, separated by commas.
pub fn parse_trusted(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))
        })
        .collect()
}

/// The address to attribute a request to.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut chain: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Some(peer);
        };
        chain.extend(text.split(',').map(str::trim));
    }
    let mut nearest = peer;
    for entry in chain.iter().rev() {
        let Ok(ip) = entry.parse::<IpAddr>() else {
            // Garbage where an address should be: trust nothing beyond it.
            return Some(nearest);
        };
        nearest = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(nearest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).expect("header value"),
            );
        }
        map
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("address"))
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &[]), ip("10.0.0.2"));
        assert_eq!(client_ip(None, &h, &[]), None);
    }

    #[test]
    fn a_trusted_peer_passes_on_the_nearest_untrusted_address() {
        let trusted = parse_trusted("10.0.0.0/8, 192.168.1.1").expect("parses");
        // client, then a proxy of ours, then the balancer (the peer).
        let h = headers(&["198.51.100.7, 203.0.113.9, 192.168.1.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // Several header lines read as one list.
        let h = headers(&["198.51.100.7", "203.0.113.9"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // A peer that is not ours: its header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.50"), &h, &trusted),
            ip("203.0.113.50")
        );
    }

    #[test]
    fn a_forged_prefix_cannot_choose_the_address() {
        let trusted = parse_trusted("10.0.0.1").expect("parses");
        // The client sent "1.2.3.4" itself; the balancer appended the address it saw.
        let h = headers(&["1.2.3.4, 198.51.100.7"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn garbage_or_an_all_trusted_chain_stops_at_the_last_good_address() {
        let trusted = parse_trusted("10.0.0.0/8").expect("parses");
        let h = headers(&["not-an-ip, 10.1.1.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.1.1.1"));
        let h = headers(&["10.3.3.3, 10.1.1.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.3.3.3"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers(&[]), &trusted),
            ip("10.0.0.2")
        );
        let v6 = parse_trusted("::1, fd00::/8").expect("parses");
        let h = headers(&["2001:db8::5"]);
        assert_eq!(client_ip(ip("::1"), &h, &v6), ip("2001:db8::5"));
    }

    #[test]
    fn bad_proxy_lists_name_the_entry() {
        assert_eq!(parse_trusted("").expect("empty is none"), vec![]);
        let e = parse_trusted("10.0.0.1, nowhere").expect_err("refused");
        assert!(e.contains("nowhere"), "{e}");
        assert!(parse_trusted("10.0.0.0/33").is_err());
    }
}
