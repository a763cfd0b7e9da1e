//! Shared by the table and attacker tests: a synthetic store loaded with a fixed key file, so that
//! record keys — and so every perturbation — are the same in every run.

use std::path::{Path, PathBuf};

/// Writes a key file with fixed secrets (mode 0600).
pub fn fixed_key(path: &Path, secret_byte: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = serde_json::json!({
        "format": "inzicht-key-v1", "created": "2026-01-01T00:00:00Z",
        "pseudonym_key": "11".repeat(32), "record_key_secret": secret_byte.repeat(32),
    });
    std::fs::write(path, text.to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// A synthetic municipality loaded into `root/store` with the key `root/geheim/sleutel.json`.
pub fn loaded_store(root: &Path, seed: u64, clients: u32, secret_byte: &str) -> PathBuf {
    loaded_store_from(
        root,
        &inzicht_synth::Config::new(seed, clients),
        secret_byte,
    )
}

/// As [`loaded_store`], for any configuration of the synthetic municipality.
#[allow(dead_code)]
pub fn loaded_store_from(root: &Path, cfg: &inzicht_synth::Config, secret_byte: &str) -> PathBuf {
    inzicht_synth::generate(cfg, &root.join("synth"), &mut |_, _| {}).unwrap();
    let key = root.join("geheim/sleutel.json");
    fixed_key(&key, secret_byte);
    inzicht_store::ingest(
        &Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("../../examples/synthetic/bron.toml"),
        &root.join("synth/exports"),
        &root.join("store"),
        &key,
        &mut |_| {},
    )
    .expect("ingest");
    key
}
