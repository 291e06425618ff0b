//! Passwords: the length and blocklist policy (NIST 800-63B), argon2id
//! hashing with OWASP's parameters, off the async worker threads.

use std::{
    collections::HashSet,
    sync::{
        Arc, LazyLock, Mutex,
        mpsc::{self, TryRecvError},
    },
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher as _, PasswordVerifier as _, phc::PasswordHash},
};
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};

pub const MIN_CHARS: usize = 8;
/// Long passphrases are welcome; the cap only stops hash-flooding.
pub const MAX_CHARS: usize = 256;

/// The most common passwords of at least 8 characters: the first 10,000
/// entries of the xato.net leak list as shipped in zxcvbn's frequency lists
/// (MIT), filtered to length 8 and over.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// Checks a new password against the policy; `field` names the argument.
pub fn check_policy(password: &str, field: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(AppError::bad_input(
            field,
            format!("must be at least {MIN_CHARS} characters"),
        ));
    }
    if chars > MAX_CHARS {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    if COMMON.contains(password.to_lowercase().as_str()) {
        return Err(AppError::bad_input(
            field,
            "is one of the most common passwords; choose another",
        ));
    }
    Ok(())
}

/// Verified when the account does not exist, so both paths cost one
/// argon2id verification with the same parameters (a test keeps them equal
/// to what [`hash_now`] produces). The password was random and discarded.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$27bFAmBnXZ6Evmx9sv5IDg$vUmMMWdO4DQM2K/DH8Eal2G72GIw5T+VH7Li2Q5DF5U";

/// Hashes and verifies on a few threads of its own (one per core), never on
/// the async workers: each hash takes 19 MiB and tens of milliseconds of
/// CPU. A burst of sign-ins queues here rather than starving the workers.
/// Long-lived threads also bound the memory: on tokio's blocking pool the
/// hashes landed on ever new threads, each of which kept its own 19 MiB
/// arena, and RSS under a sign-in burst reached 100–200 MiB.
#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Hasher {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for n in 0..cores.max(2) {
            let queue = queue.clone();
            // The threads end when the last `Hasher` clone is dropped.
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // Another thread holding the queue is waiting on it:
                        // nothing is queued.
                        let queued = queue.try_lock().map(|jobs| jobs.try_recv());
                        let job = match queued {
                            Ok(Ok(job)) => job,
                            Ok(Err(TryRecvError::Disconnected)) => break,
                            Ok(Err(TryRecvError::Empty)) | Err(_) => {
                                // Idle: hand the last hash's memory back
                                // before waiting, so an idle server does not
                                // keep 19 MiB per thread.
                                // SAFETY: takes no arguments and only frees
                                // memory this thread's heap no longer uses.
                                #[allow(unsafe_code)]
                                unsafe {
                                    libmimalloc_sys::mi_collect(true);
                                }
                                match queue
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                                    .recv()
                                {
                                    Ok(job) => job,
                                    Err(_) => break,
                                }
                            }
                        };
                        // A panic fails that one request (its answer channel
                        // is dropped), not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(err) => tracing::error!(error = %err, "cannot start a password hashing thread"),
            }
        }
        if started == 0 {
            // With no thread to run them, hashes fail at once instead of
            // waiting forever.
            return Self {
                jobs: mpsc::channel().0,
            };
        }
        Self { jobs }
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let password = password.to_owned();
        self.run(move || hash_now(&password)).await
    }

    /// Whether `password` matches `hash`; `None` verifies against the dummy
    /// hash and always answers false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> AppResult<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(DUMMY_HASH).to_owned();
        let password = password.to_owned();
        let matches = self.run(move || Ok(verify_now(&password, &hash))).await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|_| {
                AppError::Internal(anyhow::anyhow!("password hashing threads are gone"))
            })?;
        answered.await.map_err(|_| {
            AppError::Internal(anyhow::anyhow!(
                "password hashing failed (the hash panicked)"
            ))
        })?
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

/// The algorithm and parameters part of a PHC string (`$argon2id$v=19$m=...`).
fn parameters(hash: &str) -> &str {
    hash.rsplitn(3, '$').nth(2).unwrap_or_default()
}

/// Whether a stored hash was made with other (older, weaker) parameters
/// than new hashes get; sign-in then re-hashes the password.
pub fn needs_rehash(hash: &str) -> bool {
    parameters(hash) != parameters(DUMMY_HASH)
}

/// argon2id, m=19456 KiB, t=2, p=1 (the crate's defaults are OWASP's).
pub fn hash_now(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2: {e}")))
}

fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bounds_and_blocklist() {
        assert!(check_policy("seven77", "password").is_err());
        assert!(check_policy("eight888", "password").is_ok());
        assert!(check_policy(&"x".repeat(64), "password").is_ok());
        assert!(check_policy(&"é".repeat(MAX_CHARS), "password").is_ok());
        assert!(check_policy(&"x".repeat(MAX_CHARS + 1), "password").is_err());
        for common in ["password", "baseball", "qwertyuiop", "Sunshine", "iloveyou"] {
            assert!(check_policy(common, "password").is_err(), "{common}");
        }
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash_now("correct horse battery").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_now("correct horse battery", &hash));
        assert!(!verify_now("correct horse battery!", &hash));
        assert!(!verify_now("anything", "not a hash"));
    }

    /// Structurally: the unknown-account path verifies a real argon2id
    /// hash with the very parameters real hashes get.
    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let fresh = hash_now("anything at all").unwrap();
        assert_eq!(parameters(DUMMY_HASH), parameters(&fresh));
        assert_eq!(parameters(DUMMY_HASH), "$argon2id$v=19$m=19456,t=2,p=1");
        assert!(!needs_rehash(&fresh));
        assert!(needs_rehash(
            "$argon2id$v=19$m=4096,t=3,p=1$27bFAmBnXZ6Evmx9sv5IDg$vUmMMWdO4DQM2K/DH8Eal2G72GIw5T+VH7Li2Q5DF5U"
        ));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_now("anything at all", DUMMY_HASH));
    }

    /// Every hash runs on the hasher's own threads, however many arrive at
    /// once, so at most that many 19 MiB arenas ever exist; and a panic in
    /// one fails that request, not the threads.
    #[tokio::test]
    async fn hashing_stays_on_a_fixed_set_of_threads() {
        let hasher = Hasher::new();
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(
            hasher
                .verify("correct horse battery", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse battery", Some(&hash))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("correct horse battery", None).await.unwrap());

        let panicked = hasher
            .run(|| -> AppResult<()> { panic!("a hash that panics") })
            .await;
        assert!(matches!(panicked, Err(AppError::Internal(_))));

        let names = futures_util::future::join_all(
            (0..12).map(|_| hasher.run(|| Ok(std::thread::current().name().map(str::to_owned)))),
        )
        .await;
        let names: HashSet<String> = names
            .into_iter()
            .map(|name| name.unwrap().expect("a named thread"))
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(2, std::num::NonZero::get)
            .max(2);
        assert!(names.len() <= threads, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("argon2-")), "{names:?}");
    }
}
