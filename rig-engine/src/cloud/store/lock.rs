//! The riglet's lock object: one small S3 object written only with conditional writes
//! (`If-None-Match: *` to create it, `If-Match: <ETag>` to renew, take over or delete it), so two
//! runs, on one machine or two, never both believe they hold it. Source: Amazon S3 User Guide,
//! "How to prevent object overwrites with conditional writes" (a failed condition is HTTP 412
//! `PreconditionFailed`; two writes racing on one key, 409 `ConditionalRequestConflict`).

use crate::cloud::{aws_err, AwsError, Clients};

/// The codes that mean "the condition did not hold": someone else wrote (or removed) the object.
fn lost_race(e: &AwsError) -> bool {
    matches!(
        e.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")
    )
}

impl Clients {
    /// The object's ETag and body, or `None` when it (or its bucket) does not exist.
    pub async fn read_lock(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(String, Vec<u8>)>, AwsError> {
        match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| AwsError::Transport {
                        op: "GetObject".into(),
                        message: e.to_string(),
                    })?
                    .into_bytes()
                    .to_vec();
                Ok(Some((etag, body)))
            }
            Err(e) => {
                let e = aws_err("GetObject", self.ep(), e);
                if matches!(e.code(), Some("NoSuchKey" | "NoSuchBucket")) {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Writes the object only if it does not exist (`expected` = `None`) or still has ETag
    /// `expected`. Returns the new ETag, or `None` when the condition did not hold.
    pub async fn write_lock(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<Option<String>, AwsError> {
        let mut req = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into());
        req = match expected {
            None => req.if_none_match("*"),
            Some(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            Err(e) => {
                let e = aws_err("PutObject", self.ep(), e);
                if lost_race(&e) {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Deletes the object only if it still has ETag `etag`; `false` when it did not.
    pub async fn delete_lock(&self, bucket: &str, key: &str, etag: &str) -> Result<bool, AwsError> {
        match self
            .s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = aws_err("DeleteObject", self.ep(), e);
                if lost_race(&e) {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}
