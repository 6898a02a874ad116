//! What belongs to a riglet, and how rig knows.
//!
//! Every stack, bucket and SSM parameter rig creates carries tags naming its riglet
//! ([`OWNER`], [`PROJECT`]), its environment ([`ENVIRONMENT`], where it has one) and its role
//! ([`ROLE`]: `foundation`, `compute`, `database`, `pipeline`, `application`, `bastion`);
//! stacks also carry the backend that planned them ([`BACKEND`]) and the bucket their template
//! is uploaded to ([`TEMPLATE_BUCKET`]). The seed's `Owner` / `Project` / `Environment` tags are
//! kept beside them for people and cost reports.
//!
//! Resources are chosen by exact name from the plan, or (for what the plan no longer has) by an
//! exact match of these tags; never by a name prefix, suffix or substring. Before rig changes or
//! deletes a resource it checks the resource's tags with [`Expected::check`]:
//! - rig's tags present and equal: [`Verdict::Owned`];
//! - no `rig:` tag at all, and any seed tag present agrees: [`Verdict::Legacy`], a resource made by
//!   an earlier rig before it tagged what it owns. It is adopted, because the caller only asks
//!   about a resource whose exact name is the one the plan gives that role, and that is said on
//!   stderr;
//! - anything else: [`Verdict::Foreign`], refused with [`NotOwned`], which names the resource and
//!   the tags it carries.

use std::collections::BTreeMap;
use std::fmt;

use rig_core::names::RigletNames;
use serde::Serialize;

/// Tag: the riglet's owner.
pub const OWNER: &str = "rig:owner";
/// Tag: the riglet's project.
pub const PROJECT: &str = "rig:project";
/// Tag: the environment (absent on riglet-wide resources such as pipelines).
pub const ENVIRONMENT: &str = "rig:environment";
/// Tag: `foundation`, `compute`, `database`, `pipeline`, `application` or `bastion`.
pub const ROLE: &str = "rig:role";
/// Tag (stacks): the backend id that planned the stack.
pub const BACKEND: &str = "rig:backend";
/// Tag (stacks): the bucket the stack's template is uploaded to.
pub const TEMPLATE_BUCKET: &str = "rig:template-bucket";
/// Tag (stacks): what the backend says must change before the stack is deleted
/// (`StackPlan::before_delete`), as `Key=value` pairs separated by spaces; kept on the stack so
/// that an orphan (whose backend the configuration no longer names) is deleted the same way.
pub const BEFORE_DELETE: &str = "rig:before-delete";

/// `Key=value Key2=value2`, the form of [`BEFORE_DELETE`].
pub fn format_pairs(pairs: &BTreeMap<String, String>) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads [`format_pairs`]' form back.
pub fn parse_pairs(text: &str) -> Vec<(String, String)> {
    text.split_whitespace()
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The seed's tags, kept for people and cost allocation; checked for agreement on legacy
/// resources.
const SEED_OWNER: &str = "Owner";
const SEED_PROJECT: &str = "Project";
const SEED_ENVIRONMENT: &str = "Environment";

/// Who a resource must belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub owner: String,
    pub project: String,
    pub environment: Option<String>,
    pub role: String,
}

/// What the tags of a live resource say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Carries this riglet's tags.
    Owned,
    /// Carries no rig tag: made by an earlier rig; adopted on its exact name.
    Legacy,
    /// Belongs to something else.
    Foreign,
}

impl Expected {
    pub fn new(names: &RigletNames, environment: Option<&str>, role: &str) -> Expected {
        Expected {
            owner: names.owner.clone(),
            project: names.project.clone(),
            environment: environment.map(str::to_string),
            role: role.to_string(),
        }
    }

    /// The tags rig puts on such a resource: rig's own and the seed's.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut t = BTreeMap::new();
        t.insert(OWNER.to_string(), self.owner.clone());
        t.insert(PROJECT.to_string(), self.project.clone());
        t.insert(ROLE.to_string(), self.role.clone());
        t.insert(SEED_OWNER.to_string(), self.owner.clone());
        t.insert(SEED_PROJECT.to_string(), self.project.clone());
        if let Some(e) = &self.environment {
            t.insert(ENVIRONMENT.to_string(), e.clone());
            t.insert(SEED_ENVIRONMENT.to_string(), e.clone());
        }
        t
    }

    /// Decides from a live resource's tags whether it is this riglet's.
    pub fn check(&self, found: &BTreeMap<String, String>) -> Verdict {
        let has_rig_tags = found.keys().any(|k| k.starts_with("rig:"));
        let env = self.environment.as_deref();
        if has_rig_tags {
            let same = |k: &str, v: Option<&str>| found.get(k).map(String::as_str) == v;
            return if same(OWNER, Some(&self.owner))
                && same(PROJECT, Some(&self.project))
                && same(ENVIRONMENT, env)
                && same(ROLE, Some(&self.role))
            {
                Verdict::Owned
            } else {
                Verdict::Foreign
            };
        }
        let agrees = |k: &str, v: Option<&str>| match (found.get(k), v) {
            (None, _) => true,
            (Some(f), Some(v)) => f == v,
            (Some(_), None) => false,
        };
        if agrees(SEED_OWNER, Some(&self.owner))
            && agrees(SEED_PROJECT, Some(&self.project))
            && agrees(SEED_ENVIRONMENT, env)
        {
            Verdict::Legacy
        } else {
            Verdict::Foreign
        }
    }

    /// Whether live tags already carry every tag rig would put (so nothing needs re-tagging).
    pub fn tagged(&self, found: &BTreeMap<String, String>) -> bool {
        self.tags().iter().all(|(k, v)| found.get(k) == Some(v))
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{OWNER}={}, {PROJECT}={}, {ENVIRONMENT}={}, {ROLE}={}",
            self.owner,
            self.project,
            self.environment.as_deref().unwrap_or("(none)"),
            self.role
        )
    }
}

/// A resource with the name rig expects but tags that say it is not this riglet's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{kind} {name} is not this riglet's: rig expects the tags {expected}, and it has {}", show_tags(.found))]
pub struct NotOwned {
    /// `stack`, `bucket` or `parameter`.
    pub kind: String,
    pub name: String,
    pub expected: Expected,
    pub found: BTreeMap<String, String>,
}

/// `k=v, k=v`, or `no tags`.
pub fn show_tags(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        "no tags".to_string()
    } else {
        tags.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether live tags name this riglet (owner and project) exactly: how live resources the plan
/// no longer has are found.
pub fn of_riglet(names: &RigletNames, tags: &BTreeMap<String, String>) -> bool {
    tags.get(OWNER) == Some(&names.owner) && tags.get(PROJECT) == Some(&names.project)
}

/// The order of roles in the stack graph: a stack of a higher rank may depend on one of a lower
/// rank in the same environment (and a riglet-wide one on any environment's), never the reverse.
pub fn role_rank(role: &str) -> u8 {
    match role {
        "foundation" => 0,
        "compute" | "database" => 1,
        "pipeline" => 2,
        "application" => 3,
        "bastion" => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn qa() -> Expected {
        Expected::new(
            &RigletNames::new("acme", "shop", "us-east-1"),
            Some("qa"),
            "foundation",
        )
    }

    #[test]
    fn own_tags_are_owned_and_any_difference_is_foreign() {
        let e = qa();
        assert_eq!(e.check(&e.tags()), Verdict::Owned);
        for (k, v) in [
            (OWNER, "acme2"),
            (PROJECT, "shop-qa"),
            (ENVIRONMENT, "qa-eu"),
            (ROLE, "compute"),
        ] {
            let mut t = e.tags();
            t.insert(k.into(), v.into());
            assert_eq!(e.check(&t), Verdict::Foreign, "{k}={v}");
        }
        let mut t = e.tags();
        t.remove(ENVIRONMENT);
        assert_eq!(e.check(&t), Verdict::Foreign, "missing environment tag");
    }

    #[test]
    fn untagged_resources_are_legacy_unless_seed_tags_disagree() {
        let e = qa();
        assert_eq!(e.check(&BTreeMap::new()), Verdict::Legacy);
        assert_eq!(
            e.check(&tags(&[("Owner", "acme"), ("Project", "shop")])),
            Verdict::Legacy
        );
        assert_eq!(
            e.check(&tags(&[("Owner", "acme"), ("Environment", "qa-eu")])),
            Verdict::Foreign
        );
        assert_eq!(e.check(&tags(&[("Project", "web")])), Verdict::Foreign);
    }

    #[test]
    fn refusal_names_the_resource_and_its_tags() {
        let e = qa();
        let found = tags(&[(OWNER, "other"), (PROJECT, "shop")]);
        let msg = NotOwned {
            kind: "stack".into(),
            name: "acme-shop-qa-foundation".into(),
            expected: e,
            found,
        }
        .to_string();
        assert!(msg.contains("stack acme-shop-qa-foundation"), "{msg}");
        assert!(msg.contains("rig:owner=other"), "{msg}");
        assert!(msg.contains("rig:environment=qa"), "{msg}");
    }

    #[test]
    fn before_delete_pairs_round_trip() {
        let pairs: BTreeMap<String, String> = [
            ("DeletionProtection".to_string(), "false".to_string()),
            ("Other".to_string(), "x".to_string()),
        ]
        .into();
        let text = format_pairs(&pairs);
        assert_eq!(text, "DeletionProtection=false Other=x");
        assert_eq!(parse_pairs(&text), pairs.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn riglet_membership_is_exact() {
        let n = RigletNames::new("acme", "shop", "us-east-1");
        assert!(of_riglet(&n, &tags(&[(OWNER, "acme"), (PROJECT, "shop")])));
        assert!(!of_riglet(
            &n,
            &tags(&[(OWNER, "acme"), (PROJECT, "shop-qa")])
        ));
        assert!(!of_riglet(&n, &tags(&[(OWNER, "acme")])));
        assert!(!of_riglet(
            &n,
            &tags(&[("Owner", "acme"), ("Project", "shop")])
        ));
    }
}
