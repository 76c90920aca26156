//! No input makes idic panic or hang: random text and mutated copies of the shipped rule files
//! (characters inserted, deleted, swapped) must give a result, with a diagnostic when the file
//! is broken.

use idic::syntax::{load_bytes, Loaded};
use proptest::prelude::*;
use std::path::Path;

/// The shipped DSL and TOML rule files, the seeds for mutation.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).expect("rules/") {
        let dir = dir.expect("entry").path();
        for file in idic::syntax::rule_files(&dir).expect("rule files") {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read(&file).expect("read")));
        }
    }
    assert!(!out.is_empty(), "no seed rule files");
    out
}

/// Loads and checks bytes as a file of the given name: must return, never panic.
fn check_bytes(name: &str, bytes: Vec<u8>) -> idic::check::Checked {
    let mut loaded = Loaded::default();
    load_bytes(&mut loaded, Path::new(name), bytes);
    idic::check::check(loaded, Path::new(name))
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
    Swap(usize, usize),
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match *edit {
        Edit::Insert(at, b) => bytes.insert(at % (n + 1), b),
        Edit::Delete(at) => {
            bytes.remove(at % n);
        }
        Edit::Swap(a, b) => bytes.swap(a % n, b % n),
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    // Inserted bytes favour the characters that matter to the grammar.
    let byte = prop_oneof![
        prop::sample::select(b"{}()[]\"'`;,=/*?:\n \t#_-.0123456789abcdexyz".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_rule_files_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let seeds = seeds();
        let (name, mut bytes) = seeds[seed.index(seeds.len())].clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        let checked = check_bytes(&name, bytes.clone());
        // A changed file that no longer parses must say so.
        if String::from_utf8(bytes).is_err() {
            prop_assert!(checked.diagnostics.iter().any(|d| d.code == "not-utf8"));
        }
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}", toml in any::<bool>()) {
        let name = if toml { "random.toml" } else { "random.idic" };
        let checked = check_bytes(name, text.into_bytes());
        let _ = checked.has_errors();
    }
}

#[test]
fn deeply_nested_input_is_refused_not_crashed() {
    for (name, open) in [
        ("deep.idic", "segment s = "),
        ("deep.toml", "[segments]\ns = "),
    ] {
        let text = format!("{open}{}", "(".repeat(100_000));
        let checked = check_bytes(name, text.into_bytes());
        assert!(
            checked.has_errors(),
            "{name}: unbalanced input must be an error"
        );
    }
}
