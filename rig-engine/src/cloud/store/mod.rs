//! Buckets and template uploads (`s3`), the riglet's lock object (`lock`), SSM parameters,
//! plain and secret (`ssm`), and ECR repositories (`ecr`), each addressed by its exact name.
//! Ownership (tags) is decided by [`crate::ownership`]; these calls read and write the tags.

mod ecr;
mod lock;
mod s3;
mod ssm;

use sha2::{Digest, Sha256};

use crate::cloud::{AwsError, Clients};

/// What happened to a bucket, parameter or upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Created,
    Updated,
    Unchanged,
}

pub(crate) fn build_err(op: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Service {
        op: op.into(),
        code: None,
        request_id: None,
        message: e.to_string(),
    }
}

/// `templates/<stem>-<sha256[..16]>.yaml`: the content decides the key, so an unchanged
/// template is never sent twice.
pub fn template_key(file: &str, body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let stem = file.trim_end_matches(".yaml");
    format!("templates/{stem}-{}.yaml", &hex::encode(digest)[..16])
}

/// The URL CloudFormation reads a template from.
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    if region == "us-east-1" {
        format!("https://{bucket}.s3.amazonaws.com/{key}")
    } else {
        format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
    }
}

impl Clients {
    pub(crate) fn ep(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// The caller's account id.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        Ok(self.caller().await?.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_keys_follow_content() {
        let a = template_key("fargate.yaml", "a");
        assert_eq!(a, template_key("fargate.yaml", "a"));
        assert_ne!(a, template_key("fargate.yaml", "b"));
        assert!(
            a.starts_with("templates/fargate-") && a.ends_with(".yaml"),
            "{a}"
        );
    }

    #[test]
    fn urls_are_virtual_hosted() {
        assert_eq!(
            template_url("b", "us-east-1", "k"),
            "https://b.s3.amazonaws.com/k"
        );
        assert_eq!(
            template_url("b", "eu-west-1", "k"),
            "https://b.s3.eu-west-1.amazonaws.com/k"
        );
    }
}
