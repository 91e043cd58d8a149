//! Which callback URLs the scheduler POSTs to. The API is shared by tenants, so a callback
//! must not reach into the farm's own network: by default a URL whose host is, or resolves
//! to, a loopback, private, link-local or otherwise non-public address is refused, at
//! submission and again at each delivery (DNS may change in between); the delivery then
//! connects to the addresses it checked. `--webhook-allow-private` lifts the rule (devnets,
//! tests, a farm whose tenants are all trusted).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

use crate::store::MAX_CALLBACK_URL_LEN;

/// How long resolving a callback's host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a callback URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    Invalid(String),
    #[error("{host} resolves to {addr}, a loopback, private or link-local address; this scheduler only calls public addresses")]
    Private { host: String, addr: IpAddr },
    #[error("cannot resolve {host}: {reason}")]
    Unresolved { host: String, reason: String },
}

/// A callback URL that passed [`check`]: the URL, and the addresses to connect to (empty
/// when private addresses are allowed: then the client resolves as usual).
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub addrs: Vec<SocketAddr>,
}

/// Parses `raw` (an absolute http or https URL with a host) and, unless `allow_private`,
/// resolves its host and refuses it if any address is not public.
pub async fn check(raw: &str, allow_private: bool) -> Result<Target, TargetError> {
    let url = parse(raw)?;
    if allow_private {
        return Ok(Target {
            url,
            addrs: Vec::new(),
        });
    }
    let addrs = resolve(&url).await?;
    let host = url.host_str().unwrap_or_default().to_owned();
    if let Some(addr) = addrs.iter().map(SocketAddr::ip).find(|ip| !is_public(*ip)) {
        return Err(TargetError::Private { host, addr });
    }
    Ok(Target { url, addrs })
}

fn parse(raw: &str) -> Result<Url, TargetError> {
    let invalid = |msg: String| Err(TargetError::Invalid(msg));
    if raw.len() > MAX_CALLBACK_URL_LEN {
        return invalid(format!("longer than {MAX_CALLBACK_URL_LEN} bytes"));
    }
    let url = Url::parse(raw).or_else(|e| invalid(format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return invalid(format!(
            "scheme {:?} is not http or https in {raw:?}",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return invalid(format!("{raw:?} has no host"));
    }
    Ok(url)
}

async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, TargetError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let name = match url.host() {
        Some(Host::Ipv4(ip)) => return Ok(vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Ipv6(ip)) => return Ok(vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Domain(name)) => name.to_owned(),
        None => return Err(TargetError::Invalid("no host".into())),
    };
    let unresolved = |reason: String| TargetError::Unresolved {
        host: name.clone(),
        reason,
    };
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((&*name, port)))
        .await
        .map_err(|_| unresolved(format!("no answer within {RESOLVE_TIMEOUT:?}")))?
        .map_err(|e| unresolved(e.to_string()))?;
    let addrs: Vec<SocketAddr> = found.collect();
    if addrs.is_empty() {
        return Err(unresolved("no address".into()));
    }
    Ok(addrs)
}

/// Whether `ip` is an address of the public internet: not loopback, private, link-local,
/// shared (CGNAT), unspecified, broadcast, multicast, documentation, benchmarking or
/// reserved, including IPv4 addresses embedded in IPv6 (mapped, compatible, NAT64).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d).
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0; 6] {
        if ip.is_loopback() || ip.is_unspecified() {
            return false;
        }
        let [_, _, _, _, _, _, hi, lo] = segments;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return is_public_v4(v4);
    }
    let first = segments[0];
    let special = ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && segments[1] == 0x0db8); // documentation
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public} is public");
        }
    }

    #[tokio::test]
    async fn urls_are_http_with_a_host_and_public_unless_allowed() {
        for bad in [
            "not a url",
            "ftp://example.com/x",
            "file:///etc/passwd",
            "http://",
        ] {
            let e = check(bad, true).await.unwrap_err();
            assert!(matches!(e, TargetError::Invalid(_)), "{bad}: {e:?}");
        }
        let long = format!("http://example.com/{}", "a".repeat(MAX_CALLBACK_URL_LEN));
        assert!(matches!(
            check(&long, true).await,
            Err(TargetError::Invalid(_))
        ));
        for private in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "https://10.0.0.7/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:8080/hook",
        ] {
            let e = check(private, false).await.unwrap_err();
            assert!(matches!(e, TargetError::Private { .. }), "{private}: {e:?}");
            let allowed = check(private, true).await.unwrap();
            assert!(allowed.addrs.is_empty());
        }
        let public = check("https://93.184.215.14/hook", false).await.unwrap();
        assert_eq!(public.addrs, ["93.184.215.14:443".parse().unwrap()]);
    }
}
