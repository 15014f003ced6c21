//! `nuri pii scan|redact` as a user runs them: the real binary, stdin and files, the contract's
//! JSON lines.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::process::{Command, Stdio};

fn nuri(args: &[&str], input: &str) -> (String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nuri"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.success())
}

const DOC: &str =
    "홍길동님 메일은 hong@example.com으로, 전화 010-1234-5678. 대표번호 1588-1234, react@18.2.0\n";

#[test]
fn scan_prints_one_line_per_span_with_code_point_offsets() {
    let (out, ok) = nuri(&["pii", "scan"], DOC);
    assert!(ok);
    let spans: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<&str> = spans.iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        ["PERSON", "EMAIL", "PHONE"],
        "hotline and version string stay unflagged"
    );
    let chars: Vec<char> = DOC.chars().collect();
    for s in &spans {
        let (start, end) = (
            s["start"].as_u64().unwrap() as usize,
            s["end"].as_u64().unwrap() as usize,
        );
        let text: String = chars[start..end].iter().collect();
        assert_eq!(text, s["text"].as_str().unwrap());
    }
}

#[test]
fn scan_jsonl_and_file_input() {
    let (out, ok) = nuri(
        &["pii", "scan", "--jsonl"],
        "{\"text\": \"call 010-1234-5678\"}\n{\"text\": \"nothing here\"}\n",
    );
    assert!(ok);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["spans"][0]["label"], "PHONE");
    assert_eq!(lines[1]["spans"], serde_json::json!([]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.txt");
    std::fs::write(&path, DOC).unwrap();
    let (out, ok) = nuri(&["pii", "scan", "--file", path.to_str().unwrap()], "");
    assert!(ok);
    assert_eq!(out.lines().count(), 3);
    let (_, ok) = nuri(&["pii", "scan", "--file", "/nonexistent/file"], "");
    assert!(!ok);
}

#[test]
fn redact_with_labels_and_pseudonyms() {
    let (out, ok) = nuri(&["pii", "redact"], DOC);
    assert!(ok);
    assert_eq!(
        out,
        "[PERSON]님 메일은 [EMAIL]으로, 전화 [PHONE]. 대표번호 1588-1234, react@18.2.0\n"
    );
    let (out, _) = nuri(
        &["pii", "redact", "--pseudonymize"],
        "a@example.com b@example.com a@example.com",
    );
    assert_eq!(out, "[EMAIL_1] [EMAIL_2] [EMAIL_1]");
}
