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
    report(check_region(&region).map_err(|m| {
        if ov.region.is_some() {
            m.replacen("`region`", "`--region`", 1)
        } else {
            m
        }
    }));
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

/// `domain`: a DNS domain as Route 53 and an ELB host-header condition take it: at least two
/// labels of 1–63 letters, digits and `-` (not first or last), 253 characters at most, no
/// trailing dot (Route 53 Developer Guide, "DNS domain name format"; ELB `HostHeaderConditionConfig`).
/// The error is the loader's message.
pub fn check_domain(domain: &str) -> Result<(), String> {
    let problem = if let Some((scheme, _)) = domain.split_once("://") {
        Some(format!("remove `{scheme}://`; give the bare domain"))
    } else if domain.ends_with('.') && domain.len() > 1 {
        Some("remove the trailing dot".to_string())
    } else if domain.len() > 253 {
        Some(format!(
            "it has {} characters, more than DNS allows (253)",
            domain.len()
        ))
    } else if !domain.contains('.') {
        Some("a domain has at least two labels, like example.com".to_string())
    } else if let Some(label) = domain.split('.').find(|l| l.is_empty() || l.len() > 63) {
        Some(if label.is_empty() {
            "it has an empty label (two dots in a row, or a leading dot)".to_string()
        } else {
            format!(
                "its label `{label}` has {} characters, more than 63",
                label.len()
            )
        })
    } else if let Some(label) = domain.split('.').find(|l| {
        l.starts_with('-')
            || l.ends_with('-')
            || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }) {
        Some(format!(
            "its label `{label}` may hold only letters, digits and `-`, not first or last"
        ))
    } else if domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        Some("it ends in a number, like an IP address".to_string())
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!(
            "`domain`: `{domain}` is not a DNS domain like example.com: {p}"
        )),
        None => Ok(()),
    }
}

/// `domain_cert`: an ACM certificate ARN, or a certificate id (a UUID) in `region`. Returns
/// the ARN (a bare id gets [`ACCOUNT_PLACEHOLDER`] for the account). The error is the loader's
/// message.
pub fn check_domain_cert(domain_cert: &str, region: &str) -> Result<String, String> {
    let cert = domain_cert.trim();
    if cert.starts_with("arn:") {
        // arn:PARTITION:acm:REGION:ACCOUNT:certificate/ID
        let parts: Vec<&str> = cert.splitn(6, ':').collect();
        let well_formed = parts.len() == 6
            && parts[1].starts_with("aws")
            && parts[2] == "acm"
            && is_region(parts[3])
            && parts[4].len() == 12
            && parts[4].chars().all(|c| c.is_ascii_digit())
            && parts[5].strip_prefix("certificate/").is_some_and(is_uuid);
        if !well_formed {
            return Err(format!(
                "`domain_cert`: `{cert}` is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
            ));
        }
        if parts[3] != region && is_region(region) {
            return Err(format!(
                "`domain_cert`: the certificate is in {}, but the riglet is in {region}; a load \
                 balancer takes only a certificate of its own region (request or import one in \
                 {region} with ACM)",
                parts[3]
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
