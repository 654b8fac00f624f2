//! Work spread over threads with results in input order, so a run's output
//! never depends on `--jobs`; and the message of a caught panic.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Worker threads for `jobs` (0: one per core).
pub fn workers(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// `f` of every item, `jobs` at a time (0: one per core), in item order.
pub fn map_in_order<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let jobs = workers(jobs).min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    let result = f(i, item);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect()
}

/// The message of a panic, whatever its payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_whatever_the_jobs() {
        let items: Vec<u64> = (0..100).collect();
        for jobs in [1, 2, 7] {
            assert_eq!(
                map_in_order(&items, jobs, |i, x| (i as u64) * 1000 + x * x),
                (0..100).map(|x| x * 1000 + x * x).collect::<Vec<_>>()
            );
        }
        assert!(map_in_order(&Vec::<u8>::new(), 0, |_, x| *x).is_empty());
    }
}
