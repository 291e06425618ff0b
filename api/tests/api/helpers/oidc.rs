//! A real OpenID provider for the social sign-in tests: `oidc-provider.mjs`
//! under Node, serving the `oidc-provider` package (authorization code flow
//! with PKCE) at `issuer`, a minimal issuer whose keys the tests control at
//! `native_issuer()`, and a GitHub stand-in at `github_base()`. The npm
//! package is installed once per machine under `~/.cache/hearth-node`.

use std::{
    fs::{self, File},
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};

/// The npm package the script runs on.
const PACKAGE: &str = "oidc-provider@9.13.3";

/// A client registered at the provider (and at the GitHub stand-in).
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
    pub redirect_uris: Vec<String>,
}

/// The person signing in at the provider.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub picture: Option<String>,
}

impl ProviderUser {
    /// A verified user with a subject and a name derived from `email`, so
    /// the same address is the same account at the provider.
    pub fn new(email: &str) -> Self {
        let local = email.split('@').next().unwrap_or(email);
        let mut chars = local.chars();
        let name = chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        Self {
            sub: format!("sub-{email}"),
            email: email.to_owned(),
            email_verified: true,
            name,
            picture: None,
        }
    }
}

/// The running provider; the Node process ends when this is dropped (and
/// when the test process dies, through its closed stdin).
pub struct OidcProvider {
    /// `http://127.0.0.1:PORT`, oidc-provider's issuer.
    pub issuer: String,
    http: reqwest::Client,
    stderr: Arc<Mutex<String>>,
    // Held open: the script exits when its stdin closes.
    _child: Child,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl OidcProvider {
    /// Starts a provider knowing `clients`, installing the npm package first
    /// if this machine does not have it yet.
    pub async fn start(clients: &[Client]) -> Self {
        let modules = tokio::task::spawn_blocking(install)
            .await
            .expect("npm install task");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/api/helpers/oidc-provider.mjs"
        );
        let clients: Vec<Value> = clients
            .iter()
            .map(|c| {
                json!({
                    "client_id": c.id,
                    "client_secret": c.secret,
                    "redirect_uris": c.redirect_uris,
                })
            })
            .collect();
        let mut child = Command::new("node")
            .arg(script)
            .arg(json!({ "clients": clients }).to_string())
            .env("OIDC_MODULES", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("`node` starts (Node.js 20 or later must be on PATH)");

        // Collected for failure messages; read continuously so the script
        // never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer).await
                && n > 0
            {
                sink.lock()
                    .expect("stderr buffer")
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });

        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line()).await;
        let Ok(Ok(Some(line))) = line else {
            // Let the process finish writing why it failed.
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let stderr = stderr.lock().expect("stderr buffer").clone();
            panic!("the OpenID provider ({script}) did not report ready within 20 s:\n{stderr}");
        };
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider's ready line {line:?}: {e}"));
        let issuer = ready["issuer"]
            .as_str()
            .expect("issuer in the ready line")
            .to_owned();
        Self {
            issuer,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            stderr,
            _child: child,
            _stdout: stdout,
        }
    }

    /// The issuer whose keys the tests rotate: `issuer + "/native"`.
    pub fn native_issuer(&self) -> String {
        format!("{}/native", self.issuer)
    }

    /// The GitHub stand-in's web base (`/login/oauth/...`); its REST API is
    /// at `github_base() + "/api"`.
    pub fn github_base(&self) -> String {
        format!("{}/github", self.issuer)
    }

    /// Follows `authorization_url` as a browser would, signing in as `user`
    /// and consenting to everything asked; `Ok` with the URL the browser is
    /// sent back to (code and state in it), or `Err` with the provider's
    /// refusal (an error page, or a redirect carrying `error=`).
    pub async fn authorize(
        &self,
        authorization_url: &str,
        user: &ProviderUser,
    ) -> Result<String, String> {
        let (status, body) = self
            .control(
                "/test/authorize",
                &json!({
                    "url": authorization_url,
                    "user": {
                        "sub": user.sub,
                        "email": user.email,
                        "email_verified": user.email_verified,
                        "name": user.name,
                        "picture": user.picture,
                    },
                }),
            )
            .await;
        match (status, body["redirect"].as_str(), body["error"].as_str()) {
            (200, Some(redirect), _) => Ok(redirect.to_owned()),
            (400, _, Some(error)) => Err(error.to_owned()),
            _ => panic!("/test/authorize answered {status}: {body}"),
        }
    }

    /// A JWT over `claims`, taken as given. `keys`: "provider" or "native";
    /// `alg`: "RS256", "none", or "HS256-public" (HMAC keyed with the
    /// public key's PEM, the algorithm confusion attack).
    pub async fn sign(&self, keys: &str, alg: &str, claims: Value) -> String {
        self.sign_token(json!({ "keys": keys, "alg": alg, "claims": claims }))
            .await
    }

    /// As `sign`, with `kid` in the header instead of the key's own.
    pub async fn sign_with_kid(&self, keys: &str, alg: &str, kid: &str, claims: Value) -> String {
        self.sign_token(json!({ "keys": keys, "alg": alg, "kid": kid, "claims": claims }))
            .await
    }

    async fn sign_token(&self, request: Value) -> String {
        let (status, body) = self.control("/test/sign", &request).await;
        assert_eq!(status, 200, "/test/sign {request}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Replaces the native issuer's key; its JWKS then serves only the new
    /// one. Returns the new `kid`.
    pub async fn rotate_native_keys(&self) -> String {
        let (status, body) = self.control("/test/native/rotate", &json!({})).await;
        assert_eq!(status, 200, "/test/native/rotate: {body}");
        body["kid"].as_str().expect("kid").to_owned()
    }

    /// How many times the native JWKS has been fetched.
    pub async fn native_jwks_fetches(&self) -> u64 {
        let body: Value = self
            .http
            .get(format!("{}/test/native/jwks-fetches", self.issuer))
            .send()
            .await
            .expect("provider reachable")
            .json()
            .await
            .expect("JSON body");
        body["count"].as_u64().expect("count")
    }

    /// The GitHub account the next authorizations at the stand-in sign in:
    /// `{"id", "login", "name", "avatar_url", "emails": [{"email",
    /// "primary", "verified"}]}` (an `"email"` field sets `/user`'s public
    /// email; otherwise it is the one with `"visibility": "public"`, if any).
    pub async fn set_github_user(&self, user: Value) {
        let (status, body) = self.control("/test/github/user", &user).await;
        assert_eq!(status, 200, "/test/github/user: {body}");
    }

    /// Delays every answer of the native issuer by `ms` (0: no delay).
    pub async fn slow_native(&self, ms: u64) {
        let (status, body) = self.control("/test/slow", &json!({ "ms": ms })).await;
        assert_eq!(status, 200, "/test/slow: {body}");
    }

    async fn control(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.issuer))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}\n{}", self.stderr()));
        let status = response.status().as_u16();
        let body = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}\n{}", self.stderr()));
        (status, body)
    }

    /// What the script has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }
}

/// Installs the npm package into `~/.cache/hearth-node/oidc-provider` unless
/// there already; returns its `node_modules`. Test processes and threads
/// race here, hence the lock and the second look after taking it.
fn install() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let dir = PathBuf::from(home).join(".cache/hearth-node/oidc-provider");
    let modules = dir.join("node_modules");
    let stamp = dir.join(".installed");
    let installed = || fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == PACKAGE);
    if installed() {
        return modules;
    }
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let lock_path = dir.join(".lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("open {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", lock_path.display()));
    if installed() {
        return modules;
    }
    let command = format!(
        "npm install --no-save --no-audit --no-fund --loglevel=error --prefix {} {PACKAGE}",
        dir.display()
    );
    let output = std::process::Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .arg(PACKAGE)
        .output()
        .unwrap_or_else(|e| panic!("`{command}` could not run (is npm on PATH?): {e}"));
    assert!(
        output.status.success(),
        "`{command}` failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    fs::write(&stamp, PACKAGE).unwrap_or_else(|e| panic!("write {}: {e}", stamp.display()));
    modules
}
