//! What a user of the published crates sees must stay true:
//! - the workspace README's quickstart is the one `saga-core` compiles and runs as a doc-test (`saga/README.md` is the
//!   crate's documentation, shipped in the package), character for character;
//! - every `cargo add` line names a crate of this workspace (or a dependency the quickstart uses) and
//!   only features that crate declares;
//! - the crates' versions move in lockstep: each takes the workspace version, and every in-workspace
//!   dependency asks for exactly that version.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

/// The fenced block of `lang` that follows the heading `## {heading}`.
fn block_after(markdown: &str, heading: &str, lang: &str) -> String {
    let section = markdown
        .split(&format!("\n## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no `## {heading}` section"));
    let start = section
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("no ```{lang} block under `## {heading}`"))
        + lang.len()
        + 4;
    let len = section[start..].find("```").expect("an unterminated block");
    section[start..start + len].to_owned()
}

#[test]
fn the_workspace_quickstart_is_the_doc_tested_one() {
    let workspace = block_after(&read("README.md"), "Quickstart", "rust");
    let core = block_after(&read("saga/README.md"), "Quickstart", "rust");
    assert!(
        workspace.contains("Executor::new"),
        "the quickstart runs a saga"
    );
    assert_eq!(
        workspace, core,
        "README.md's quickstart differs from saga/README.md's (the doc-tested copy)"
    );
}

/// `name` → the features its manifest declares.
fn workspace_crates() -> Vec<(String, BTreeSet<String>)> {
    ["saga", "saga-sqlx", "saga-redis", "saga-amqp"]
        .iter()
        .map(|dir| {
            let manifest = read(&format!("{dir}/Cargo.toml"));
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .and_then(|l| l.strip_suffix('"'))
                .expect("a package name")
                .to_owned();
            let features = manifest
                .split("\n[features]\n")
                .nth(1)
                .map(|section| {
                    section
                        .lines()
                        .take_while(|l| !l.starts_with('['))
                        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            (name, features)
        })
        .collect()
}

#[test]
fn every_install_line_names_a_published_crate_and_its_features() {
    let crates = workspace_crates();
    assert!(
        crates.iter().any(|(name, _)| name == "saga-core"),
        "the core is published as saga-core"
    );
    let install = block_after(&read("README.md"), "Install", "sh");
    let mut named = BTreeSet::new();
    for line in install.lines().filter(|l| l.starts_with("cargo add ")) {
        let words: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let name = words[2];
        named.insert(name.to_owned());
        let features: Vec<&str> = words
            .windows(2)
            .filter(|w| w[0] == "--features")
            .flat_map(|w| w[1].split(','))
            .collect();
        match crates.iter().find(|(n, _)| n == name) {
            Some((_, declared)) => {
                for feature in features {
                    assert!(declared.contains(feature), "{name} has no feature {feature}");
                }
            }
            None => assert!(
                ["tokio", "serde"].contains(&name),
                "`{line}` installs {name}, which is neither a workspace crate nor a quickstart dependency"
            ),
        }
    }
    for (name, _) in &crates {
        assert!(
            named.contains(name),
            "the install section does not show {name}"
        );
    }
}

#[test]
fn versions_move_in_lockstep() {
    let root = read("Cargo.toml");
    let version = root
        .split("\n[workspace.package]\n")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = \"")))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a workspace version");
    for dir in ["saga", "saga-sqlx", "saga-redis", "saga-amqp"] {
        let manifest = read(&format!("{dir}/Cargo.toml"));
        assert!(
            manifest.contains("\nversion.workspace = true\n"),
            "{dir} does not take the workspace version"
        );
    }
    let internal: Vec<&str> = root
        .lines()
        .filter(|l| l.starts_with("saga") && l.contains("path = "))
        .collect();
    assert_eq!(
        internal.len(),
        4,
        "one workspace dependency per crate: {internal:?}"
    );
    for line in internal {
        assert!(
            line.contains(&format!("version = \"{version}\"")),
            "`{line}` does not ask for version {version}"
        );
    }
}
