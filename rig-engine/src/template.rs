//! Reading a CloudFormation template (YAML or JSON, short-form tags included) with `saphyr`,
//! for what rig needs to know of it without AWS: the resources it declares and which of them it
//! retains when its stack is deleted.

use std::collections::BTreeSet;

use saphyr::{LoadableYamlNode, Scalar, Yaml};

/// A resource as its template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub logical_id: String,
    pub resource_type: String,
    /// `Delete` (the default when absent), `Retain`, `RetainExceptOnCreate` or `Snapshot`.
    pub deletion_policy: Option<String>,
}

/// The logical ids of the resources that outlive their stack's deletion
/// (`DeletionPolicy: Retain` or `RetainExceptOnCreate`); empty if the template cannot be read.
pub fn retained(body: &str) -> BTreeSet<String> {
    declared(body)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| {
            matches!(
                d.deletion_policy.as_deref(),
                Some("Retain" | "RetainExceptOnCreate")
            )
        })
        .map(|d| d.logical_id)
        .collect()
}

/// The resources a template declares (its top-level `Resources` mapping: each entry's logical
/// id, `Type` and `DeletionPolicy`), in template order. Reads YAML and JSON templates alike;
/// CloudFormation's short-form tags (`!Ref`, `!Sub`, `!GetAtt`, ...) are accepted and the values
/// under them ignored. An entry without a string `Type` is skipped. Errs with why the template
/// could not be read.
pub fn declared(body: &str) -> Result<Vec<Declared>, String> {
    let docs = Yaml::load_from_str(body).map_err(|e| format!("not valid YAML or JSON: {e}"))?;
    let root = docs
        .first()
        .map(untagged)
        .ok_or_else(|| "the template is empty".to_string())?;
    if !root.is_mapping() {
        return Err("the template is not a mapping".into());
    }
    let resources = match root.as_mapping_get("Resources").map(untagged) {
        Some(Yaml::Mapping(m)) => m,
        Some(_) => return Err("`Resources` is not a mapping".into()),
        None => return Err("the template has no `Resources`".into()),
    };
    Ok(resources
        .iter()
        .filter_map(|(id, resource)| {
            let resource = untagged(resource);
            let resource_type = resource.as_mapping_get("Type").and_then(text)?;
            Some(Declared {
                logical_id: text(id)?,
                resource_type,
                deletion_policy: resource.as_mapping_get("DeletionPolicy").and_then(text),
            })
        })
        .collect())
}

/// The value of output `key` when the template gives it as a plain string (`Outputs.<key>.Value:
/// FARGATE`); `None` when the output is missing, computed (`!Ref`, `!GetAtt`, ...) or the template
/// cannot be read.
pub fn literal_output(body: &str, key: &str) -> Option<String> {
    let docs = Yaml::load_from_str(body).ok()?;
    let value = untagged(docs.first()?)
        .as_mapping_get("Outputs")?
        .as_mapping_get(key)?
        .as_mapping_get("Value")?;
    match value {
        Yaml::Tagged(..) => None,
        v => text(v),
    }
}

/// The node under a tag (`!Ref X` → `X`), or the node itself.
fn untagged<'a, 'i>(node: &'a Yaml<'i>) -> &'a Yaml<'i> {
    match node {
        Yaml::Tagged(_, inner) => untagged(inner),
        other => other,
    }
}

/// A scalar's text (a string or an integer key); `None` for anything else.
fn text(node: &Yaml<'_>) -> Option<String> {
    match untagged(node) {
        Yaml::Value(Scalar::String(s)) => Some(s.to_string()),
        Yaml::Value(Scalar::Integer(i)) => Some(i.to_string()),
        Yaml::Representation(s, _, _) => Some(s.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retained_resources_are_those_whose_policy_keeps_them() {
        let couch = include_str!("../../templates/couchdb.yaml");
        let kept = retained(couch);
        assert!(kept.contains("BackupBucket"), "{kept:?}");
        assert!(!kept.contains("Instance"), "{kept:?}");
        let foundation = include_str!("../../templates/foundation.yaml");
        assert!(!retained(foundation).contains("AppBucket"));
        let json = r#"{"Resources": {"A": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate"}, "B": {"Type": "AWS::S3::Bucket"}}}"#;
        assert_eq!(retained(json), BTreeSet::from(["A".to_string()]));
    }

    #[test]
    fn a_literal_output_is_read_and_a_computed_one_is_not() {
        let t = "Resources: {}\nOutputs:\n  LaunchType:\n    Value: EC2\n  Cluster:\n    Value: !Ref Cluster\n";
        assert_eq!(literal_output(t, "LaunchType").as_deref(), Some("EC2"));
        assert_eq!(literal_output(t, "Cluster"), None);
        assert_eq!(literal_output(t, "Missing"), None);
        assert_eq!(literal_output("not: [yaml", "LaunchType"), None);
    }
}
