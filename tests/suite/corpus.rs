//! The broken-rule corpus: each file in `tests/corpus/` is a small, believable rule set (DSL or
//! TOML) with exactly one mistake, named in the file's name and in its first line
//! (`// mistake: line 12 ...`). `check` must report it with one diagnostic on that line, and the
//! `plain` rendering of what it says is snapshotted (`tests/suite/snapshots/`), reviewed by hand.
//!
//! Files named `*warn_*` hold a mistake that is only a warning; `*empty*` and `*not_utf8*` files
//! have no first line to read (their diagnostic may name the whole file).

use idic::diagnostics::{render, Format};
use std::path::Path;

/// The line a corpus file says its mistake is on: `// mistake: line 12 ...` (`#` in TOML).
fn stated_line(text: &str) -> Option<usize> {
    let first = text.lines().next()?;
    let rest = first
        .strip_prefix("// mistake: line ")
        .or_else(|| first.strip_prefix("# mistake: line "))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn check_plain() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    insta::glob!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests"),
        "corpus/*",
        |path| {
            let relative = path
                .strip_prefix(root)
                .expect("corpus file under the crate");
            let name = relative.file_name().unwrap().to_string_lossy().into_owned();
            // As `idic check FILE --allow-read tests/fixtures`: the tests read the shared fixtures.
            let access = idic::io::ReadAccess::rule_set(path)
                .allowing(&[root.join("tests/fixtures")])
                .unwrap();
            let checked = idic::check::check_path_with(path, access).expect("readable");
            let diags = &checked.diagnostics;
            assert!(!diags.is_empty(), "{name}: no diagnostic");
            assert_eq!(
                diags.len(),
                1,
                "{name}: one mistake should give one diagnostic, not a cascade: {diags:#?}"
            );
            let errors = diags.iter().filter(|d| d.is_error()).count();
            if name.contains("warn_") {
                assert_eq!(errors, 0, "{name}: only warnings expected");
            } else {
                assert!(errors >= 1, "{name}: an error expected");
            }

            let whole_file = name.contains("empty") || name.contains("not_utf8");
            if !whole_file {
                for d in diags {
                    assert!(d.span().is_some(), "{name}: no span on {d:?}");
                }
                let text = std::fs::read_to_string(path).unwrap();
                let line = stated_line(&text)
                    .unwrap_or_else(|| panic!("{name}: first line must say `mistake: line N ...`"));
                let span = diags[0].span().unwrap();
                let at = checked.sources.get(span.file).line_col(span.start);
                assert_eq!(at.line, line, "{name}: diagnostic on the wrong line");
            }

            // Paths relative to the crate, so the snapshots are the same on every machine.
            let plain = render(diags, &checked.sources, Format::Plain, false)
                .replace(&format!("{}/", root.display()), "");
            insta::assert_snapshot!(plain);
        }
    );
}
