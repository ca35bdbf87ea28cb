//! A line diff in unified format, for the `diff` column of prompt versions.
//!
//! Myers' O((N+M)·D) algorithm over lines, after trimming the common head and tail. It keeps the
//! frontier of every step to backtrack, which costs O(D²) memory, so it gives up after
//! [`MAX_DIFF_EDITS`] edits and reports the changed middle as one removal plus one addition:
//! still a correct diff, just not a minimal one. For prompts (at most 50 000 characters, a few
//! thousand lines) a rewrite of that size is a replacement anyway.
//!
//! Line endings are not compared: `"a\n"` and `"a"` are the same text, and there is no
//! "no newline at end of file" marker.

use std::fmt::Write;

/// Above this many inserted plus deleted lines the diff stops minimising (see module docs).
pub const MAX_DIFF_EDITS: usize = 2_000;

/// Lines of unchanged context around each change.
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    Delete,
    Insert,
}

/// The unified diff from `old` to `new` (`--- old`, `+++ new`, `@@ -a,b +c,d @@` hunks with three
/// lines of context), or an empty string when they have the same lines.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = edit_script(&a, &b);
    render(&ops)
}

/// The edit script as (op, line) pairs in output order.
fn edit_script<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Op, &'a str)> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (a_mid, b_mid) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);

    let mut ops: Vec<(Op, &str)> = a[..head].iter().map(|l| (Op::Equal, *l)).collect();
    match myers(a_mid, b_mid, MAX_DIFF_EDITS) {
        Some(mid) => ops.extend(mid),
        None => {
            ops.extend(a_mid.iter().map(|l| (Op::Delete, *l)));
            ops.extend(b_mid.iter().map(|l| (Op::Insert, *l)));
        }
    }
    ops.extend(a[a.len() - tail..].iter().map(|l| (Op::Equal, *l)));
    ops
}

/// Myers' greedy shortest edit script; `None` when it needs more than `max_edits` edits.
fn myers<'a>(a: &[&'a str], b: &[&'a str], max_edits: usize) -> Option<Vec<(Op, &'a str)>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max_d = (a.len() + b.len()).min(max_edits) as isize;
    // v[k + offset] = furthest x reached on diagonal k (k = x - y).
    let offset = max_d + 1;
    let mut v = vec![0isize; 2 * offset as usize + 1];
    // trace[d] = v[-d-1 ..= d+1] as it was before step d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let idx = |k: isize| (k + offset) as usize;

    for d in 0..=max_d {
        trace.push(v[idx(-d - 1)..=idx(d + 1)].to_vec());
        for k in (-d..=d).step_by(2) {
            let mut x = if k == -d || (k != d && v[idx(k - 1)] < v[idx(k + 1)]) {
                v[idx(k + 1)]
            } else {
                v[idx(k - 1)] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx(k)] = x;
            if x >= n && y >= m {
                return Some(backtrack(a, b, &trace, d));
            }
        }
    }
    None
}

fn backtrack<'a>(a: &[&'a str], b: &[&'a str], trace: &[Vec<isize>], last_d: isize) -> Vec<(Op, &'a str)> {
    let mut ops = Vec::new();
    let (mut x, mut y) = (a.len() as isize, b.len() as isize);
    for d in (0..=last_d).rev() {
        let v = &trace[d as usize];
        // Index into the saved window v[-d-1 ..= d+1].
        let at = |k: isize| v[(k + d + 1) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && at(k - 1) < at(k + 1)) { k + 1 } else { k - 1 };
        let prev_x = at(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            ops.push((Op::Equal, a[(x - 1) as usize]));
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            if x == prev_x {
                ops.push((Op::Insert, b[(y - 1) as usize]));
            } else {
                ops.push((Op::Delete, a[(x - 1) as usize]));
            }
        }
        x = prev_x;
        y = prev_y;
    }
    ops.reverse();
    ops
}

fn render(ops: &[(Op, &str)]) -> String {
    let changes: Vec<usize> =
        ops.iter().enumerate().filter(|(_, (op, _))| *op != Op::Equal).map(|(i, _)| i).collect();
    let Some(&first) = changes.first() else {
        return String::new();
    };

    // Group changes whose gap of equal lines fits in the context on both sides.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    let (mut start, mut last) = (first, first);
    for &i in &changes[1..] {
        if i - last - 1 > 2 * CONTEXT {
            hunks.push((start, last));
            start = i;
        }
        last = i;
    }
    hunks.push((start, last));

    // Line numbers (0-based) in old and new before each op.
    let mut positions = Vec::with_capacity(ops.len() + 1);
    let (mut old_line, mut new_line) = (0usize, 0usize);
    for (op, _) in ops {
        positions.push((old_line, new_line));
        match op {
            Op::Equal => {
                old_line += 1;
                new_line += 1;
            }
            Op::Delete => old_line += 1,
            Op::Insert => new_line += 1,
        }
    }

    let mut out = String::from("--- old\n+++ new\n");
    for (first_change, last_change) in hunks {
        let from = first_change.saturating_sub(CONTEXT);
        let to = (last_change + CONTEXT + 1).min(ops.len());
        let slice = &ops[from..to];
        let old_len = slice.iter().filter(|(op, _)| *op != Op::Insert).count();
        let new_len = slice.iter().filter(|(op, _)| *op != Op::Delete).count();
        let (old_start, new_start) = positions[from];
        let _ = writeln!(out, "@@ -{} +{} @@", range(old_start, old_len), range(new_start, new_len));
        for (op, line) in slice {
            let sign = match op {
                Op::Equal => ' ',
                Op::Delete => '-',
                Op::Insert => '+',
            };
            let _ = writeln!(out, "{sign}{line}");
        }
    }
    out
}

/// GNU's hunk range: `start,len` 1-based, `start` alone for one line, the line before for none.
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{}", start + 1, len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies a unified diff produced by `diff` to `old`, to check it really leads to `new`.
    fn apply(old: &str, patch: &str) -> String {
        let old: Vec<&str> = old.lines().collect();
        let mut out: Vec<String> = Vec::new();
        let mut cursor = 0usize;
        for line in patch.lines().skip(2) {
            if let Some(header) = line.strip_prefix("@@ -") {
                let old_range = header.split(' ').next().unwrap();
                let mut parts = old_range.split(',');
                let start: usize = parts.next().unwrap().parse().unwrap();
                let len: usize = parts.next().map_or(1, |l| l.parse().unwrap());
                let start0 = if len == 0 { start } else { start - 1 };
                out.extend(old[cursor..start0].iter().map(|s| s.to_string()));
                cursor = start0;
            } else if let Some(l) = line.strip_prefix(' ') {
                assert_eq!(old[cursor], l);
                out.push(l.to_owned());
                cursor += 1;
            } else if let Some(l) = line.strip_prefix('-') {
                assert_eq!(old[cursor], l);
                cursor += 1;
            } else if let Some(l) = line.strip_prefix('+') {
                out.push(l.to_owned());
            }
        }
        out.extend(old[cursor..].iter().map(|s| s.to_string()));
        out.join("\n")
    }

    #[test]
    fn identical_texts_have_an_empty_diff() {
        assert_eq!(diff("a\nb\n", "a\nb"), "");
        assert_eq!(diff("", ""), "");
    }

    #[test]
    fn a_changed_line_shows_with_context() {
        let old = "one\ntwo\nthree\nfour\nfive\nsix\nseven\n";
        let new = "one\ntwo\nthree\nFOUR\nfive\nsix\nseven\n";
        assert_eq!(
            diff(old, new),
            "--- old\n+++ new\n@@ -1,7 +1,7 @@\n one\n two\n three\n-four\n+FOUR\n five\n six\n seven\n"
        );
    }

    #[test]
    fn distant_changes_make_separate_hunks() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 2\n", "line two\n").replace("line 18\n", "line eighteen\n");
        let d = diff(&old, &new);
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
        assert!(d.contains("@@ -1,5 +1,5 @@\n line 1\n-line 2\n+line two\n"), "{d}");
        assert!(
            d.contains("@@ -15,6 +15,6 @@\n line 15\n line 16\n line 17\n-line 18\n+line eighteen\n"),
            "{d}"
        );
    }

    #[test]
    fn additions_to_an_empty_text_and_removals_of_everything() {
        assert_eq!(diff("", "a\nb\n"), "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n");
        assert_eq!(diff("a\n", ""), "--- old\n+++ new\n@@ -1 +0,0 @@\n-a\n");
    }

    #[test]
    fn diffs_are_minimal_and_apply_back_to_the_new_text() {
        let cases = [
            ("a\nb\nc\na\nb\nb\na", "c\nb\na\nb\na\nc"),
            ("x\ny\nz", "y\nz\nx"),
            (
                "greet {{first_name}}\nconfirm the visit\nsay goodbye",
                "greet {{first_name}}\nask about parking\nconfirm the visit\nsay goodbye politely",
            ),
            ("same\nsame\nsame", "same\nsame"),
        ];
        for (old, new) in cases {
            let d = diff(old, new);
            assert_eq!(apply(old, &d), new, "{d}");
        }
        // The classic Myers example needs exactly 5 edits.
        let d = diff("a\nb\nc\na\nb\nb\na", "c\nb\na\nb\na\nc");
        let edits = d.lines().skip(2).filter(|l| l.starts_with('+') || l.starts_with('-')).count();
        assert_eq!(edits, 5, "{d}");
    }

    #[test]
    fn huge_rewrites_fall_back_to_remove_and_add() {
        let old: String = (0..3_000).map(|i| format!("old {i}\n")).collect();
        let new: String = (0..3_000).map(|i| format!("new {i}\n")).collect();
        let d = diff(&old, &new);
        assert_eq!(d.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).count(), 3_000);
        assert_eq!(d.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).count(), 3_000);
        assert_eq!(apply(&old, &d), new.trim_end());
    }

    #[test]
    fn a_large_prompt_with_a_small_edit_diffs_quickly_and_minimally() {
        let old: String = (0..5_000).map(|i| format!("line {}\n", i % 97)).collect();
        let new = old.replacen("line 50\n", "line fifty\n", 1);
        let d = diff(&old, &new);
        assert_eq!(d.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).count(), 1);
        assert_eq!(apply(&old, &d), new.trim_end());
    }
}
