//! Buckets, template uploads and SSM parameters (plain and secret).

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag as S3Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_ssm::types::ParameterType;
use sha2::{Digest, Sha256};

use crate::aws::{aws_err, AwsError, Clients};

/// What happened to a bucket, parameter or upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Created,
    Updated,
    Unchanged,
}

fn build_err(op: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Service {
        op: op.into(),
        code: None,
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
    fn ep(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// Creates the bucket if missing, then makes sure it is encrypted, versioned, private and tagged.
    pub async fn ensure_bucket(
        &self,
        bucket: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Touch, AwsError> {
        let exists = self.s3.head_bucket().bucket(bucket).send().await.is_ok();
        if !exists {
            let mut req = self.s3.create_bucket().bucket(bucket);
            if self.region != "us-east-1" {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                        .build(),
                );
            }
            if let Err(e) = req.send().await {
                let e = aws_err("CreateBucket", self.ep(), e);
                // Another run (or a concurrent task) made it meanwhile: fine.
                if e.code() != Some("BucketAlreadyOwnedByYou") {
                    return Err(e);
                }
            }
        }
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(|e| build_err("PutBucketEncryption", e))?,
            )
            .build();
        self.s3
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| build_err("PutBucketEncryption", e))?,
            )
            .send()
            .await
            .map_err(|e| aws_err("PutBucketEncryption", self.ep(), e))?;
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_err("PutBucketVersioning", self.ep(), e))?;
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .ignore_public_acls(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_err("PutPublicAccessBlock", self.ep(), e))?;
        let mut tagging = Tagging::builder();
        for (k, v) in tags {
            tagging = tagging.tag_set(
                S3Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| build_err("PutBucketTagging", e))?,
            );
        }
        self.s3
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(
                tagging
                    .build()
                    .map_err(|e| build_err("PutBucketTagging", e))?,
            )
            .send()
            .await
            .map_err(|e| aws_err("PutBucketTagging", self.ep(), e))?;
        Ok(if exists {
            Touch::Unchanged
        } else {
            Touch::Created
        })
    }

    /// Uploads a template under its content hash unless it is there already; returns its URL.
    pub async fn upload_template(
        &self,
        bucket: &str,
        file: &str,
        body: &str,
    ) -> Result<(String, Touch), AwsError> {
        let key = template_key(file, body);
        let url = template_url(bucket, &self.region, &key);
        if self
            .s3
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .is_ok()
        {
            return Ok((url, Touch::Unchanged));
        }
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/x-yaml")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| aws_err("PutObject", self.ep(), e))?;
        Ok((url, Touch::Created))
    }

    /// Names of existing buckets starting with `prefix`.
    pub async fn buckets_with_prefix(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .s3
            .list_buckets()
            .send()
            .await
            .map_err(|e| aws_err("ListBuckets", self.ep(), e))?;
        Ok(out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.starts_with(prefix))
            .map(str::to_string)
            .collect())
    }

    /// Deletes every object version and delete marker (1000 per call), then the bucket.
    pub async fn purge_bucket(&self, bucket: &str) -> Result<usize, AwsError> {
        let mut removed = 0;
        loop {
            let out = match self.s3.list_object_versions().bucket(bucket).send().await {
                Ok(o) => o,
                Err(e) => {
                    let e = aws_err("ListObjectVersions", self.ep(), e);
                    if e.code() == Some("NoSuchBucket") {
                        return Ok(removed);
                    }
                    return Err(e);
                }
            };
            let mut ids = Vec::new();
            for v in out.versions() {
                ids.push((
                    v.key().unwrap_or_default().to_string(),
                    v.version_id().map(str::to_string),
                ));
            }
            for m in out.delete_markers() {
                ids.push((
                    m.key().unwrap_or_default().to_string(),
                    m.version_id().map(str::to_string),
                ));
            }
            if ids.is_empty() {
                break;
            }
            let objects: Result<Vec<ObjectIdentifier>, _> = ids
                .iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v.clone())
                        .build()
                })
                .collect();
            let n = ids.len();
            self.s3
                .delete_objects()
                .bucket(bucket)
                .delete(
                    Delete::builder()
                        .set_objects(Some(objects.map_err(|e| build_err("DeleteObjects", e))?))
                        .quiet(true)
                        .build()
                        .map_err(|e| build_err("DeleteObjects", e))?,
                )
                .send()
                .await
                .map_err(|e| aws_err("DeleteObjects", self.ep(), e))?;
            removed += n;
        }
        Ok(removed)
    }

    /// Empties and deletes a bucket; a missing bucket is fine.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<usize, AwsError> {
        let removed = self.purge_bucket(bucket).await?;
        if let Err(e) = self.s3.delete_bucket().bucket(bucket).send().await {
            let e = aws_err("DeleteBucket", self.ep(), e);
            if e.code() != Some("NoSuchBucket") {
                return Err(e);
            }
        }
        Ok(removed)
    }

    /// Writes a plain String parameter unless it already has this value.
    pub async fn ensure_parameter(&self, name: &str, value: &str) -> Result<Touch, AwsError> {
        let current = self.ssm.get_parameter().name(name).send().await.ok();
        let current =
            current.and_then(|o| o.parameter().and_then(|p| p.value().map(str::to_string)));
        if current.as_deref() == Some(value) {
            return Ok(Touch::Unchanged);
        }
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| aws_err("PutParameter", self.ep(), e))?;
        Ok(if current.is_some() {
            Touch::Updated
        } else {
            Touch::Created
        })
    }

    /// Whether a parameter exists (its value is not read).
    pub async fn parameter_exists(&self, name: &str) -> Result<bool, AwsError> {
        match self.ssm.get_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = aws_err("GetParameter", self.ep(), e);
                if e.code() == Some("ParameterNotFound") {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Stores a secret as a SecureString (never logged).
    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), AwsError> {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| aws_err("PutParameter", self.ep(), e))?;
        Ok(())
    }

    /// Every parameter under `path` (recursive): (name, is_secure).
    pub async fn parameters_under(&self, path: &str) -> Result<Vec<(String, bool)>, AwsError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .ssm
                .get_parameters_by_path()
                .path(path)
                .recursive(true)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_err("GetParametersByPath", self.ep(), e))?;
            for p in page.parameters() {
                out.push((
                    p.name().unwrap_or_default().to_string(),
                    p.r#type() == Some(&ParameterType::SecureString),
                ));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    pub async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        if let Err(e) = self.ssm.delete_parameter().name(name).send().await {
            let e = aws_err("DeleteParameter", self.ep(), e);
            if e.code() != Some("ParameterNotFound") {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The caller's account id.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_err("GetCallerIdentity", self.ep(), e))?;
        Ok(out.account().unwrap_or_default().to_string())
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
