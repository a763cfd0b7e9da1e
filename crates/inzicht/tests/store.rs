//! The Datapakhuis through the command line: a load killed halfway leaves the store as it was,
//! and the next run completes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_inzicht"))
}

fn config() -> std::path::PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../examples/synthetic/bron.toml")
}

#[test]
fn a_killed_load_changes_nothing_and_the_next_run_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let synth = tmp.path().join("synth");
    let store = tmp.path().join("store");
    let key = tmp.path().join("sleutel.json");
    assert!(bin()
        .args(["synth", "--clients", "300", "--seed", "9", "--out"])
        .arg(&synth)
        .status()
        .unwrap()
        .success());
    let ingest = |s: &Path| {
        let mut c = bin();
        c.args(["ingest", "--config"])
            .arg(config())
            .arg("--input")
            .arg(synth.join("exports"))
            .arg("--store")
            .arg(s)
            .arg("--key-file")
            .arg(&key);
        c
    };
    // A first, complete load.
    let out = ingest(&store).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let current = std::fs::read_link(store.join("current")).unwrap();
    // A newer export, loaded and killed as soon as its temporary snapshot exists.
    std::fs::remove_dir_all(&synth).unwrap();
    assert!(bin()
        .args(["synth", "--clients", "3000", "--seed", "10", "--out"])
        .arg(&synth)
        .status()
        .unwrap()
        .success());
    let mut child = ingest(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let snapshots = store.join("snapshots");
    let mut killed_during_load = false;
    while started.elapsed() < Duration::from_secs(60) {
        let tmp_exists = std::fs::read_dir(&snapshots)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"));
        if tmp_exists {
            std::thread::sleep(Duration::from_millis(150));
            killed_during_load = child.try_wait().unwrap().is_none();
            let _ = child.kill();
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.wait();
    assert!(
        killed_during_load,
        "the load finished before it could be killed; use a larger export"
    );
    assert_eq!(
        std::fs::read_link(store.join("current")).unwrap(),
        current,
        "a killed load must not move current"
    );
    // The old snapshot still opens.
    assert!(store.join("ads.duckdb").exists());
    // The next run cleans up and completes.
    let out = ingest(&store).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(std::fs::read_link(store.join("current")).unwrap(), current);
    let leftovers = std::fs::read_dir(&snapshots)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn ingest_errors_name_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let synth = tmp.path().join("synth");
    assert!(bin()
        .args(["synth", "--clients", "40", "--out"])
        .arg(&synth)
        .status()
        .unwrap()
        .success());
    // A truncated export: cut inside a quoted field.
    let spells = synth.join("exports/suite/uitkeringen.csv");
    std::fs::write(&spells, b"bsn;dossiernummer;regeling;ingangsdatum;einddatum;reden_aanvraag;reden_beeindiging;huishoudrol;leefvorm;kostendeler;inkomsten_naast_uitkering;netto_uitkering;vorige_uitkering;toelichting\r\n123456782;UK1;PW;01-01-2015;;I01;;hoofdaanvrager;alleenstaande;nee;nee;1000,00;geen;\"afgebroken").unwrap();
    let out = bin()
        .args(["ingest", "--check", "--config"])
        .arg(config())
        .arg("--input")
        .arg(synth.join("exports"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("uitkeringen.csv") && err.contains("line 2") && err.contains("quoted field"),
        "{err}"
    );
    // An empty export.
    std::fs::write(&spells, b"").unwrap();
    let out = bin()
        .args(["ingest", "--check", "--config"])
        .arg(config())
        .arg("--input")
        .arg(synth.join("exports"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
}
