//! A stack's status as an enum, with the questions rig asks of it.

macro_rules! stack_statuses {
    ($($variant:ident = $text:literal,)*) => {
        /// A stack's status, as CloudFormation names it (`CREATE_COMPLETE`, ...); a status this
        /// rig does not know yet is kept as [`StackStatus::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum StackStatus {
            $($variant,)*
            Other(String),
        }

        impl StackStatus {
            pub fn parse(text: &str) -> StackStatus {
                match text {
                    $($text => StackStatus::$variant,)*
                    other => StackStatus::Other(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(StackStatus::$variant => $text,)*
                    StackStatus::Other(s) => s,
                }
            }
        }
    };
}

stack_statuses! {
    CreateInProgress = "CREATE_IN_PROGRESS",
    CreateFailed = "CREATE_FAILED",
    CreateComplete = "CREATE_COMPLETE",
    RollbackInProgress = "ROLLBACK_IN_PROGRESS",
    RollbackFailed = "ROLLBACK_FAILED",
    RollbackComplete = "ROLLBACK_COMPLETE",
    DeleteInProgress = "DELETE_IN_PROGRESS",
    DeleteFailed = "DELETE_FAILED",
    DeleteComplete = "DELETE_COMPLETE",
    UpdateInProgress = "UPDATE_IN_PROGRESS",
    UpdateCompleteCleanupInProgress = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    UpdateComplete = "UPDATE_COMPLETE",
    UpdateFailed = "UPDATE_FAILED",
    UpdateRollbackInProgress = "UPDATE_ROLLBACK_IN_PROGRESS",
    UpdateRollbackFailed = "UPDATE_ROLLBACK_FAILED",
    UpdateRollbackCompleteCleanupInProgress = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    UpdateRollbackComplete = "UPDATE_ROLLBACK_COMPLETE",
    ReviewInProgress = "REVIEW_IN_PROGRESS",
    ImportInProgress = "IMPORT_IN_PROGRESS",
    ImportComplete = "IMPORT_COMPLETE",
    ImportRollbackInProgress = "IMPORT_ROLLBACK_IN_PROGRESS",
    ImportRollbackFailed = "IMPORT_ROLLBACK_FAILED",
    ImportRollbackComplete = "IMPORT_ROLLBACK_COMPLETE",
}

impl StackStatus {
    /// A create, update, rollback or delete that has not finished (a never-executed create,
    /// `REVIEW_IN_PROGRESS`, is not: nothing will change it by itself).
    pub fn in_progress(&self) -> bool {
        self.as_str().ends_with("_IN_PROGRESS") && *self != StackStatus::ReviewInProgress
    }

    /// Deployed as asked: the last create, update or import succeeded.
    pub fn settled(&self) -> bool {
        matches!(
            self,
            StackStatus::CreateComplete | StackStatus::UpdateComplete | StackStatus::ImportComplete
        )
    }

    /// A creation that failed: the stack can only be deleted.
    pub fn failed_create(&self) -> bool {
        matches!(
            self,
            StackStatus::RollbackComplete | StackStatus::RollbackFailed | StackStatus::CreateFailed
        )
    }
}

impl std::fmt::Display for StackStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
