//! Where positions of the user list begin, remembered by this process, so that a page by
//! `startIndex` (RFC 7644 §3.4.2.4) seeks to its first row through the index instead of
//! walking past every row before it (SQL `OFFSET`).
//!
//! A client walks the list one page after another (Okta's import asks for startIndex 1,
//! 101, 201, …), so the page it asks for next begins where the last one it read ended:
//! serving a page remembers the key (`created_at`, `id`) of the row just before the next
//! position, and the next request starts after that key. A position asked for first (a far
//! page out of the blue) starts from the nearest remembered position before it, or from the
//! beginning, and passes over the rows between once; that page is then remembered too.
//!
//! A key stands for a position only while the positions before it stay the same rows. They
//! do unless a user is erased (`on_delete=hard`, `on_deactivate=delete`, the console) or
//! created ahead of the last one; the store counts both in `org_user_positions.renumbered`
//! (triggers, so writes by any process count), every page reads that count with its
//! `totalResults`, and a key read under another count is never used. So a remembered key
//! never changes a page: it always gives the rows that `OFFSET` would give at that moment.
//! An erase in this process needs no hook either: the organisation's next page reads the
//! newer count and drops its keys, exactly as after an erase by another process.
//!
//! After an erase, the key would still give a stable continuation of a walk under way (the
//! rows after the last one the client saw, none skipped), but not the position asked for:
//! every later position now holds the user after it. `totalResults` (the newer count) and
//! such pages would disagree, and a client that stops at `totalResults` would miss the last
//! users of the list. Reading by position again keeps the answer one that `OFFSET` gives;
//! RFC 7644 §3.4.2.4 leaves clients to cope with results that shift between requests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::lists::UserKey;
use crate::directory::model::OrgId;

/// Walks need one key at a time each (the next page's), so a few thousand keys serve as
/// many concurrent walks; one costs about a hundred bytes.
pub const CAPACITY: usize = 4096;

/// Keys that lead to positions of organisations' user lists, bounded, evicted by CLOCK
/// (a key used since the hand last passed it gets a second chance).
pub struct PageKeys {
    inner: Mutex<Inner>,
    seeks: AtomicU64,
    skipped: AtomicU64,
}

struct Inner {
    capacity: usize,
    len: usize,
    orgs: HashMap<OrgId, OrgKeys>,
    /// Every remembered (organisation, position), once, in the order the hand visits them.
    ring: VecDeque<(OrgId, i64)>,
}

struct OrgKeys {
    /// The organisation's `renumbered` count the keys were read under.
    renumbered: i64,
    keys: BTreeMap<i64, Remembered>,
}

struct Remembered {
    key: UserKey,
    used: bool,
}

/// Where a page's query starts: after `key`, which is the row before `position`; or, with
/// no key, at the beginning of the list (position 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub position: i64,
    pub key: Option<UserKey>,
}

/// How pages have been read since the process started; for tests and diagnosis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageKeyStats {
    /// Pages whose query started from a remembered key.
    pub seeks: u64,
    /// Rows passed over by OFFSET to reach pages' first positions.
    pub skipped: u64,
}

impl Default for PageKeys {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl PageKeys {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                capacity: capacity.max(1),
                len: 0,
                orgs: HashMap::new(),
                ring: VecDeque::new(),
            }),
            seeks: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    /// The nearest remembered position at or before `position`, read under the count
    /// `renumbered`; the beginning of the list when there is none.
    pub fn anchor(&self, org: OrgId, renumbered: i64, position: i64) -> Anchor {
        let start = Anchor {
            position: 0,
            key: None,
        };
        let mut inner = self.lock();
        let renumbered_since = match inner.orgs.get_mut(&org) {
            Some(o) if o.renumbered == renumbered => {
                return match o.keys.range_mut(..=position).next_back() {
                    Some((&at, remembered)) => {
                        remembered.used = true;
                        Anchor {
                            position: at,
                            key: Some(remembered.key),
                        }
                    }
                    None => start,
                };
            }
            Some(o) => o.renumbered < renumbered,
            None => false,
        };
        if renumbered_since {
            inner.forget(org);
        }
        start
    }

    /// Remembers that `key` is the row just before `position`, as read under `renumbered`.
    pub fn remember(&self, org: OrgId, renumbered: i64, position: i64, key: UserKey) {
        if position <= 0 {
            return;
        }
        let mut inner = self.lock();
        let Some(keys) = inner.current(org, renumbered) else {
            return;
        };
        // A new key counts as used: the walk that read it asks for it next.
        let added = keys
            .insert(position, Remembered { key, used: true })
            .is_none();
        if added {
            inner.len += 1;
            inner.ring.push_back((org, position));
            while inner.len > inner.capacity {
                inner.evict_one();
            }
        }
    }

    /// Counts a page read: whether it started from a key, and how many rows OFFSET passed.
    pub fn count(&self, anchor: &Anchor, skipped: i64) {
        if anchor.key.is_some() {
            self.seeks.fetch_add(1, Ordering::Relaxed);
        }
        self.skipped
            .fetch_add(skipped.max(0) as u64, Ordering::Relaxed);
    }

    pub fn stats(&self) -> PageKeyStats {
        PageKeyStats {
            seeks: self.seeks.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing under the lock runs code that can panic but allocation; should a panic
        // poison it anyway, what is left is at worst a key too many or too few.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// The organisation's keys, to add one read under `renumbered`. Keys read under an
    /// older count are dropped (positions have moved since); a newer one means the caller
    /// read the count before another request did, and adds nothing.
    fn current(&mut self, org: OrgId, renumbered: i64) -> Option<&mut BTreeMap<i64, Remembered>> {
        let stale = match self.orgs.get(&org) {
            Some(o) if o.renumbered > renumbered => return None,
            Some(o) => o.renumbered < renumbered,
            None => false,
        };
        if stale {
            self.forget(org);
        }
        let entry = self.orgs.entry(org).or_insert_with(|| OrgKeys {
            renumbered,
            keys: BTreeMap::new(),
        });
        Some(&mut entry.keys)
    }

    fn forget(&mut self, org: OrgId) {
        if let Some(gone) = self.orgs.remove(&org) {
            self.len -= gone.keys.len();
            self.ring.retain(|(o, _)| *o != org);
        }
    }

    fn evict_one(&mut self) {
        while let Some((org, position)) = self.ring.pop_front() {
            let Some(o) = self.orgs.get_mut(&org) else {
                continue;
            };
            let Some(remembered) = o.keys.get_mut(&position) else {
                continue;
            };
            if remembered.used {
                remembered.used = false;
                self.ring.push_back((org, position));
                continue;
            }
            o.keys.remove(&position);
            if o.keys.is_empty() {
                self.orgs.remove(&org);
            }
            self.len -= 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::UserId;

    fn key(n: i64) -> UserKey {
        UserKey {
            created_at: n,
            id: UserId::new(),
        }
    }

    #[test]
    fn the_nearest_position_at_or_before_is_the_anchor() {
        let keys = PageKeys::default();
        let org = OrgId::new();
        assert_eq!(keys.anchor(org, 0, 500).key, None);
        let (k100, k200) = (key(100), key(200));
        keys.remember(org, 0, 100, k100);
        keys.remember(org, 0, 200, k200);
        assert_eq!(keys.anchor(org, 0, 50).position, 0);
        assert_eq!(keys.anchor(org, 0, 100).key, Some(k100));
        assert_eq!(keys.anchor(org, 0, 199).key, Some(k100));
        let far = keys.anchor(org, 0, 5000);
        assert_eq!((far.position, far.key), (200, Some(k200)));
        assert_eq!(
            keys.anchor(OrgId::new(), 0, 200).key,
            None,
            "per organisation"
        );
    }

    #[test]
    fn keys_read_under_another_count_are_never_used() {
        let keys = PageKeys::default();
        let org = OrgId::new();
        keys.remember(org, 3, 100, key(1));
        assert_eq!(keys.anchor(org, 2, 100).key, None, "an older read");
        assert_eq!(keys.len(), 1, "is not a reason to forget");
        keys.remember(org, 2, 300, key(2));
        assert_eq!(keys.anchor(org, 3, 300).position, 100, "nor to remember");
        assert_eq!(keys.anchor(org, 4, 100).key, None, "positions moved");
        assert!(keys.is_empty(), "the organisation's keys are gone");
    }

    #[test]
    fn the_bound_holds_and_used_keys_get_a_second_chance() {
        let keys = PageKeys::with_capacity(3);
        let org = OrgId::new();
        for p in 1..=3 {
            keys.remember(org, 0, p * 100, key(p));
        }
        // The hand clears every "used" mark, then takes the first unused key: 100.
        keys.remember(org, 0, 400, key(4));
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.anchor(org, 0, 150).position, 0, "100 went");
        // 200 is used now; the next eviction passes it and takes 300.
        assert_eq!(keys.anchor(org, 0, 250).position, 200);
        keys.remember(org, 0, 500, key(5));
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.anchor(org, 0, 350).position, 200, "300 went");
        assert_eq!(keys.anchor(org, 0, 450).position, 400);
        assert_eq!(keys.anchor(org, 0, 550).position, 500);
    }
}
