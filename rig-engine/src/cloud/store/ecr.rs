//! ECR repositories: counting and deleting images (a stack's repository is emptied only when it
//! blocks the stack's deletion).

use crate::cloud::{aws_err, AwsError, Clients};

impl Clients {
    /// How many images an ECR repository holds (0 if it does not exist).
    pub async fn count_images(&self, repository: &str) -> Result<usize, AwsError> {
        Ok(self.image_ids(repository).await?.len())
    }

    async fn image_ids(
        &self,
        repository: &str,
    ) -> Result<Vec<aws_sdk_ecr::types::ImageIdentifier>, AwsError> {
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let page = match self
                .ecr
                .list_images()
                .repository_name(repository)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    let e = aws_err("ListImages", self.ep(), e);
                    return if e.code() == Some("RepositoryNotFoundException") {
                        Ok(ids)
                    } else {
                        Err(e)
                    };
                }
            };
            ids.extend(page.image_ids().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(ids);
            }
        }
    }

    /// Deletes every image of an ECR repository (100 per call); returns how many.
    pub async fn empty_repository(&self, repository: &str) -> Result<usize, AwsError> {
        let ids = self.image_ids(repository).await?;
        for chunk in ids.chunks(100) {
            self.ecr
                .batch_delete_image()
                .repository_name(repository)
                .set_image_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_err("BatchDeleteImage", self.ep(), e))?;
        }
        Ok(ids.len())
    }
}
