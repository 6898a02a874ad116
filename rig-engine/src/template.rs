//! Reading a CloudFormation template (YAML or JSON, short-form tags included) with `saphyr`,
//! for what rig needs to know of it without AWS: the resources it declares and which of them it
//! retains when its stack is deleted.

use std::collections::{BTreeMap, BTreeSet};

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

/// The constraints a template puts on one of its `String` or `Number` parameters, which
/// CloudFormation enforces when a change set is created (CloudFormation User Guide,
/// "Parameters section syntax").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParameterRule {
    pub kind: String,
    pub allowed_pattern: Option<String>,
    pub allowed_values: Vec<String>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub constraint_description: Option<String>,
}

impl ParameterRule {
    /// Whether `value` meets the rule; the error says which constraint it breaks. A pattern
    /// must match the whole value, as CloudFormation applies it.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let len = value.chars().count();
        if let Some(min) = self.min_length.filter(|m| len < *m) {
            return Err(format!("is shorter than {min} characters"));
        }
        if let Some(max) = self.max_length.filter(|m| len > *m) {
            return Err(format!("has {len} characters, more than {max}"));
        }
        if !self.allowed_values.is_empty() && !self.allowed_values.iter().any(|v| v == value) {
            return Err(format!("is not one of {}", self.allowed_values.join(", ")));
        }
        if let Some(p) = &self.allowed_pattern {
            let re = regex::Regex::new(&format!("^(?:{p})$"))
                .map_err(|e| format!("cannot be checked: the pattern {p} is invalid ({e})"))?;
            if !re.is_match(value) {
                return Err(format!("does not match {p}"));
            }
        }
        if self.kind == "Number" {
            let n: f64 = value
                .trim()
                .parse()
                .map_err(|_| "is not a number".to_string())?;
            if let Some(min) = self.min_value.filter(|m| n < *m) {
                return Err(format!("is less than {min}"));
            }
            if let Some(max) = self.max_value.filter(|m| n > *m) {
                return Err(format!("is more than {max}"));
            }
        }
        Ok(())
    }
}

/// The rules of the template's `String` and `Number` parameters, by name (other types, such as
/// `AWS::SSM::Parameter::Value<String>` or lists, are resolved by CloudFormation and left out).
/// Errs with why the template could not be read.
pub fn parameter_rules(body: &str) -> Result<BTreeMap<String, ParameterRule>, String> {
    let docs = Yaml::load_from_str(body).map_err(|e| format!("not valid YAML or JSON: {e}"))?;
    let Some(params) = docs
        .first()
        .map(untagged)
        .and_then(|r| r.as_mapping_get("Parameters"))
        .map(untagged)
    else {
        return Ok(BTreeMap::new());
    };
    let Yaml::Mapping(params) = params else {
        return Err("`Parameters` is not a mapping".into());
    };
    let mut rules = BTreeMap::new();
    for (name, p) in params {
        let (Some(name), p) = (text(name), untagged(p)) else {
            continue;
        };
        let get = |k: &str| p.as_mapping_get(k).and_then(text);
        let kind = get("Type").unwrap_or_default();
        if kind != "String" && kind != "Number" {
            continue;
        }
        let number = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
        let allowed_values = match p.as_mapping_get("AllowedValues").map(untagged) {
            Some(Yaml::Sequence(vs)) => vs.iter().filter_map(text).collect(),
            _ => Vec::new(),
        };
        rules.insert(
            name,
            ParameterRule {
                allowed_pattern: get("AllowedPattern"),
                allowed_values,
                min_length: number("MinLength").map(|n| n as usize),
                max_length: number("MaxLength").map(|n| n as usize),
                min_value: number("MinValue"),
                max_value: number("MaxValue"),
                constraint_description: get("ConstraintDescription"),
                kind,
            },
        );
    }
    Ok(rules)
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
        Yaml::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        Yaml::Value(Scalar::Boolean(b)) => Some(b.to_string()),
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
    fn parameter_rules_are_read_and_applied_as_cloudformation_does() {
        let pipeline = include_str!("../../templates/pipeline.yaml");
        let rules = parameter_rules(pipeline).unwrap();
        let branch = &rules["Branch"];
        assert!(branch.check("feature/x-1").is_ok());
        assert!(branch
            .check("my branch")
            .unwrap_err()
            .contains("does not match"));
        assert!(branch
            .check(&"b".repeat(256))
            .unwrap_err()
            .contains("more than 255"));
        let compute = &rules["CodeBuildComputeType"];
        assert!(compute
            .check("HUGE")
            .unwrap_err()
            .contains("BUILD_GENERAL1_SMALL"));
        // The whole value must match, not a part of it.
        assert!(rules["Owner"].check("acme!").is_err());
        let t = "Parameters:\n  N: {Type: Number, MinValue: 1, MaxValue: 10}\n  S: {Type: 'AWS::SSM::Parameter::Value<String>', AllowedPattern: x}\n";
        let rules = parameter_rules(t).unwrap();
        assert!(rules["N"].check("0").unwrap_err().contains("less than 1"));
        assert!(rules["N"].check("ten").is_err());
        assert!(rules["N"].check("10").is_ok());
        assert!(!rules.contains_key("S"));
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
