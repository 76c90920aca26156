//! Holdouts: which customers are held out of every marketing trigger (the global holdout) or of
//! one trigger (its own, drawing its control arm), so that what treatments achieve can be measured.
//!
//! A customer's bucket is the first 8 bytes, read as a big-endian unsigned integer, of the
//! SHA-256 digest of the salt (UTF-8), one `0x1F` byte and the customer id (UTF-8, as the key
//! is read, without the whitespace around it), modulo 10,000. The separator keeps `("ab", "c")` and `("a", "bc")` apart. A customer
//! is held out when the bucket is below `percent * 100`: the same customer stays in or out from
//! run to run, and raising the percentage only adds the next buckets.

use sha2::{Digest, Sha256};

/// How many buckets customers are spread over.
pub const BUCKETS: u64 = 10_000;

/// The bucket of customer `id` under `salt`, in `0..BUCKETS`.
pub fn holdout_bucket(salt: &str, id: &str) -> u64 {
    stable_hash(salt, id) % BUCKETS
}

/// The first 8 bytes, big-endian, of SHA-256 over `salt`, `0x1F` and `id`: the draw that
/// places customers in holdout buckets and breaks ties between triggers of one priority (salted
/// with the trigger's name) and between customers of one rank for a `volume`.
pub fn stable_hash(salt: &str, id: &str) -> u64 {
    let mut hash = Sha256::new();
    hash.update(salt.as_bytes());
    hash.update([0x1f]);
    hash.update(id.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// A declared holdout (the global one or a trigger's), ready to place customers.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutSplit {
    /// The salt mixed into the hash.
    pub salt: String,
    /// Buckets below this are held out (`percent * 100`).
    pub below: u64,
}

impl HoldoutSplit {
    /// The holdout of `percent` (0 to 100, at most two decimals, as `check` holds it).
    pub fn new(percent: f64, salt: &str) -> HoldoutSplit {
        HoldoutSplit {
            salt: salt.to_string(),
            below: (percent * 100.0).round() as u64,
        }
    }

    /// Customer `id`'s bucket and whether it is held out; the id is taken without the
    /// whitespace around it, as duplicates are found, so that ` C1` and `C1` are one customer.
    pub fn place(&self, id: &str) -> (u64, bool) {
        let bucket = holdout_bucket(&self.salt, id.trim());
        (bucket, bucket < self.below)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_keeps_salt_and_id_apart() {
        assert_ne!(holdout_bucket("ab", "c"), holdout_bucket("a", "bc"));
    }

    #[test]
    fn raising_the_share_keeps_everyone_held_out() {
        let (five, ten) = (HoldoutSplit::new(5.0, "s"), HoldoutSplit::new(10.0, "s"));
        for i in 0..10_000 {
            let id = format!("C{i}");
            assert!(!five.place(&id).1 || ten.place(&id).1, "{id}");
        }
        assert_eq!(HoldoutSplit::new(0.25, "s").below, 25);
        assert_eq!(HoldoutSplit::new(100.0, "s").below, BUCKETS);
    }
}
