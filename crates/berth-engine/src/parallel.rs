//! A small worker pool (registry transfers, the parse of a big listing):
//! a few threads take items in order; once one fails, no new item is
//! started.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `work` on every item with at most `workers` at once and returns the
/// results by item index. After a result `failed` calls a failure, items not
/// yet started are skipped (and are missing from the answer).
pub(crate) fn run<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    failed: impl Fn(&R) -> bool + Sync,
) -> Vec<(usize, R)> {
    let next = AtomicUsize::new(0);
    // A slot per item: results are put in place, never sorted (a big
    // result, such as a container record, costs to move).
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = work(item);
                if failed(&r) {
                    next.store(items.len(), Ordering::SeqCst);
                }
                *slots[i].lock().expect("slot") = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .enumerate()
        .filter_map(|(i, slot)| Some((i, slot.into_inner().expect("slot")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_items_in_order_and_a_failure_stops_new_work() {
        let items: Vec<u32> = (0..20).collect();
        let all = super::run(&items, 4, |x| x * 2, |_| false);
        assert_eq!(
            all.iter()
                .map(|(i, r)| (*i as u32) * 2 == *r)
                .filter(|ok| *ok)
                .count(),
            20
        );
        let some = super::run(&items, 1, |x| *x, |r| *r == 3);
        assert_eq!(some.len(), 4, "nothing starts after item 3 fails");
    }
}
