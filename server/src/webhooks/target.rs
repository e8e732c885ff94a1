//! Which addresses a webhook may be sent to: public ones only, unless the operator allows
//! private targets (`FIELDSTAR_WEBHOOK_ALLOW_PRIVATE=1`). Checked when a subscription is made
//! and again on every delivery attempt, because DNS answers change: the worker resolves the
//! name, checks every address, and connects only to those (see [`CheckedResolver`]).
//!
//! "Public" means outside every block of the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries (all of them, including the few the registry calls globally reachable, such as
//! AS112 and AMT: no subscriber lives there), outside IPv4 multicast, and, for IPv6, inside the
//! global unicast space 2000::/3. Two IPv6 forms carry an IPv4 address that the packet really
//! goes to: NAT64 (64:ff9b::/96) and 6to4 (2002::/16). Their embedded address is decoded and
//! judged as IPv4, so an IPv6-only host behind DNS64 can still reach a public subscriber.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::Url;

use crate::i18n::{Msg, Rule};

pub const NOT_ALLOWED: &str = "target address not allowed";

const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        len,
    )
}

/// The IANA IPv4 Special-Purpose Address Registry (blocks that hold smaller entries stand
/// for them), and multicast. Every address in them is refused.
const SPECIAL_V4: &[(Ipv4Net, &str)] = &[
    (v4(0, 0, 0, 0, 8), "\"this network\" (0.0.0.0/8)"),
    (v4(10, 0, 0, 0, 8), "private-use (10.0.0.0/8)"),
    (
        v4(100, 64, 0, 0, 10),
        "shared address space (100.64.0.0/10)",
    ),
    (v4(127, 0, 0, 0, 8), "loopback (127.0.0.0/8)"),
    (v4(169, 254, 0, 0, 16), "link-local (169.254.0.0/16)"),
    (v4(172, 16, 0, 0, 12), "private-use (172.16.0.0/12)"),
    // Holds DS-Lite 192.0.0.0/29, 192.0.0.8/32, the PCP and TURN anycast addresses .9 and
    // .10, and NAT64 discovery .170 and .171.
    (
        v4(192, 0, 0, 0, 24),
        "IETF protocol assignments (192.0.0.0/24)",
    ),
    (v4(192, 0, 2, 0, 24), "documentation (192.0.2.0/24)"),
    (v4(192, 31, 196, 0, 24), "AS112-v4 (192.31.196.0/24)"),
    (v4(192, 52, 193, 0, 24), "AMT (192.52.193.0/24)"),
    (
        v4(192, 88, 99, 0, 24),
        "6to4 relay anycast (192.88.99.0/24)",
    ),
    (v4(192, 168, 0, 0, 16), "private-use (192.168.0.0/16)"),
    (
        v4(192, 175, 48, 0, 24),
        "AS112 direct delegation (192.175.48.0/24)",
    ),
    (v4(198, 18, 0, 0, 15), "benchmarking (198.18.0.0/15)"),
    (v4(198, 51, 100, 0, 24), "documentation (198.51.100.0/24)"),
    (v4(203, 0, 113, 0, 24), "documentation (203.0.113.0/24)"),
    (v4(224, 0, 0, 0, 4), "multicast (224.0.0.0/4)"),
    // Holds the limited broadcast address 255.255.255.255.
    (v4(240, 0, 0, 0, 4), "reserved (240.0.0.0/4)"),
];

/// NAT64 well-known prefix: the last 32 bits are the IPv4 address reached.
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
/// 6to4: bits 16 to 47 are the IPv4 address of the tunnel's end.
const SIX_TO_FOUR: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);
/// Global unicast: the only IPv6 space handed out for public addresses.
const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// The IANA IPv6 Special-Purpose Address Registry (blocks that hold smaller entries stand for
/// them) and the other non-public forms. NAT64 and 6to4 are judged by their IPv4 address
/// instead; whatever lies outside 2000::/3 and is not listed here is refused as well.
const SPECIAL_V6: &[(Ipv6Net, &str)] = &[
    // Holds :: and ::1, and the deprecated IPv4-compatible form ::a.b.c.d.
    (
        v6([0; 8], 96),
        "unspecified, loopback or IPv4-compatible (::/96)",
    ),
    (
        v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
        "IPv4-mapped (::ffff:0:0/96)",
    ),
    (
        v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96),
        "IPv4-translated (::ffff:0:0:0/96)",
    ),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "local-use IPv4/IPv6 translation (64:ff9b:1::/48)",
    ),
    (
        v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "discard-only (100::/64)",
    ),
    (
        v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64),
        "dummy prefix (100:0:0:1::/64)",
    ),
    // Holds Teredo 2001::/32, the PCP and DNS-SD anycast addresses 2001:1::1 to ::3,
    // benchmarking 2001:2::/48, AMT 2001:3::/32, AS112-v6 2001:4:112::/48 and ORCHID(v2)
    // and drone DETs 2001:10::/28, 2001:20::/28, 2001:30::/28.
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "IETF protocol assignments (2001::/23)",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation (2001:db8::/32)",
    ),
    (
        v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48),
        "AS112 direct delegation (2620:4f:8000::/48)",
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "documentation (3fff::/20)",
    ),
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        "segment routing SIDs (5f00::/16)",
    ),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "unique local (fc00::/7)",
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "link-local (fe80::/10)",
    ),
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local (fec0::/10)",
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast (ff00::/8)"),
];

/// Why fieldstar may not connect to `ip` without the operator's permission: the block it
/// falls in, or `None` for a public address.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => special_v4(ip),
        IpAddr::V6(ip) => special_v6(ip),
    }
}

/// Whether fieldstar may connect to `ip` without the operator's permission.
pub fn is_public(ip: IpAddr) -> bool {
    special_purpose(ip).is_none()
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    SPECIAL_V4
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, why)| *why)
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if NAT64.contains(&ip) {
        return special_v4(embedded(s[6], s[7])).map(|_| "NAT64 of a refused IPv4 address");
    }
    if SIX_TO_FOUR.contains(&ip) {
        return special_v4(embedded(s[1], s[2])).map(|_| "6to4 of a refused IPv4 address");
    }
    if let Some((_, why)) = SPECIAL_V6.iter().find(|(net, _)| net.contains(&ip)) {
        return Some(why);
    }
    (!GLOBAL_UNICAST.contains(&ip)).then_some("outside global unicast (2000::/3)")
}

/// A subscriber URL: http or https, with a host.
pub fn parse_url(text: &str) -> Result<Url, Msg> {
    if text.len() > 2000 {
        return Err(Rule::TooLong.with("max", 2000));
    }
    let url = Url::parse(text).map_err(|_| Msg::from(Rule::NotAUrl))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Rule::UrlScheme.into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Rule::UrlNoHost.into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Rule::UrlCredentials.into());
    }
    Ok(url)
}

/// Resolves `host` (a name or a bare address literal) and checks every address: one refused
/// address refuses them all.
/// The resolver's own error ("failed to lookup address information") is not shown: it says
/// nothing a person can act on beyond "no such host".
async fn lookup(host: &str, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, Msg> {
    let lookup = tokio::net::lookup_host((host, port));
    let addrs: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
        .await
        .map_err(|_| {
            Rule::HostNoAnswer
                .with("host", host)
                .with("seconds", RESOLVE_TIMEOUT.as_secs())
        })?
        .map_err(|_| Rule::HostUnresolvable.with("host", host))?
        .collect();
    if addrs.is_empty() {
        return Err(Rule::HostUnresolvable.with("host", host));
    }
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(Rule::TargetNotAllowed.into());
    }
    Ok(addrs)
}

/// Resolves the URL's host; every address must be allowed. Returns the host and the
/// addresses to connect to (pinned, so a second DNS answer cannot swap them).
pub async fn resolve(url: &Url, allow_private: bool) -> Result<(String, Vec<SocketAddr>), Msg> {
    let host = url.host_str().ok_or(Rule::UrlNoHost)?.to_string();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Msg::from(Rule::NotAUrl))?;
    // Literal IPv6 hosts come bracketed; lookup_host wants them bare.
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addrs = lookup(&bare, port, allow_private).await?;
    Ok((bare, addrs))
}

/// The delivery client's only resolver: every name it resolves is checked as [`resolve`]
/// checks it. The worker pins the addresses it checked first; this one catches any name the
/// pin does not cover, so nothing unchecked is ever connected to.
pub struct CheckedResolver {
    pub allow_private: bool,
}

impl CheckedResolver {
    pub fn new(allow_private: bool) -> Arc<CheckedResolver> {
        Arc::new(CheckedResolver { allow_private })
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            // The connector puts the URL's port on the addresses; 0 here.
            let addrs = lookup(name.as_str(), 0, allow_private)
                .await
                .map_err(|m| m.to_string())?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;

    fn ip(s: &str) -> IpAddr {
        s.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .expect("test address")
    }

    /// Each refused address with the block it must fall in: the first and last address of
    /// every block, and every form the issue reported.
    const REFUSED: &[(&str, &str)] = &[
        ("0.0.0.0", "0.0.0.0/8"),
        ("0.255.255.255", "0.0.0.0/8"),
        ("10.0.0.0", "10.0.0.0/8"),
        ("10.255.255.255", "10.0.0.0/8"),
        ("100.64.0.0", "100.64.0.0/10"),
        ("100.127.255.255", "100.64.0.0/10"),
        ("127.0.0.1", "127.0.0.0/8"),
        ("127.255.255.255", "127.0.0.0/8"),
        ("169.254.169.254", "169.254.0.0/16"),
        ("172.16.0.1", "172.16.0.0/12"),
        ("172.31.255.255", "172.16.0.0/12"),
        ("192.0.0.0", "192.0.0.0/24"),
        ("192.0.0.8", "192.0.0.0/24"),
        ("192.0.0.9", "192.0.0.0/24"),
        ("192.0.0.10", "192.0.0.0/24"),
        ("192.0.0.170", "192.0.0.0/24"),
        ("192.0.0.255", "192.0.0.0/24"),
        ("192.0.2.0", "192.0.2.0/24"),
        ("192.0.2.255", "192.0.2.0/24"),
        ("192.31.196.1", "192.31.196.0/24"),
        ("192.52.193.1", "192.52.193.0/24"),
        ("192.88.99.1", "192.88.99.0/24"),
        ("192.168.0.0", "192.168.0.0/16"),
        ("192.168.255.255", "192.168.0.0/16"),
        ("192.175.48.1", "192.175.48.0/24"),
        ("198.18.0.0", "198.18.0.0/15"),
        ("198.19.255.255", "198.18.0.0/15"),
        ("198.51.100.0", "198.51.100.0/24"),
        ("198.51.100.255", "198.51.100.0/24"),
        ("203.0.113.0", "203.0.113.0/24"),
        ("203.0.113.255", "203.0.113.0/24"),
        ("224.0.0.1", "224.0.0.0/4"),
        ("239.255.255.255", "224.0.0.0/4"),
        ("240.0.0.0", "240.0.0.0/4"),
        ("250.1.2.3", "240.0.0.0/4"),
        ("255.255.255.255", "240.0.0.0/4"),
        // IPv6.
        ("::", "::/96"),
        ("::1", "::/96"),
        ("[::127.0.0.1]", "::/96"),
        ("::7f00:1", "::/96"),
        ("::8.8.8.8", "::/96"),
        ("::ffff:127.0.0.1", "::ffff:0:0/96"),
        ("::ffff:10.0.0.1", "::ffff:0:0/96"),
        ("::ffff:93.184.216.34", "::ffff:0:0/96"),
        ("[::ffff:0:7f00:1]", "::ffff:0:0:0/96"),
        ("[64:ff9b::7f00:1]", "NAT64"),
        ("64:ff9b::127.0.0.1", "NAT64"),
        ("64:ff9b::a9fe:a9fe", "NAT64"),
        ("64:ff9b::c000:201", "NAT64"),
        ("64:ff9b::f000:1", "NAT64"),
        ("64:ff9b:1::", "64:ff9b:1::/48"),
        ("64:ff9b:1::5db8:d822", "64:ff9b:1::/48"),
        ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::/48"),
        ("[2002:7f00:1::]", "6to4"),
        ("2002:a00:1::1", "6to4"),
        ("2002:c0a8:101::", "6to4"),
        ("2002:c058:6301::", "6to4"),
        ("2002:e000:1::", "6to4"),
        ("100::", "100::/64"),
        ("100::ffff:ffff:ffff:ffff", "100::/64"),
        ("100:0:0:1::1", "100:0:0:1::/64"),
        ("2001::", "2001::/23"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/23"),
        ("2001:1::1", "2001::/23"),
        ("2001:2::1", "2001::/23"),
        ("2001:3::1", "2001::/23"),
        ("2001:4:112::1", "2001::/23"),
        ("2001:10::1", "2001::/23"),
        ("2001:20::1", "2001::/23"),
        ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23"),
        ("2001:db8::", "2001:db8::/32"),
        ("2001:db8::1", "2001:db8::/32"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"),
        ("2620:4f:8000::1", "2620:4f:8000::/48"),
        ("3fff::1", "3fff::/20"),
        ("3fff:fff:ffff::1", "3fff::/20"),
        ("5f00::1", "5f00::/16"),
        ("fc00::1", "fc00::/7"),
        ("fd12:3456::1", "fc00::/7"),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7"),
        ("fe80::1", "fe80::/10"),
        ("febf:ffff::1", "fe80::/10"),
        ("fec0::1", "fec0::/10"),
        ("feff:ffff::1", "fec0::/10"),
        ("ff02::1", "ff00::/8"),
        ("ff0e::1", "ff00::/8"),
        // Reserved or unassigned by the IETF: outside global unicast.
        ("::1:0:0:1", "2000::/3"),
        ("4000::1", "2000::/3"),
        ("c000::1", "2000::/3"),
        ("1::1", "2000::/3"),
    ];

    #[test]
    fn every_special_purpose_address_is_refused_and_says_why() {
        for (text, block) in REFUSED {
            let why = special_purpose(ip(text));
            assert!(
                why.is_some_and(|w| w.contains(block)),
                "{text}: expected {block}, got {why:?}"
            );
            assert!(!is_public(ip(text)), "{text}");
        }
    }

    #[test]
    fn public_addresses_and_their_nat64_and_6to4_forms_are_allowed() {
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "191.255.255.255",
            "192.0.1.1",
            "192.0.3.1",
            "192.167.255.255",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "198.51.99.1",
            "198.51.101.1",
            "203.0.112.1",
            "203.0.114.1",
            "223.255.255.255",
            // IPv6 global unicast.
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2001:db9::1",
            "2001:db7:ffff::1",
            "2620:4f:8001::1",
            "3ffe::1",
            "3fff:1000::1",
            "2400:cb00::1",
            // NAT64 and 6to4 of public IPv4 addresses.
            "64:ff9b::5db8:d822",
            "64:ff9b::8.8.8.8",
            "2002:5db8:d822::1",
            "2002:808:808::",
        ] {
            assert_eq!(special_purpose(ip(allowed)), None, "{allowed}");
        }
    }

    #[test]
    fn the_reported_forms_are_refused_as_urls() {
        // URLs normalise their hosts before anything resolves them; the check sees the result.
        for url in [
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[::ffff:0:7f00:1]/",
            "http://198.18.0.1/",
            "http://198.19.255.254/",
            "http://240.0.0.1/",
            "http://192.0.0.1/",
            "http://192.0.2.1/",
            "http://[fec0::1]/",
            "http://[100::1]/",
            "http://[2001:db8::1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
        ] {
            let url = parse_url(url).expect(url);
            let host = url.host_str().unwrap();
            assert!(!is_public(ip(host)), "{url} ({host})");
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
        assert_eq!(
            resolve(&url, false).await.unwrap_err().to_string(),
            NOT_ALLOWED
        );
        let (host, addrs) = resolve(&url, true).await.unwrap();
        assert_eq!(host, "127.0.0.1");
        assert_eq!(addrs[0].port(), 9);
        for refused in [
            "http://[::1]:9/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[2001:db8::1]/",
        ] {
            let url = parse_url(refused).unwrap();
            assert_eq!(
                resolve(&url, false).await.unwrap_err().to_string(),
                NOT_ALLOWED,
                "{refused}"
            );
        }
        let public = parse_url("http://93.184.216.34/").unwrap();
        assert_eq!(resolve(&public, false).await.unwrap().1[0].port(), 80);
    }

    #[actix_web::test]
    async fn names_are_checked_by_what_they_resolve_to() {
        let url = parse_url("http://localhost:9/hook").unwrap();
        assert_eq!(
            resolve(&url, false).await.unwrap_err().to_string(),
            NOT_ALLOWED
        );
        let (_, addrs) = resolve(&url, true).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");

        // The delivery client's resolver refuses the same names.
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let err = match CheckedResolver::new(false).resolve(name("localhost")).await {
            Ok(addrs) => panic!("resolved {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert_eq!(err, NOT_ALLOWED);
        let allowed = CheckedResolver::new(true)
            .resolve(name("localhost"))
            .await
            .expect("allowed when private targets are");
        assert!(allowed.into_iter().all(|a| a.ip().is_loopback()));
    }
}
