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
    let mut report = |r: Result<(), String>| {
        if let Err(m) = r {
            problems.push(m);
        }
    };
    report(check_region(&region));
    report(check_domain(&t.domain));
    let domain_cert_arn = match check_domain_cert(&t.domain_cert, &region) {
        Ok(arn) => arn,
        Err(m) => {
            report(Err(m));
            String::new()
        }
    };
    if let Some(k) = &t.key_name {
        report(check_key_name(k));
    }
    if let Some(e) = &t.email {
        report(check_email(e));
    }
    Checked {
        region,
        domain_cert_arn,
    }
}

/// `region` (or `--region`): an AWS region name. The error is the loader's message.
pub fn check_region(region: &str) -> Result<(), String> {
    if is_region(region) {
        Ok(())
    } else {
        Err(format!(
            "`region`: `{region}` is not an AWS region name like us-east-1"
        ))
    }
}

/// `domain`: a DNS domain. The error is the loader's message.
pub fn check_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() || !domain.contains('.') || domain.contains(['/', ' ', ':']) {
        Err(format!(
            "`domain`: `{domain}` is not a DNS domain like example.com"
        ))
    } else {
        Ok(())
    }
}

/// `domain_cert`: an ACM certificate ARN, or a certificate id (a UUID) in `region`. Returns
/// the ARN (a bare id gets [`ACCOUNT_PLACEHOLDER`] for the account). The error is the loader's
/// message.
pub fn check_domain_cert(domain_cert: &str, region: &str) -> Result<String, String> {
    let cert = domain_cert.trim();
    if cert.starts_with("arn:") {
        if !cert.contains(":acm:") || !cert.contains(":certificate/") {
            return Err(format!(
                "`domain_cert`: `{cert}` is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
            ));
        }
        Ok(cert.to_string())
    } else if is_uuid(cert) {
        // The account id is filled in by the engine once it knows the caller's account.
        Ok(format!(
            "arn:aws:acm:{region}:{ACCOUNT_PLACEHOLDER}:certificate/{cert}"
        ))
    } else {
        Err(format!(
            "`domain_cert`: `{cert}` is neither an ACM certificate ARN nor a certificate id (a UUID)"
        ))
    }
}

/// `key_name`: an EC2 key pair name. The error is the loader's message.
pub fn check_key_name(key_name: &str) -> Result<(), String> {
    if key_name.is_empty() || key_name.len() > 255 || !key_name.is_ascii() {
        Err("`key_name`: must be 1–255 ASCII characters; remove it to use no key pair".into())
    } else {
        Ok(())
    }
}

/// `email`: an e-mail address. The error is the loader's message.
pub fn check_email(email: &str) -> Result<(), String> {
    if is_email(email) {
        Ok(())
    } else {
        Err(format!(
            "`email`: `{email}` is not an e-mail address; remove it for no subscription"
        ))
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
