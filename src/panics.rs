//! A panic is a bug, never a way to lose work silently: threads that must outlive a failure (a
//! run's workers, the reloading thread of a watch) catch it with [`catch`] and report it as an
//! error that says so.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into its message, e.g. "internal error (a bug in idic, please
/// report it): index out of bounds". Rust's panic hook has already printed where it happened.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    // What `f` touched is dropped or reported as failed by the caller, never used again.
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        format!("internal error (a bug in idic, please report it): {text}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(catch(|| 7), Ok(7));
        let err = catch(|| -> u8 { panic!("boom {}", 1) }).unwrap_err();
        assert_eq!(
            err,
            "internal error (a bug in idic, please report it): boom 1"
        );
        let err = catch(|| std::panic::panic_any(3_u8)).unwrap_err();
        assert!(err.ends_with("a panic without a message"), "{err}");
    }
}
