//! The `inzicht` command as a user meets it: exit codes, messages, and never a half-written
//! directory.

use std::path::Path;
use std::process::{Command, Output};

fn inzicht(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inzicht"))
        .args(args)
        .output()
        .expect("run inzicht")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let o = inzicht(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains(needle),
        "{args:?}: expected {needle:?} in {}",
        stderr(&o)
    );
}

#[test]
fn invalid_arguments_exit_with_2_and_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let o = out.to_str().unwrap();
    assert_usage_error(
        &["synth", "--clients", "0", "--out", o],
        "--clients must be a positive number",
    );
    assert_usage_error(
        &["synth", "--clients=-5", "--out", o],
        "--clients must be a positive number",
    );
    assert_usage_error(&["synth", "--clients", "many", "--out", o], "invalid value");
    assert_usage_error(
        &["synth", "--out", o, "--from", "2020-01", "--to", "2019-06"],
        "--to 2019-06 lies before --from 2020-01",
    );
    assert_usage_error(&["synth", "--out", o, "--from", "2012-13"], "YYYY-MM");
    assert_usage_error(
        &["synth", "--out", o, "--defects", "typo=0.1"],
        "unknown defect kind 'typo'",
    );
    assert_usage_error(
        &["synth", "--out", o, "--defects", "duplicate_row=0.9"],
        "between 0 and 0.2",
    );
    assert_usage_error(&["synth", "--out", o, "--vacancies", "0"], "--vacancies");
    assert_usage_error(&["synth"], "--out");
    assert!(!out.exists(), "nothing is written for invalid arguments");
}

#[test]
fn unwritable_or_occupied_output_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    // A parent that is a file.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let target = file.join("out");
    assert_usage_error(
        &[
            "synth",
            "--clients",
            "20",
            "--out",
            target.to_str().unwrap(),
        ],
        "does not exist",
    );
    // A directory with other data in it; --force refuses to delete what synth did not write.
    let occupied = tmp.path().join("mine");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("report.docx"), "important").unwrap();
    assert_usage_error(
        &[
            "synth",
            "--clients",
            "20",
            "--out",
            occupied.to_str().unwrap(),
        ],
        "not empty",
    );
    assert_usage_error(
        &[
            "synth",
            "--clients",
            "20",
            "--force",
            "--out",
            occupied.to_str().unwrap(),
        ],
        "refusing to replace",
    );
    assert_eq!(
        std::fs::read_to_string(occupied.join("report.docx")).unwrap(),
        "important"
    );
    let leftovers = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn synth_writes_a_complete_directory_and_force_replaces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gemeente");
    let o = out.to_str().unwrap();
    let first = inzicht(&["synth", "--clients", "60", "--seed", "3", "--out", o]);
    assert!(first.status.success(), "{}", stderr(&first));
    for f in [
        "summary.json",
        "truth.json",
        "manifest.json",
        "exports/suite/personen.csv",
        "exports/referentie/codelijsten.xlsx",
    ] {
        assert!(Path::new(&out.join(f)).is_file(), "{f} missing");
    }
    let again = inzicht(&["synth", "--clients", "60", "--out", o]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing output is not overwritten without --force"
    );
    let forced = inzicht(&[
        "synth",
        "--clients",
        "70",
        "--force",
        "--no-defects",
        "--out",
        o,
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["clients"], 70);
    assert!(
        summary["defects"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == 0),
        "--no-defects writes clean exports"
    );
}

#[test]
fn demo_generates_the_municipality() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let o = inzicht(&["demo", "--no-serve", "--dir", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("synth/summary.json").is_file());
    // Issue 6: the demo's output includes trees, clusters and a model with its audit …
    let out = String::from_utf8_lossy(&o.stdout);
    for part in [
        "Beslisboom",
        "Voorspelmodellen",
        "bias-audit",
        "Clusters van cliënten",
    ] {
        assert!(out.contains(part), "the demo output lacks '{part}'");
    }
    // … and a register entry that satisfies every rule of the Algoritmeregister standard for the
    // fields it fills, leaving exactly the listed fields to a person.
    let patronen = dir.join("patronen");
    assert!(patronen.join("beslisboom.svg").is_file() && patronen.join("modelkaart.md").is_file());
    let entry: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(patronen.join("algoritmeregister.json")).unwrap(),
    )
    .unwrap();
    let decide: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(patronen.join("algoritmeregister-te-beslissen.json")).unwrap(),
    )
    .unwrap();
    let to_decide: Vec<inzicht_register::FieldToDecide> =
        serde_json::from_value(decide["to_decide"].clone()).unwrap();
    let standard = inzicht_register::Standard::v1_0().unwrap();
    assert_eq!(standard.validate_generated(&entry, &to_decide), vec![]);
    let all = standard.validate(&entry);
    assert!(
        all.iter()
            .all(|v| to_decide.iter().any(|d| d.field == v.field)),
        "{all:?}"
    );
    // Running the demo again replaces its own earlier output.
    let o = inzicht(&["demo", "--no-serve", "--dir", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}
