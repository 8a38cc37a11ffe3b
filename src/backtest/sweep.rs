//! Parameter grids: `key=v1,v2,...` specs expanded into every combination,
//! run in parallel (one backtest per thread at a time, all reading one
//! shared [`crate::replay::Tape`]), results in grid order.
//!
//! Contract: off the hot path; allocates; spawns `threads` scoped threads
//! that end before [`run_grid`] returns.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One point of a grid: `(key, value)` per dimension, in spec order.
pub type Point = Vec<(String, String)>;

/// Expands `key=v1,v2 key2=w1,w2` into every combination (the last key
/// varies fastest). A key may appear only once; a dimension needs a value.
pub fn parse_grid(specs: &[String]) -> Result<Vec<Point>, String> {
    let mut dims: Vec<(String, Vec<String>)> = Vec::new();
    for spec in specs.iter().flat_map(|s| s.split_whitespace()) {
        let (k, vs) = spec
            .split_once('=')
            .ok_or_else(|| format!("sweep {spec:?}: expected key=v1,v2,..."))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("sweep {spec:?}: the key is empty"));
        }
        if dims.iter().any(|d| d.0 == k) {
            return Err(format!("sweep: {k} is given twice"));
        }
        let values: Vec<String> = vs
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(format!("sweep {spec:?}: no values"));
        }
        dims.push((k.to_string(), values));
    }
    if dims.is_empty() {
        return Err("sweep: no dimension given".into());
    }
    let mut points: Vec<Point> = vec![Vec::new()];
    for (k, values) in &dims {
        let mut next = Vec::with_capacity(points.len() * values.len());
        for p in &points {
            for v in values {
                let mut q = p.clone();
                q.push((k.clone(), v.clone()));
                next.push(q);
            }
        }
        points = next;
    }
    Ok(points)
}

/// `key=value key=value` for a table.
pub fn label(p: &Point) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `f` on every item with up to `threads` threads; results in item
/// order.
pub fn run_grid<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let threads = threads.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut o) = out.lock() {
                    if let Some(slot) = o.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_is_every_combination_in_order() {
        let g = parse_grid(&["gamma=0,1".into(), "tight-ticks=1,2,3".into()]).unwrap();
        assert_eq!(g.len(), 6);
        assert_eq!(label(&g[0]), "gamma=0 tight-ticks=1");
        assert_eq!(label(&g[5]), "gamma=1 tight-ticks=3");
        // One argument with spaces is the same grid.
        assert_eq!(
            parse_grid(&["gamma=0,1 tight-ticks=1,2,3".into()]).unwrap(),
            g
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        for bad in ["gamma", "=1", "gamma=", "gamma=1 gamma=2", ""] {
            assert!(parse_grid(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn results_come_back_in_item_order_whatever_the_threads() {
        let items: Vec<u64> = (0..50).collect();
        for threads in [1, 2, 7] {
            let r = run_grid(&items, threads, |x| x * x);
            assert_eq!(r, items.iter().map(|x| x * x).collect::<Vec<_>>());
        }
    }
}
