//! The library's layers: a module of `src/` uses only the modules of the layers below its own
//! (the README's architecture draws them). A new top-level module gets its layer here.

use std::path::Path;

/// The layers, bottom to top; the modules of one layer do not use each other either.
const LAYERS: &[&[&str]] = &[
    // Leaf helpers: text for people, spans, panics turned into errors.
    &["text", "source", "panics"],
    // The one diagnostic type.
    &["diagnostics"],
    // Declarations only.
    &["model"],
    // The two front doors into the model, and the expression sandbox.
    &["syntax", "expr"],
    // Reading and writing files: cells, exports, outputs.
    &["io"],
    // Differentiate's numbers; the contact history's store.
    &["analytics", "history"],
    // The passes over a rule set.
    &["check"],
    // The plan a checked rule set becomes.
    &["plan"],
    // Its evaluation, customer by customer.
    &["engine"],
    // Whole runs and tests.
    &["batch", "testing"],
    // Front ends.
    &["reload", "scaffold", "cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The crate modules a line of code names (`crate::engine::...`, `crate::{io, model}`).
fn named(line: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                names.extend(group.split(',').map(|item| {
                    let item = item.trim();
                    &item[..item
                        .find(|c: char| !c.is_alphanumeric() && c != '_')
                        .unwrap_or(item.len())]
                }));
            }
            None => {
                let end = rest
                    .find(|c: char| !c.is_alphanumeric() && c != '_')
                    .unwrap_or(rest.len());
                names.push(&rest[..end]);
            }
        }
    }
    names
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_use_only_the_layers_below_theirs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let module = top.strip_suffix(".rs").unwrap_or(top);
        // The crate roots, and test files (tests may use any layer).
        if ["lib", "main"].contains(&module) || path.file_name().unwrap() == "tests.rs" {
            continue;
        }
        let own = layer_of(module)
            .unwrap_or_else(|| panic!("`src/{top}` is in no layer: give it one in LAYERS"));
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in named(line) {
                let Some(theirs) = layer_of(used) else {
                    continue;
                };
                if used != module && theirs >= own {
                    wrong.push(format!(
                        "{}:{}: `{module}` uses `{used}`, {}",
                        relative.display(),
                        n + 1,
                        if theirs == own {
                            "of its own layer"
                        } else {
                            "of a layer above"
                        }
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_up() {
    assert_eq!(named("use crate::engine::Evaluator;"), ["engine"]);
    assert_eq!(named("use crate::{io::Reject, model};"), ["io", "model"]);
    assert_eq!(
        named("x(crate::text::group(n), crate::batch::run)"),
        ["text", "batch"]
    );
}
