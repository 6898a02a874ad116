//! The riglet's top-level values: region (file or `--region`), domain, certificate, key pair and
//! e-mail.

use super::{Overrides, RigToml, ACCOUNT_PLACEHOLDER};

/// The values checked here that the riglet keeps in another form than written.
pub(super) struct Checked {
    /// `--region`, else the file's, else the default.
    pub(super) region: String,
    /// The certificate ARN (built from a bare certificate id, with [`ACCOUNT_PLACEHOLDER`]).
    pub(super) domain_cert_arn: String,
}

/// Checks region, domain, certificate, key pair and e-mail, in that order.
pub(super) fn check(t: &RigToml, ov: &Overrides, problems: &mut Vec<String>) -> Checked {
    let region = ov
        .region
        .clone()
        .or(t.region.clone())
        .unwrap_or_else(default_region);
    if !is_region(&region) {
        problems.push(format!(
            "`region`: `{region}` is not an AWS region name like us-east-1"
        ));
    }
    if t.domain.is_empty() || !t.domain.contains('.') || t.domain.contains(['/', ' ', ':']) {
        problems.push(format!(
            "`domain`: `{}` is not a DNS domain like example.com",
            t.domain
        ));
    }
    let domain_cert_arn = domain_cert_arn(&t.domain_cert, &region, problems);
    if let Some(k) = &t.key_name {
        if k.is_empty() || k.len() > 255 || !k.is_ascii() {
            problems.push(
                "`key_name`: must be 1–255 ASCII characters; remove it to use no key pair".into(),
            );
        }
    }
    if let Some(e) = &t.email {
        if !is_email(e) {
            problems.push(format!(
                "`email`: `{e}` is not an e-mail address; remove it for no subscription"
            ));
        }
    }
    Checked {
        region,
        domain_cert_arn,
    }
}

/// `domain_cert` as an ARN: given as one, or built from a certificate id in `region`.
fn domain_cert_arn(domain_cert: &str, region: &str, problems: &mut Vec<String>) -> String {
    let cert = domain_cert.trim();
    if cert.starts_with("arn:") {
        if !cert.contains(":acm:") || !cert.contains(":certificate/") {
            problems.push(format!(
                "`domain_cert`: `{cert}` is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
            ));
        }
        cert.to_string()
    } else if is_uuid(cert) {
        // The account id is filled in by the engine once it knows the caller's account.
        format!("arn:aws:acm:{region}:{ACCOUNT_PLACEHOLDER}:certificate/{cert}")
    } else {
        problems.push(format!(
            "`domain_cert`: `{cert}` is neither an ACM certificate ARN nor a certificate id (a UUID)"
        ));
        String::new()
    }
}

fn default_region() -> String {
    "us-east-1".to_string()
}

fn is_region(r: &str) -> bool {
    // e.g. us-east-1, eu-central-2, ap-southeast-4, us-gov-west-1, cn-north-1
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `user@domain.tld` with no space: what SNS e-mail subscriptions take.
pub(super) fn is_email(e: &str) -> bool {
    e.split_once('@')
        .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'))
        && !e.contains(' ')
}
