//! Buckets: existence, tags, creation with rig's settings, template uploads, counting and
//! emptying every object version.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag as S3Tag, Tagging, VersioningConfiguration,
};

use super::{build_err, template_key, template_url, Touch};
use crate::cloud::{aws_err, AwsError, Clients};

/// The tag a bucket carries from its creation until its settings (encryption, versioning,
/// public access block) are applied; the next run finishes a bucket that still has it.
const UNFINISHED_TAG: &str = "rig:unfinished";

/// Tags in S3's shape.
fn s3_tags(tags: &BTreeMap<String, String>) -> Result<Vec<S3Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            S3Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| build_err("PutBucketTagging", e))
        })
        .collect()
}

/// User metadata holding the SHA-256 (hex) of an object rig wrote.
const SHA_METADATA: &str = "rig-sha256";

impl Clients {
    /// The names of the account's buckets (one ListBuckets, paginated).
    pub async fn bucket_names(&self) -> Result<std::collections::BTreeSet<String>, AwsError> {
        let mut names = std::collections::BTreeSet::new();
        let mut token = None;
        loop {
            let out = self
                .s3
                .list_buckets()
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| aws_err("ListBuckets", self.ep(), e))?;
            names.extend(
                out.buckets()
                    .iter()
                    .filter_map(|b| b.name())
                    .map(str::to_string),
            );
            token = out.continuation_token().map(str::to_string);
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// A bucket's tags: `None` when the bucket does not exist, an empty map when it has none.
    pub async fn bucket_tags(
        &self,
        bucket: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        if let Err(e) = self.s3.head_bucket().bucket(bucket).send().await {
            if e.as_service_error().is_some_and(|se| se.is_not_found()) {
                return Ok(None);
            }
            return Err(aws_err("HeadBucket", self.ep(), e));
        }
        match self.s3.get_bucket_tagging().bucket(bucket).send().await {
            Ok(out) => Ok(Some(
                out.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(e) => {
                let e = aws_err("GetBucketTagging", self.ep(), e);
                if e.code() == Some("NoSuchTagSet") {
                    Ok(Some(BTreeMap::new()))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Makes sure a bucket exists with rig's tags. A missing bucket is created with its tags
    /// and `rig:unfinished`, then made encrypted, private and, when `versioned`, versioned,
    /// then given its final tags; an existing one (`current` = its tags, already verified as
    /// this riglet's) only gets the tags it lacks, unless it still has `rig:unfinished` (a
    /// run stopped while creating it): then it is finished as a new one. Settings are not
    /// re-applied on every run.
    pub async fn ensure_bucket(
        &self,
        bucket: &str,
        tags: &BTreeMap<String, String>,
        current: Option<&BTreeMap<String, String>>,
        versioned: bool,
    ) -> Result<Touch, AwsError> {
        let unfinished = current.is_some_and(|c| c.contains_key(UNFINISHED_TAG));
        if let Some(current) = current.filter(|_| !unfinished) {
            if tags.iter().all(|(k, v)| current.get(k) == Some(v)) {
                return Ok(Touch::Unchanged);
            }
            let mut merged = current.clone();
            merged.extend(tags.clone());
            self.put_bucket_tags(bucket, &merged).await?;
            return Ok(Touch::Updated);
        }
        // The tags come with the bucket, in the one request, with the unfinished mark: a run
        // killed before the settings below are applied leaves a bucket the next run recognises
        // as its own and finishes.
        let mut marked = tags.clone();
        marked.insert(UNFINISHED_TAG.into(), "true".into());
        let mut config = CreateBucketConfiguration::builder().set_tags(Some(s3_tags(&marked)?));
        if self.region != "us-east-1" {
            config =
                config.location_constraint(BucketLocationConstraint::from(self.region.as_str()));
        }
        let created = self
            .s3
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(config.build())
            .send()
            .await;
        if let Err(e) = created {
            let e = aws_err("CreateBucket", self.ep(), e);
            // Made by a concurrent run, or by an earlier one that did not finish: the settings
            // and the final tags are applied below either way.
            if e.code() != Some("BucketAlreadyOwnedByYou") {
                return Err(e);
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
        if versioned {
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
        }
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
        // The final tags, without the unfinished mark: the bucket is complete.
        self.put_bucket_tags(bucket, tags).await?;
        Ok(Touch::Created)
    }

    async fn put_bucket_tags(
        &self,
        bucket: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tagging = Tagging::builder().set_tag_set(Some(s3_tags(tags)?));
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
        Ok(())
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

    /// Writes `body` at `key` unless the object there already has the same SHA-256 (kept in
    /// its `rig-sha256` metadata), so an unchanged object gets no new version.
    pub async fn put_object_if_changed(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
    ) -> Result<Touch, AwsError> {
        use sha2::{Digest, Sha256};
        let digest = hex::encode(Sha256::digest(body));
        let current = self.s3.head_object().bucket(bucket).key(key).send().await;
        let touch = match &current {
            Ok(head) if head.metadata().and_then(|m| m.get(SHA_METADATA)) == Some(&digest) => {
                return Ok(Touch::Unchanged)
            }
            Ok(_) => Touch::Updated,
            Err(_) => Touch::Created,
        };
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/zip")
            .metadata(SHA_METADATA, &digest)
            .body(body.to_vec().into())
            .send()
            .await
            .map_err(|e| aws_err("PutObject", self.ep(), e))?;
        Ok(touch)
    }

    /// How many object versions and delete markers a bucket holds (0 if it does not exist).
    pub async fn count_objects(&self, bucket: &str) -> Result<usize, AwsError> {
        let mut n = 0;
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let out = match self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    let e = aws_err("ListObjectVersions", self.ep(), e);
                    return if e.code() == Some("NoSuchBucket") {
                        Ok(n)
                    } else {
                        Err(e)
                    };
                }
            };
            n += out.versions().len() + out.delete_markers().len();
            if out.is_truncated() != Some(true) {
                return Ok(n);
            }
            key_marker = out.next_key_marker().map(str::to_string);
            version_marker = out.next_version_id_marker().map(str::to_string);
        }
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
}
