//! Listener-rule priorities of the apps on one load balancer (one environment): unique, and
//! stable across runs, so that deploying one app never moves another app's rule.
//!
//! Every app has a host-header rule at its priority `p` (1–[`MAX_PRIORITY`]) and, in production
//! with a subdomain, a preferred-name rule at `p + PREFERRED_OFFSET`. Pure: the live priorities
//! come from the caller.

use std::collections::BTreeMap;

/// The highest priority rig gives an app's rule.
pub const MAX_PRIORITY: u32 = 25_000;

/// Added to an app's priority for its preferred-name rule (25001–50000).
pub const PREFERRED_OFFSET: u32 = 25_000;

/// One app asking for a priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// [`crate::config::AppSpec::key`] (or any label naming the claimant in messages).
    pub app: String,
    /// Given by hand (`priority` of the app): it gets exactly this one, or an error.
    pub fixed: Option<u32>,
    /// What its live stack has now: kept when free.
    pub live: Option<u32>,
}

/// Why priorities cannot be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    #[error("apps: priority {priority} of app {app} is already used by app {other}; pick another or leave it out and rig allocates one")]
    Collision {
        priority: u32,
        app: String,
        other: String,
    },
    #[error("apps: priority {priority} of app {app} is not between 1 and {MAX_PRIORITY}; pick one in that range or leave it out and rig allocates one")]
    OutOfRange { priority: u32, app: String },
    #[error("apps: no listener-rule priority is left for app {app}: all {MAX_PRIORITY} are in use on the load balancer; remove apps (or rules) from it")]
    Exhausted { app: String },
}

/// A priority for every claim, by app: hand-given ones first (two equal ones, or one equal to
/// another app's live priority, are a [`PriorityError::Collision`]); then live ones keep theirs
/// (when two live ones are equal, the first in claim order keeps it); then the rest get the
/// lowest free priority, in claim order. A live priority outside 1–[`MAX_PRIORITY`] is ignored.
/// A key claimed twice keeps its first priority.
pub fn allocate(claims: &[Claim]) -> Result<BTreeMap<String, u32>, PriorityError> {
    let range = 1..=MAX_PRIORITY;
    let mut taken: BTreeMap<u32, &str> = BTreeMap::new();
    let mut out: BTreeMap<String, u32> = BTreeMap::new();
    for c in claims {
        let Some(p) = c.fixed else { continue };
        if !range.contains(&p) {
            return Err(PriorityError::OutOfRange {
                priority: p,
                app: c.app.clone(),
            });
        }
        let holder = taken.get(&p).copied().or_else(|| {
            claims
                .iter()
                .find(|o| o.app != c.app && o.live == Some(p))
                .map(|o| o.app.as_str())
        });
        if let Some(other) = holder {
            return Err(PriorityError::Collision {
                priority: p,
                app: c.app.clone(),
                other: other.to_string(),
            });
        }
        taken.insert(p, &c.app);
        out.entry(c.app.clone()).or_insert(p);
    }
    let mut rest: Vec<&Claim> = Vec::new();
    for c in claims.iter().filter(|c| c.fixed.is_none()) {
        match c.live.filter(|p| range.contains(p)) {
            Some(p) if !taken.contains_key(&p) && !out.contains_key(&c.app) => {
                taken.insert(p, &c.app);
                out.insert(c.app.clone(), p);
            }
            _ => rest.push(c),
        }
    }
    let mut free = range.filter(|p| !taken.contains_key(p));
    for c in rest {
        if out.contains_key(&c.app) {
            continue;
        }
        let p = free
            .next()
            .ok_or_else(|| PriorityError::Exhausted { app: c.app.clone() })?;
        out.insert(c.app.clone(), p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn claim(app: &str, fixed: Option<u32>, live: Option<u32>) -> Claim {
        Claim {
            app: app.into(),
            fixed,
            live,
        }
    }

    #[test]
    fn fixed_first_then_live_then_the_lowest_free() {
        let got = allocate(&[
            claim("new", None, None),
            claim("kept", None, Some(1)),
            claim("hand", Some(2), None),
            claim("moved", None, Some(2)),
        ]);
        // `moved` had 2 live, but `hand` asks for 2 by hand: that is a collision.
        assert!(matches!(
            got,
            Err(PriorityError::Collision { priority: 2, .. })
        ));
        let got = allocate(&[
            claim("new", None, None),
            claim("kept", None, Some(1)),
            claim("hand", Some(3), None),
            claim("clash", None, Some(1)),
        ])
        .unwrap();
        assert_eq!(got["kept"], 1);
        assert_eq!(got["hand"], 3);
        assert_eq!(got["new"], 2);
        assert_eq!(got["clash"], 4, "the second of two equal live ones moves");
    }

    #[test]
    fn a_hand_collision_names_the_other_app() {
        let e =
            allocate(&[claim("api", Some(120), None), claim("web", Some(120), None)]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("priority 120 of app web is already used by app api"),
            "{msg}"
        );
        assert!(msg.contains("pick another or leave it out"), "{msg}");
        let e = allocate(&[claim("api", None, Some(7)), claim("web", Some(7), None)]).unwrap_err();
        assert_eq!(
            e,
            PriorityError::Collision {
                priority: 7,
                app: "web".into(),
                other: "api".into()
            }
        );
        // An app's own live priority is no collision.
        assert_eq!(
            allocate(&[claim("api", Some(7), Some(7))]).unwrap()["api"],
            7
        );
    }

    #[test]
    fn out_of_range_and_exhaustion_are_reported() {
        let e = allocate(&[claim("api", Some(25_001), None)]).unwrap_err();
        assert!(e.to_string().contains("not between 1 and 25000"), "{e}");
        let e = allocate(&[claim("api", Some(0), None)]).unwrap_err();
        assert!(matches!(e, PriorityError::OutOfRange { priority: 0, .. }));
        let mut claims: Vec<Claim> = (0..MAX_PRIORITY)
            .map(|i| claim(&format!("app{i}"), None, Some(i + 1)))
            .collect();
        assert_eq!(allocate(&claims).unwrap().len(), MAX_PRIORITY as usize);
        claims.push(claim("one-too-many", None, None));
        let e = allocate(&claims).unwrap_err();
        assert_eq!(
            e,
            PriorityError::Exhausted {
                app: "one-too-many".into()
            }
        );
        assert!(
            e.to_string().contains("no listener-rule priority is left"),
            "{e}"
        );
    }

    /// xorshift64: a seeded, dependency-free pseudo-random sequence.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// 40 apps added and removed in random order over many rounds, each round's result fed
    /// back as the live priorities: priorities stay unique and an app that stays keeps its own.
    #[test]
    fn priorities_stay_unique_and_stable_as_apps_come_and_go() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let all: Vec<String> = (0..40).map(|i| format!("app{i}")).collect();
        let mut present: Vec<String> = Vec::new();
        let mut live: BTreeMap<String, u32> = BTreeMap::new();
        for round in 0..500 {
            for _ in 0..=rng.below(4) {
                let a = &all[rng.below(all.len())];
                match present.iter().position(|p| p == a) {
                    Some(i) => {
                        present.remove(i);
                    }
                    None => {
                        let at = rng.below(present.len() + 1);
                        present.insert(at, a.clone());
                    }
                }
            }
            // A few apps have a hand-given priority, taken from their live one (so it is theirs).
            let claims: Vec<Claim> = present
                .iter()
                .map(|a| {
                    let l = live.get(a).copied();
                    let fixed = l.filter(|_| a.ends_with('7'));
                    claim(a, fixed, l)
                })
                .collect();
            let got = allocate(&claims).unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(got.len(), present.len());
            let unique: BTreeSet<u32> = got.values().copied().collect();
            assert_eq!(
                unique.len(),
                got.len(),
                "round {round}: duplicate priorities"
            );
            for (a, p) in &got {
                assert!((1..=MAX_PRIORITY).contains(p));
                if let Some(before) = live.get(a) {
                    assert_eq!(p, before, "round {round}: {a} moved");
                }
            }
            live = got;
        }
    }
}
