//! `inzicht table` through the command line: the JSON envelope, `--list`, the policy beside the
//! key file, exit codes for bad input and refusals, and no identifier in any output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_inzicht"))
}

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        assert!(bin()
            .args(["synth", "--clients", "900", "--seed", "4", "--out"])
            .arg(root.join("synth"))
            .status()
            .unwrap()
            .success());
        let out = bin()
            .args(["ingest", "--config"])
            .arg(
                Path::new(
                    &std::env::var("CARGO_MANIFEST_DIR")
                        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
                )
                .join("../../examples/synthetic/bron.toml"),
            )
            .arg("--input")
            .arg(root.join("synth/exports"))
            .arg("--store")
            .arg(root.join("store"))
            .arg("--key-file")
            .arg(root.join("geheim/sleutel.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        World { _tmp: tmp, root }
    }
    fn table(&self, args: &[&str]) -> Output {
        bin()
            .arg("table")
            .arg("--store")
            .arg(self.root.join("store"))
            .args(args)
            .output()
            .unwrap()
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let out = self.table(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn table_prints_the_envelope_lists_and_refuses() {
    let w = World::new();
    let list = w.json(&["--list"]);
    let names: Vec<&str> = list["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    for n in [
        "month",
        "wijk",
        "buurt",
        "age_band",
        "sex",
        "outflow",
        "provision_group",
        "trede",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(list["dimensions"][0]["label"].is_string());
    assert!(list["measures"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "mean:age"));

    let r = w.json(&["--by", "wijk,outflow", "--where", "year = 2023"]);
    for key in [
        "cells",
        "protection",
        "meta",
        "total",
        "dimensions",
        "measure",
    ] {
        assert!(r.get(key).is_some(), "{key} missing");
    }
    assert_eq!(r["protection"]["status"], "protected");
    assert_eq!(r["protection"]["threshold"], 10);
    assert!(r["protection"].get("cells_suppressed").is_some());
    assert_eq!(r["meta"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(r["meta"]["snapshot"].is_string());
    assert_eq!(r["meta"]["params"]["where"], "year = 2023");
    let cells = r["cells"].as_array().unwrap();
    assert!(cells
        .iter()
        .any(|c| c["flag"] == "suppressed" && c["value"].is_null()));
    for c in cells.iter().filter(|c| c["flag"] == "protected") {
        assert!(c["value"].as_f64().unwrap() >= 10.0);
    }
    // No pseudonym, BSN or record key anywhere in the output.
    let text = r.to_string();
    assert!(!text.contains("pseudonym") && !text.contains("record_key"));
    // The snapshot id ends in the key id, 16 random hex digits, which hold a run of exactly
    // nine decimal digits in about one load in 20: not a BSN, so left out of this scan.
    let snapshot = r["meta"]["snapshot"].as_str().unwrap().to_string();
    let text = text.replace(&snapshot, "");
    let bsn_like = text
        .split(|c: char| !c.is_ascii_digit())
        .any(|t| t.len() == 9);
    assert!(!bsn_like, "{text}");

    // The human table: Dutch numbers, "x" for suppressed, the note on totals.
    let out = w.table(&["--by", "outflow", "--where", "year = 2023"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Totaal") && text.contains("apart beschermd"),
        "{text}"
    );

    // Bad input: exit code 2 with the position.
    let out = w.table(&["--by", "wijk", "--where", "leeftijd >> 3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--where, position"));
    let out = w.table(&["--by", "lengte"]);
    assert_eq!(out.status.code(), Some(2));

    // A near-identical target group after an earlier one: refused (exit 2), and logged.
    assert!(w
        .table(&["--by", "sex", "--where", "year = 2024"])
        .status
        .success());
    let out = w.table(&["--by", "sex", "--where", "year = 2024 and age <> 61"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Geweigerd"));
    // One user's log, and its summary file beside it.
    let mut logs: Vec<String> = std::fs::read_dir(w.root.join("geheim/query-log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    logs.sort();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(format!("{}.summary", logs[0]), logs[1]);

    // The installation's policy beside the key file: a higher threshold is applied and
    // recorded; a threshold of 0 is refused with the file's name.
    std::fs::write(
        w.root.join("geheim/protection.toml"),
        "name = \"streng\"\nthreshold = 25\n",
    )
    .unwrap();
    let r = w.json(&["--by", "wijk"]);
    assert_eq!(r["protection"]["policy"], "streng");
    for c in r["cells"].as_array().unwrap() {
        if let Some(v) = c["value"].as_f64() {
            assert!(v >= 25.0);
        }
    }
    std::fs::write(w.root.join("geheim/protection.toml"), "threshold = 0\n").unwrap();
    let out = w.table(&["--by", "wijk"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("protection.toml") && err.contains("at least 1"),
        "{err}"
    );
}
