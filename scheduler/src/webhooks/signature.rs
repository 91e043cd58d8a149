//! Signing webhook bodies, and checking a signature as a receiver would.
//!
//! The header is `Starfarm-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is
//! HMAC-SHA256, keyed with the scheduler's `--webhook-secret`, of `<t>.<body>`: the
//! timestamp is signed with the body, so a receiver that refuses old timestamps refuses
//! replays too.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The name of the signature header.
pub const HEADER: &str = "starfarm-signature";

type HmacSha256 = Hmac<Sha256>;

/// Why a signature header does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature's timestamp {t} is more than {tolerance_secs} s from now")]
    Stale { t: i64, tolerance_secs: i64 },
}

fn mac(secret: &[u8], unix_secs: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `unix_secs`.
pub fn sign(secret: &[u8], unix_secs: i64, body: &[u8]) -> String {
    let digest = mac(secret, unix_secs, body).finalize().into_bytes();
    format!("t={unix_secs},v1={}", hex::encode(digest))
}

/// What a receiver does: parse the header, refuse a timestamp more than `tolerance_secs`
/// from `now_unix_secs`, and compare the MAC in constant time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(SignatureError::Malformed);
    };
    if (now_unix_secs - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale { t, tolerance_secs });
    }
    mac(secret, t, body)
        .verify_slice(&v1)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_body_and_time() {
        let header = sign(b"secret", 1_700_000_000, b"{\"id\":1}");
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        let ok = |secret: &[u8], body: &[u8], now| verify(secret, &header, body, now, 300);
        assert_eq!(ok(b"secret", b"{\"id\":1}", 1_700_000_100), Ok(()));
        assert_eq!(
            ok(b"other", b"{\"id\":1}", 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(b"secret", b"{\"id\":2}", 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            ok(b"secret", b"{\"id\":1}", 1_700_000_301),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify(b"secret", "v1=00", b"", 0, 300),
            Err(SignatureError::Malformed)
        );
    }

    /// The example of docs/operators.md, computed independently with
    /// `printf '1700000000.{"id":1}' | openssl dgst -sha256 -hmac secret`.
    #[test]
    fn matches_openssl() {
        let header = sign(b"secret", 1_700_000_000, b"{\"id\":1}");
        assert_eq!(header, format!("t=1700000000,v1={}", OPENSSL));
    }

    const OPENSSL: &str = "3dd1b9aef568d75f6790a84bd2e5dfa1f44409eef3cbdbd3f10b837376100c11";
}
