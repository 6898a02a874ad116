//! One changing run at a time per riglet: `rig up`, `rig down` and the app commands hold a
//! lease on the riglet's lock object (`s3://rig-<owner>-<project>-<region>-lock/rig.lock`,
//! written only with S3 conditional writes, see `cloud::store::lock`) for as long as they change
//! anything. The lock lives in the account, so runs on two machines exclude each other too.
//!
//! The holder renews its lease every third of it. A run that finds the lock held waits, saying
//! who holds it; a lock whose object has not changed for a whole lease (its holder was killed)
//! is taken over with a write conditional on the ETag seen, so of two waiters only one wins.
//! Staleness is judged by the waiter's own clock over the time it watched the object, so clocks
//! of different machines need not agree.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rig_core::names::RigletNames;
use serde::{Deserialize, Serialize};

use crate::cloud::{AwsError, Clients};
use crate::engine::Engine;
use crate::events::EventSink;
use crate::ownership::{Expected, NotOwned, Verdict};

/// The lock object's key in the lock bucket.
pub const LOCK_KEY: &str = "rig.lock";
/// The `rig:role` tag of the lock bucket.
pub const LOCK_ROLE: &str = "lock";

/// How long a lease lasts and how long a run waits for a held lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockOptions {
    /// A lease not renewed for this long is taken over. Default 60 s.
    pub lease: Duration,
    /// How long to wait for a lock held by another run before giving up. Default 10 min.
    pub wait: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            lease: Duration::from_secs(60),
            wait: Duration::from_secs(600),
        }
    }
}

/// Who holds the lock: the lock object's JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host`.
    pub who: String,
    pub pid: u32,
    /// The command, e.g. `rig up`.
    pub command: String,
    /// When the lock was taken, RFC 3339 (the holder's clock).
    pub since: String,
    /// Renewals so far; makes every write's body, and so its ETag, new.
    pub renewals: u64,
    /// Random, so two holders' bodies never coincide.
    pub token: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` by {} (pid {}) since {}",
            self.command, self.who, self.pid, self.since
        )
    }
}

/// Why the lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the riglet is busy: {holder} holds its lock (s3://{bucket}/{LOCK_KEY}), and it was still renewed after {waited_s} s of waiting\n  hint: wait for that run to finish and run again, or raise --lock-wait; if that run is gone, its lease ends {lease_s} s after its last renewal and the next run takes the lock over")]
    Busy {
        holder: String,
        bucket: String,
        waited_s: u64,
        lease_s: u64,
    },
    #[error(transparent)]
    NotOwned(#[from] NotOwned),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// A held lock. Renewed in the background until [`RigletLock::release`].
pub struct RigletLock {
    clients: Clients,
    bucket: String,
    etag: Arc<Mutex<String>>,
    renewer: tokio::task::JoinHandle<()>,
    /// This run created the lock bucket.
    created: bool,
}

fn holder(command: &str) -> Holder {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "a machine".into());
    Holder {
        who: format!("{user}@{host}"),
        pid: std::process::id(),
        command: command.to_string(),
        since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        renewals: 0,
        token: format!("{:016x}", rand_u64()),
    }
}

/// 64 random bits from the standard library's randomly keyed hasher.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

fn body(h: &Holder) -> Vec<u8> {
    serde_json::to_vec(h).unwrap_or_default()
}

impl Engine {
    /// Takes the riglet's lock for `command`, creating the lock bucket (tagged as the riglet's)
    /// on first use and waiting while another run holds it. Errors: [`LockError::Busy`] after
    /// `opts.wait`; [`LockError::NotOwned`] when a bucket of that name is not this riglet's.
    pub async fn lock(
        &self,
        names: &RigletNames,
        command: &str,
        opts: LockOptions,
    ) -> Result<RigletLock, LockError> {
        let c = &self.clients;
        let bucket = lock_bucket(names);
        let expected = Expected::new(names, None, LOCK_ROLE);
        let current = c.bucket_tags(&bucket).await?;
        let mut created = false;
        if let Some(tags) = &current {
            if expected.check(tags) != Verdict::Owned {
                return Err(NotOwned {
                    kind: "bucket".into(),
                    name: bucket,
                    expected,
                    found: tags.clone(),
                }
                .into());
            }
        }
        // Created, or finished if a run stopped while creating it; nothing to do otherwise.
        c.ensure_bucket(&bucket, &expected.tags(), current.as_ref(), false)
            .await?;
        created |= current.is_none();
        let mut me = holder(command);
        let started = Instant::now();
        let poll = (opts.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(2));
        let mut seen: Option<(String, Instant)> = None;
        let etag = loop {
            match c.write_lock(&bucket, LOCK_KEY, body(&me), None).await {
                Ok(Some(etag)) => break etag,
                Ok(None) => {}
                // A full `rig down` that held the lock removed its bucket meanwhile.
                Err(e) if e.code() == Some("NoSuchBucket") => {
                    c.ensure_bucket(&bucket, &expected.tags(), None, false)
                        .await?;
                    created = true;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let Some((etag, held)) = c.read_lock(&bucket, LOCK_KEY).await? else {
                continue; // released meanwhile
            };
            let other = serde_json::from_slice::<Holder>(&held)
                .map(|h| h.to_string())
                .unwrap_or_else(|_| "another run".into());
            match &seen {
                Some((e, since)) if *e == etag => {
                    if since.elapsed() >= opts.lease {
                        // Not renewed for a whole lease: its holder is gone.
                        me.renewals += 1;
                        if let Some(new) = c
                            .write_lock(&bucket, LOCK_KEY, body(&me), Some(&etag))
                            .await?
                        {
                            self.events.note(format!(
                                "took over the riglet's lock from {other}: not renewed for {} s",
                                opts.lease.as_secs()
                            ));
                            break new;
                        }
                    }
                }
                _ => {
                    if seen.is_none() {
                        self.events.note(format!(
                            "waiting for the riglet's lock, held by {other} (up to {} s)",
                            opts.wait.as_secs()
                        ));
                    }
                    seen = Some((etag, Instant::now()));
                }
            }
            if started.elapsed() >= opts.wait {
                return Err(LockError::Busy {
                    holder: other,
                    bucket,
                    waited_s: started.elapsed().as_secs(),
                    lease_s: opts.lease.as_secs(),
                });
            }
            tokio::time::sleep(poll).await;
        };
        tracing::info!(%bucket, command, "holding the riglet's lock");
        let etag = Arc::new(Mutex::new(etag));
        let renewer = tokio::spawn(renew(
            c.clone(),
            bucket.clone(),
            me,
            etag.clone(),
            opts.lease / 3,
            self.events.clone(),
        ));
        Ok(RigletLock {
            clients: c.clone(),
            bucket,
            etag,
            renewer,
            created,
        })
    }
}

/// Renews the lease every `every` until aborted; stops (saying so) if the lock was taken away.
async fn renew(
    c: Clients,
    bucket: String,
    mut me: Holder,
    etag: Arc<Mutex<String>>,
    every: Duration,
    events: Arc<dyn EventSink>,
) {
    loop {
        tokio::time::sleep(every).await;
        me.renewals += 1;
        let current = etag.lock().expect("lock").clone();
        match c
            .write_lock(&bucket, LOCK_KEY, body(&me), Some(&current))
            .await
        {
            Ok(Some(new)) => *etag.lock().expect("lock") = new,
            Ok(None) => {
                events.note(format!(
                    "warning: the riglet's lock (s3://{bucket}/{LOCK_KEY}) was taken over by another run; this run goes on, but the two may now overlap"
                ));
                return;
            }
            // A failed renewal is tried again at the next turn, well within the lease.
            Err(e) => tracing::warn!(error = %e, "renewing the riglet's lock"),
        }
    }
}

impl RigletLock {
    /// The lock bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Stops renewing and deletes the lock object if it is still this run's. `changed_nothing`:
    /// the run was refused before any change, so a lock bucket it created goes too and the
    /// account is as it was.
    pub async fn release(self, changed_nothing: bool) -> Result<(), AwsError> {
        self.renewer.abort();
        let _ = self.renewer.await;
        let etag = self.etag.lock().expect("lock").clone();
        let released = self
            .clients
            .delete_lock(&self.bucket, LOCK_KEY, &etag)
            .await?;
        if released && self.created && changed_nothing {
            self.clients.delete_bucket(&self.bucket).await?;
        }
        Ok(())
    }
}

impl Engine {
    /// Deletes the lock bucket after `rig down` removed the whole riglet: only the bucket of
    /// exactly that name, only if its tags say it is this riglet's, and only while no run holds
    /// the lock (a run that started meanwhile keeps it).
    pub async fn remove_lock_bucket(&self, names: &RigletNames) -> Result<(), LockError> {
        let c = &self.clients;
        let bucket = lock_bucket(names);
        let Some(tags) = c.bucket_tags(&bucket).await? else {
            return Ok(());
        };
        if Expected::new(names, None, LOCK_ROLE).check(&tags) != Verdict::Owned {
            return Ok(()); // never this riglet's: not touched
        }
        if c.read_lock(&bucket, LOCK_KEY).await?.is_some() {
            self.events.note(format!(
                "kept bucket {bucket}: another run holds the riglet's lock"
            ));
            return Ok(());
        }
        c.delete_bucket(&bucket).await?;
        self.events
            .note(format!("the riglet's lock bucket {bucket} went with it"));
        Ok(())
    }
}

/// `rig-<owner>-<project>-<region>-lock`: the riglet-wide bucket holding the lock object.
pub fn lock_bucket(names: &RigletNames) -> String {
    names.bucket(LOCK_ROLE, None)
}
