//! yaml.v2's order for mapping keys, and a sort that survives it: `keyList.Less` is not a
//! total order for every set of keys (digit runs, zeros and non-letters compare in ways that
//! are not transitive), which Go's `sort.Sort` tolerates and Rust's `sort_by` answers with a
//! panic. Keys come from values files and `--set`, so they are untrusted.

use std::cmp::Ordering;

/// Go's `sort.Sort` sorts this many elements or fewer by insertion sort; doing the same
/// gives Helm's exact order for small maps even where `keyList.Less` is not transitive.
const INSERTION_SORT_MAX: usize = 12;

/// Sorts `items` by [`key_order`] of `key(item)`, never panicking whatever the keys: the
/// result is the sorted order whenever the keys are totally ordered.
pub fn sort_by_key_order<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &str + Copy) {
    let less = move |a: &T, b: &T| key_order(key(a), key(b)) == Ordering::Less;
    *items = merge_sort(std::mem::take(items), &less);
}

fn merge_sort<T>(mut items: Vec<T>, less: &impl Fn(&T, &T) -> bool) -> Vec<T> {
    if items.len() <= INSERTION_SORT_MAX {
        insertion_sort(&mut items, less);
        return items;
    }
    let right = merge_sort(items.split_off(items.len() / 2), less);
    let left = merge_sort(items, less);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        // Taking from the left unless the right is strictly less keeps the sort stable.
        let next = if less(r, l) {
            right.next()
        } else {
            left.next()
        };
        out.extend(next);
    }
    out.extend(left);
    out.extend(right);
    out
}

/// Go's `insertionSort`, swap for swap.
fn insertion_sort<T>(items: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// yaml.v2's `keyList.Less` for string keys: runs of digits compare as numbers, and a
/// non-letter sorts before a letter.
pub fn key_order(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_numeric() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while let Some(d) = ar.get(ai).and_then(|c| c.to_digit(10)) {
            an = an.wrapping_mul(10).wrapping_add(i64::from(d));
            ai += 1;
        }
        let mut bi = i;
        while let Some(d) = br.get(bi).and_then(|c| c.to_digit(10)) {
            bn = bn.wrapping_mul(10).wrapping_add(i64::from(d));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}
