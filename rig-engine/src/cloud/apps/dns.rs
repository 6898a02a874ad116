//! Route 53: the public hosted zone of a domain, and whether a zone exists. Source:
//! ListHostedZonesByName, GetHostedZone.

use crate::cloud::{aws_err, AwsError, Clients};

/// `domain` as Route 53 names zones: lower case, one trailing dot.
fn zone_name(domain: &str) -> String {
    format!("{}.", domain.trim_end_matches('.').to_ascii_lowercase())
}

/// A zone id without its `/hostedzone/` prefix.
fn bare_id(id: &str) -> &str {
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

impl Clients {
    /// The id (`Z...`, without `/hostedzone/`) of the public hosted zone named exactly
    /// `<domain>.` (a trailing dot in `domain` is optional; case does not matter), chosen by
    /// name only; `None` when there is none (private zones and zones of parent or child domains
    /// do not count). Two public zones with that name are an error that says so and lists them.
    /// ListHostedZonesByName from `domain`, a next page only while it can still hold that name.
    pub async fn public_zone_id(&self, domain: &str) -> Result<Option<String>, AwsError> {
        const OP: &str = "ListHostedZonesByName";
        let want = zone_name(domain);
        let mut found: Vec<String> = Vec::new();
        let mut next: Option<(String, Option<String>)> = Some((want.clone(), None));
        while let Some((name, zone)) = next.take() {
            let page = self
                .route53
                .list_hosted_zones_by_name()
                .dns_name(name)
                .set_hosted_zone_id(zone)
                .send()
                .await
                .map_err(|e| aws_err(OP, self.ep(), e))?;
            // Zones come sorted by name from `domain` on: the ones named exactly so come
            // first, and only a page that ends with one can be followed by more.
            let zones = page.hosted_zones();
            for z in zones.iter().filter(|z| zone_name(z.name()) == want) {
                if !z.config().is_some_and(|c| c.private_zone()) {
                    found.push(bare_id(z.id()).to_string());
                }
            }
            let more = zones.last().is_some_and(|z| zone_name(z.name()) == want);
            if page.is_truncated() && more {
                if let Some(n) = page.next_dns_name() {
                    next = Some((
                        n.to_string(),
                        page.next_hosted_zone_id().map(str::to_string),
                    ));
                }
            }
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(AwsError::Service {
                op: OP.into(),
                code: None,
                request_id: None,
                message: format!(
                    "{} public hosted zones are named {want} ({}): rig cannot tell which one \
                     serves the domain\n  hint: set hosted_zone_id in rig.toml",
                    found.len(),
                    found.join(", ")
                ),
            }),
        }
    }

    /// The name (with its trailing dot) of hosted zone `id` (with or without `/hostedzone/`);
    /// `None` when it does not exist (`NoSuchHostedZone`). One GetHostedZone.
    pub async fn zone_exists(&self, id: &str) -> Result<Option<String>, AwsError> {
        match self.route53.get_hosted_zone().id(bare_id(id)).send().await {
            Ok(out) => Ok(out.hosted_zone().map(|z| z.name().to_string())),
            Err(e) => {
                let e = aws_err("GetHostedZone", self.ep(), e);
                if e.code() == Some("NoSuchHostedZone") {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }
}
