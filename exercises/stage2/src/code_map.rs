//! Where generated code is: a registry of the code alive in this process, so that a
//! tool can say which function and instruction an address belongs to.
//!
//! An engine registers each block of code it runs, with a function that describes an
//! address inside it ([`register`]); the registration ends when the returned
//! [`Registration`] is dropped (before the code is freed). The test harness's fault
//! handler asks [`describe`] about the pc of a crash in a learner's generated code.
//! Engines register only when [`enabled`] (the harness sets `JITLAB_CODE_MAP=1` in
//! the processes it runs code in), so an ordinary run pays nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The variable that turns the registry on (any value).
pub const ENV: &str = "JITLAB_CODE_MAP";

/// Describes an address inside one registered block of code.
type Describe = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// One registered block: its id, its address range and its describer.
struct Entry {
    id: u64,
    start: u64,
    len: u64,
    describe: Describe,
}

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Whether engines should register their code (`JITLAB_CODE_MAP` is set).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os(ENV).is_some())
}

/// A registered block of code; dropping it unregisters the block.
#[derive(Debug)]
#[must_use = "the code is unregistered when this is dropped"]
pub struct Registration {
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut entries = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| e.id != self.id);
    }
}

/// Registers the code at `start..start + len`: `describe(addr)` says where `addr` (an
/// address in that range) is, in words, with the listing around it.
pub fn register(
    start: u64,
    len: usize,
    describe: impl Fn(u64) -> String + Send + Sync + 'static,
) -> Registration {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut entries = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    entries.push(Entry {
        id,
        start,
        len: len as u64,
        describe: Arc::new(describe),
    });
    Registration { id }
}

/// Where `addr` is, if it is in registered code. Waits at most a second for the
/// registry (a crashed thread may hold it), then gives up.
pub fn describe(addr: u64) -> Option<String> {
    let mut waited = Duration::ZERO;
    let describe = loop {
        match REGISTRY.try_lock() {
            Ok(entries) => {
                break entries
                    .iter()
                    .find(|e| addr >= e.start && addr - e.start < e.len)
                    .map(|e| e.describe.clone())?;
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                let entries = p.into_inner();
                break entries
                    .iter()
                    .find(|e| addr >= e.start && addr - e.start < e.len)
                    .map(|e| e.describe.clone())?;
            }
            Err(std::sync::TryLockError::WouldBlock) if waited < Duration::from_secs(1) => {
                std::thread::sleep(Duration::from_millis(10));
                waited += Duration::from_millis(10);
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
    };
    Some(describe(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_described_while_registered_and_not_after() {
        let registration = register(0x1000, 0x100, |a| format!("at +{:#x}", a - 0x1000));
        assert_eq!(describe(0x1010).as_deref(), Some("at +0x10"));
        assert_eq!(describe(0x1100), None);
        assert_eq!(describe(0xfff), None);
        drop(registration);
        assert_eq!(describe(0x1010), None);
    }
}
