//! What backups read from the environment.

use migration::settings::{Env, SettingsError};

/// SQLite snapshots (`createBackup`, `api backup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// `BACKUP_DIR`, default `$DATA_DIR/backups`.
    pub dir: std::path::PathBuf,
    /// `BACKUP_KEEP`: keep only the newest N backups there; unset keeps all.
    pub keep: Option<usize>,
    /// `BACKUP_UPLOAD`: also copy each backup into file storage (the S3
    /// bucket when configured) under `backups/`.
    pub upload: bool,
}

impl BackupConfig {
    pub fn from_env(env: &Env<'_>, data_dir: &str) -> Result<Self, SettingsError> {
        let dir = match env.get("BACKUP_DIR") {
            Some(dir) if dir.chars().any(char::is_control) => {
                return Err(env.error(
                    "BACKUP_DIR",
                    "must not contain control characters".to_owned(),
                ));
            }
            Some(dir) => std::path::PathBuf::from(dir),
            None => std::path::Path::new(data_dir).join("backups"),
        };
        let keep = match env.get("BACKUP_KEEP") {
            None => None,
            Some(_) => Some(env.positive("BACKUP_KEEP", 1usize)?),
        };
        Ok(BackupConfig {
            dir,
            keep,
            upload: env.flag("BACKUP_UPLOAD", false)?,
        })
    }
}
