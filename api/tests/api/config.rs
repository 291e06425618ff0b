//! Configuration: defaults with nothing set, and errors that name the variable.

use std::{collections::HashMap, process::Command};

use api::config::{Config, Environment, LogFormat};

fn config(vars: &[(&str, &str)]) -> Result<Config, api::config::ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn no_configuration_means_the_embedded_default() {
    let config = config(&[]).expect("defaults are valid");
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.host.to_string(), "127.0.0.1");
    assert_eq!(config.port, 8080);
    assert_eq!(config.database.url, "sqlite://data/hearth.db?mode=rwc");
    assert!(config.auto_migrate);
    assert!(config.graphql.introspection);
    assert_eq!(config.log_format, LogFormat::Pretty);
    assert_eq!(config.shutdown_timeout.as_secs(), 10);
}

#[test]
fn production_tightens_defaults() {
    let config = config(&[
        ("HEARTH_ENV", "production"),
        ("DATA_DIR", "/data"),
        ("JWT_SECRET", "a-production-secret-of-at-least-32-bytes"),
    ])
    .expect("valid");
    assert!(!config.graphql.introspection);
    assert!(
        config.auth.confirm_email,
        "sign-up conceals registered emails"
    );
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.database.url, "sqlite:///data/hearth.db?mode=rwc");
    assert!(!self::config(&[]).expect("valid").auth.confirm_email);
}

#[test]
fn invalid_values_name_their_variable() {
    for (name, value) in [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("HOST", "localhost:80"),
        ("HEARTH_ENV", "staging"),
        ("AUTO_MIGRATE", "maybe"),
        ("AUTH_CONFIRM_EMAIL", "sometimes"),
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("LOG_FORMAT", "xml"),
        ("SHUTDOWN_TIMEOUT_SECS", "-1"),
    ] {
        let err = config(&[(name, value)]).expect_err(name);
        assert_eq!(err.variable, name);
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn a_bad_variable_stops_the_binary_with_its_name() {
    let dir = tempfile::tempdir().expect("dir");
    for (name, value) in [("PORT", "abc"), ("DATABASE_URL", "redis://localhost")] {
        let output = Command::new(env!("CARGO_BIN_EXE_api"))
            .current_dir(dir.path())
            .env_clear()
            .env(name, value)
            .output()
            .expect("api runs");
        assert!(!output.status.success(), "{name}={value} must fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn an_unreachable_database_stops_the_binary_with_the_password_masked() {
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(env!("CARGO_BIN_EXE_api"))
        .current_dir(dir.path())
        .env_clear()
        .env(
            "DATABASE_URL",
            "postgres://hearth:hunter2@127.0.0.1:1/hearth",
        )
        .env("DATABASE_ACQUIRE_TIMEOUT_SECS", "1")
        .output()
        .expect("api runs");
    assert!(!output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("***"), "{all}");
}

#[test]
fn schema_subcommand_prints_the_committed_sdl() {
    let output = Command::new(env!("CARGO_BIN_EXE_api"))
        .arg("schema")
        .output()
        .expect("api runs");
    assert!(output.status.success());
    let sdl = String::from_utf8_lossy(&output.stdout);
    assert!(sdl.contains("type Query"), "{sdl}");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
            .expect("schema.graphql is committed at the repository root");
    assert_eq!(sdl, committed, "schema.graphql is stale: run `just schema`");
}

/// Production needs a real JWT secret; short ones are refused anywhere.
#[test]
fn jwt_secrets_are_checked() {
    let prod = |secret: Option<&str>| {
        let mut vars = vec![("HEARTH_ENV", "production")];
        if let Some(secret) = secret {
            vars.push(("JWT_SECRET", secret));
        }
        config(&vars)
    };
    for secret in [
        None,
        Some("too-short"),
        Some(api::auth::settings::EXAMPLE_JWT_SECRET),
    ] {
        let err = prod(secret).expect_err("refused");
        assert_eq!(err.variable, "JWT_SECRET", "{secret:?}: {err}");
    }
    assert!(prod(Some("0123456789abcdef0123456789abcdef")).is_ok());
    let err = config(&[("JWT_SECRET", "short")]).expect_err("short in development too");
    assert_eq!(err.variable, "JWT_SECRET");
    let err = config(&[("JWT_PRIVATE_KEY_FILE", "/nonexistent.pem")]).expect_err("half a pair");
    assert_eq!(err.variable, "JWT_PUBLIC_KEY_FILE");
    let err = config(&[("SMTP_URL", "http://mail")]).expect_err("not smtp");
    assert_eq!(err.variable, "SMTP_URL");
    let err = config(&[("MAIL_FROM", "not an address")]).expect_err("bad sender");
    assert_eq!(err.variable, "MAIL_FROM");
}

/// The placeholder production refuses is the one `.env.example` ships.
#[test]
fn env_example_ships_the_refused_placeholder() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example"))
        .expect(".env.example");
    let line = format!("JWT_SECRET={}", api::auth::settings::EXAMPLE_JWT_SECRET);
    assert!(example.lines().any(|l| l == line), "{line} missing");
}

#[test]
fn production_without_a_jwt_secret_stops_the_binary() {
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(env!("CARGO_BIN_EXE_api"))
        .current_dir(dir.path())
        .env_clear()
        .env("HEARTH_ENV", "production")
        .env("JWT_SECRET", api::auth::settings::EXAMPLE_JWT_SECRET)
        .output()
        .expect("api runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

/// docs/configuration.md names every variable the server reads, and no
/// other (besides the few that other programs read, listed here), so the
/// page cannot drift from the code.
#[test]
fn the_configuration_page_names_every_variable_the_server_reads() {
    use std::{cell::RefCell, collections::BTreeSet};
    let read = RefCell::new(BTreeSet::new());
    // S3_* are read only when a bucket is set, push's when its key file
    // is, and a sign-in provider's variables
    // only when it is listed; the generic ones are documented as
    // `AUTH_<NAME>_...`.
    let apple_key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/fixtures/apple-test-key.p8"
    );
    // Push reads its provider's variables only when the key file is set.
    let dir = tempfile::tempdir().expect("dir");
    let account = dir.path().join("service-account.json");
    let rsa_key = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/fixtures/fcm-test-key.pem"
    ))
    .expect("key");
    let json =
        serde_json::json!({ "project_id": "p", "client_email": "e@p", "private_key": rsa_key });
    std::fs::write(&account, json.to_string()).expect("write");
    let account = account.display().to_string();
    let set: [(&str, &str); 13] = [
        ("S3_BUCKET", "hearth-files"),
        ("PUSH_FCM_CREDENTIALS_FILE", &account),
        ("PUSH_APNS_KEY_FILE", apple_key),
        ("PUSH_APNS_KEY_ID", "KEY1234567"),
        ("PUSH_APNS_TEAM_ID", "TEAM123456"),
        ("PUSH_APNS_TOPIC", "com.example.app"),
        ("AUTH_PROVIDERS", "example,apple,github"),
        ("AUTH_EXAMPLE_ISSUER", "https://id.example.com"),
        ("AUTH_EXAMPLE_CLIENT_ID", "hearth"),
        ("AUTH_APPLE_CLIENT_ID", "com.example.app.web"),
        ("AUTH_APPLE_PRIVATE_KEY_FILE", apple_key),
        ("AUTH_APPLE_TEAM_ID", "TEAM123456"),
        ("AUTH_APPLE_KEY_ID", "KEY1234567"),
    ];
    for everything in [false, true] {
        let config = Config::from_lookup(|name| {
            let generic = [
                "CLIENT_ID",
                "CLIENT_SECRET",
                "ISSUER",
                "AUDIENCES",
                "SCOPES",
                "ALLOW_MISSING_NONCE",
            ]
            .iter()
            .find_map(|s| {
                ["EXAMPLE", "APPLE", "GITHUB"]
                    .iter()
                    .any(|p| name == format!("AUTH_{p}_{s}"))
                    .then(|| format!("AUTH_<NAME>_{s}"))
            });
            read.borrow_mut()
                .insert(generic.unwrap_or_else(|| name.to_owned()));
            match name {
                "AUTH_GITHUB_CLIENT_ID" | "AUTH_GITHUB_CLIENT_SECRET" => Some("x".to_owned()),
                _ => set
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned()),
            }
            .filter(|_| everything)
        });
        assert!(config.is_ok(), "{config:?}");
    }
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    let mut documented = BTreeSet::new();
    for line in page.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        for name in first.split('`').skip(1).step_by(2) {
            documented.insert(name.to_owned());
        }
    }
    // Read by tracing, the healthcheck binary, and the tests.
    for elsewhere in [
        "RUST_LOG",
        "HEALTHCHECK_URL",
        "TEST_DATABASE_URL",
        "TEST_DATABASE",
        "TEST_S3_ENDPOINT",
    ] {
        assert!(
            documented.remove(elsewhere),
            "{elsewhere} is not documented"
        );
    }
    assert_eq!(documented, read.into_inner());
}
