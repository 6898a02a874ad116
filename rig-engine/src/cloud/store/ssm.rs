//! SSM parameters: values, ownership tags, writes (SecureStrings never logged) and deletes.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{
    ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag as SsmTag,
};

use super::build_err;
use crate::cloud::{aws_err, AwsError, Clients};

impl Clients {
    /// The values of those of `names` that exist (GetParameters, 10 names a call; secrets are
    /// not decrypted, only their existence matters).
    pub async fn parameter_values(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let mut out = BTreeMap::new();
        for chunk in names.chunks(10) {
            let page = self
                .ssm
                .get_parameters()
                .set_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_err("GetParameters", self.ep(), e))?;
            for p in page.parameters() {
                out.insert(
                    p.name().unwrap_or_default().to_string(),
                    p.value().unwrap_or_default().to_string(),
                );
            }
        }
        Ok(out)
    }

    /// Parameters whose tags name this riglet exactly (`rig:owner`, `rig:project`, and
    /// `rig:environment` when given), through DescribeParameters' tag filters: (name, is_secure).
    pub async fn tagged_parameters(
        &self,
        owner: &str,
        project: &str,
        environment: Option<&str>,
    ) -> Result<Vec<(String, bool)>, AwsError> {
        let filter = |k: &str, v: &str| {
            ParameterStringFilter::builder()
                .key(format!("tag:{k}"))
                .option("Equals")
                .values(v)
                .build()
                .map_err(|e| build_err("DescribeParameters", e))
        };
        let mut filters = vec![
            filter(crate::ownership::OWNER, owner)?,
            filter(crate::ownership::PROJECT, project)?,
        ];
        if let Some(e) = environment {
            filters.push(filter(crate::ownership::ENVIRONMENT, e)?);
        }
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .ssm
                .describe_parameters()
                .set_parameter_filters(Some(filters.clone()))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_err("DescribeParameters", self.ep(), e))?;
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
        out.sort();
        Ok(out)
    }

    /// A parameter's tags.
    pub async fn parameter_tags(&self, name: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| aws_err("ListTagsForResource", self.ep(), e))?;
        Ok(out
            .tag_list()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    /// Adds tags to a parameter (those it has are overwritten, others kept).
    pub async fn tag_parameter(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags: Result<Vec<SsmTag>, _> = tags
            .iter()
            .map(|(k, v)| SsmTag::builder().key(k).value(v).build())
            .collect();
        self.ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(tags.map_err(|e| build_err("AddTagsToResource", e))?))
            .send()
            .await
            .map_err(|e| aws_err("AddTagsToResource", self.ep(), e))?;
        Ok(())
    }

    /// Writes a parameter (a SecureString when `secure`; its value is never logged). A new one
    /// is created with `tags`; an existing one (already verified as this riglet's) is
    /// overwritten, and its tags are left to [`Clients::tag_parameter`].
    pub async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        secure: bool,
        exists: bool,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let mut req = self
            .ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(if secure {
                ParameterType::SecureString
            } else {
                ParameterType::String
            });
        if exists {
            req = req.overwrite(true);
        } else {
            for (k, v) in tags {
                req = req.tags(
                    SsmTag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| build_err("PutParameter", e))?,
                );
            }
        }
        req.send()
            .await
            .map_err(|e| aws_err("PutParameter", self.ep(), e))?;
        Ok(())
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
}
