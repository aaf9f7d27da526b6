// SPDX-License-Identifier: Apache-2.0
//! Shared loader for the known-answer tests: reads `tests/vectors/` at the repository root.
#![allow(dead_code)] // each kat_*.rs uses a different subset

use std::path::PathBuf;

use serde_json::Value;

/// Parses `tests/vectors/<relative>`.
pub(crate) fn load(relative: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors")
        .join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Wycheproof file: `(group, test)` pairs, checked against `numberOfTests`.
pub(crate) fn wycheproof(name: &str) -> Vec<(Value, Value)> {
    let doc = load(&format!("wycheproof/{name}"));
    let mut cases = Vec::new();
    for group in doc["testGroups"].as_array().expect("testGroups") {
        for test in group["tests"].as_array().expect("tests") {
            cases.push((group.clone(), test.clone()));
        }
    }
    assert_eq!(
        Some(cases.len() as u64),
        doc["numberOfTests"].as_u64(),
        "{name}: numberOfTests"
    );
    cases
}

/// Decodes a hex string field (absent = empty).
pub(crate) fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap_or("")).expect("hex field")
}

/// The Wycheproof `result` of a test: "valid", "invalid" or "acceptable".
pub(crate) fn result(t: &Value) -> &str {
    t["result"].as_str().expect("result")
}

/// Whether the test carries `flag`.
pub(crate) fn has_flag(t: &Value, flag: &str) -> bool {
    t["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == flag))
}

/// `tcId` for messages.
pub(crate) fn tc(t: &Value) -> u64 {
    t["tcId"].as_u64().unwrap_or(0)
}

/// Counts outcomes so each file can report what it covered.
#[derive(Default, Debug)]
pub(crate) struct Tally {
    pub(crate) accepted: usize,
    pub(crate) rejected: usize,
}

impl Tally {
    pub(crate) fn report(&self, name: &str) {
        eprintln!(
            "{name}: {} accepted, {} rejected",
            self.accepted, self.rejected
        );
    }
}
