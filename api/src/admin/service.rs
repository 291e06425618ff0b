//! Dashboard sign-in, its sessions, and the first admin's setup link.
//!
//! A dashboard session is an ordinary device session named "Admin
//! dashboard", so everything that ends sessions ends it too: a ban, a
//! password change, signing out everywhere, revoking it from the API. The
//! browser keeps `<session id>.<device secret>` in an HttpOnly cookie; each
//! request checks the secret against the session's stored hash, that the
//! session was used within the idle timeout, and that the account is an
//! enabled admin now, in the database (not as a token once said).

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

use chrono::Utc;
use entity::{enums::UserRole, session, user};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{audit, settings::AdminConfig, traffic::Traffic};
use crate::{
    auth::{
        Auth, AuthSession,
        service::Device,
        tokens::{constant_time_eq, random_token, token_hash},
    },
    backup::service::Backups,
    db::Db,
    error::{AppError, AppResult},
    webhooks::Webhooks,
};

/// The name dashboard sessions carry in an account's list of devices.
pub(crate) const DEVICE_NAME: &str = "Admin dashboard";

/// How stale `last_used_at` may get before a request refreshes it: the
/// idle timeout needs minutes, not a write per page view.
const TOUCH_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

const SIGNED_OUT: &str = "sign in to the dashboard";

pub(crate) struct Dashboard {
    pub(crate) db: Db,
    pub(crate) auth: Arc<Auth>,
    pub(crate) config: AdminConfig,
    /// SQLite snapshots, the same the `createBackup` mutation takes.
    pub(crate) backups: Arc<Backups>,
    /// Told when a delivery is queued again, so it is sent now.
    pub(crate) webhooks: Arc<Webhooks>,
    /// The first-admin link's token hash and expiry, while it is unspent.
    setup: Mutex<Option<(String, Instant)>>,
    pub(crate) started: Instant,
    /// Request and error rates, when metrics are on.
    pub(crate) traffic: Traffic,
}

/// A signed-in admin, for one request.
pub(crate) struct Admin {
    pub(crate) session: AuthSession,
    pub(crate) user: user::Model,
    /// What this session's forms must send back.
    pub(crate) csrf: String,
    pub(crate) ip: IpAddr,
}

impl Admin {
    /// `FORBIDDEN` unless `sent` is this session's CSRF token.
    pub(crate) fn check_csrf(&self, sent: &str) -> AppResult<()> {
        if same(sent, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Writes what this admin just did to the audit log.
    pub(crate) async fn audit(
        &self,
        db: &Db,
        action: &'static str,
        target: Option<(&'static str, String)>,
        detail: String,
    ) -> AppResult<()> {
        audit::record(
            db,
            audit::Entry {
                actor: Some((self.user.id, self.user.username.clone())),
                action,
                target,
                detail,
                ip: self.ip,
            },
        )
        .await
    }
}

impl Dashboard {
    pub(crate) fn new(
        db: Db,
        auth: Arc<Auth>,
        config: AdminConfig,
        backups: Arc<Backups>,
        webhooks: Arc<Webhooks>,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Self {
        let started = Instant::now();
        Self {
            db,
            auth,
            config,
            backups,
            webhooks,
            setup: Mutex::new(None),
            started,
            traffic: Traffic::new(metrics, started),
        }
    }

    /// At start-up: when no account is an admin, a token for a one-time
    /// link that makes the first one.
    pub(crate) async fn issue_setup_token(&self) -> AppResult<Option<String>> {
        if self.admins().await? > 0 {
            return Ok(None);
        }
        let token = random_token();
        let expires = Instant::now() + self.config.setup_ttl;
        *self.setup.lock().expect("setup lock") = Some((token_hash(&token), expires));
        Ok(Some(token))
    }

    /// Whether `token` would open the setup page now.
    pub(crate) fn setup_token_valid(&self, token: &str) -> bool {
        self.setup
            .lock()
            .expect("setup lock")
            .as_ref()
            .is_some_and(|(hash, expires)| {
                same(&token_hash(token), hash) && Instant::now() < *expires
            })
    }

    /// Spends the setup link and makes the first admin, then signs them in.
    /// Returns the cookie value, like [`Dashboard::sign_in`].
    pub(crate) async fn complete_setup(
        &self,
        token: &str,
        email: &str,
        username: &str,
        password: &str,
        ip: IpAddr,
    ) -> AppResult<String> {
        // Whoever presents the token first spends it, right or wrong form.
        let spent = {
            let mut setup = self.setup.lock().expect("setup lock");
            match setup.as_ref() {
                Some((hash, expires)) if same(&token_hash(token), hash) => {
                    let live = Instant::now() < *expires;
                    *setup = None;
                    live
                }
                _ => false,
            }
        };
        if !spent {
            return Err(AppError::Refused(
                "this setup link is used or expired; restart the server for a new one, or run `api admin create`",
            ));
        }
        if self.admins().await? > 0 {
            return Err(AppError::Refused("an admin already exists: sign in"));
        }
        if crate::auth::service::find_by_login(&self.db, email)
            .await?
            .is_some()
        {
            return Err(AppError::bad_input(
                "email",
                "an account has this email; promote it with `api admin create --email`",
            ));
        }
        crate::auth::service::ensure_admin(&self.db, email, Some(username), Some(password)).await?;
        let cookie = self.sign_in(email, password, ip).await?;
        audit::record(
            &self.db,
            audit::Entry {
                actor: None,
                action: "admin.setup",
                target: None,
                detail: format!("the setup link made the first admin, {username}"),
                ip,
            },
        )
        .await?;
        Ok(cookie)
    }

    async fn admins(&self) -> AppResult<u64> {
        Ok(user::Entity::find()
            .filter(user::Column::Role.eq(UserRole::Admin))
            .count(&self.db)
            .await?)
    }

    /// Checks the password (under the API's sign-in limits) and that the
    /// account is an admin, then starts a dashboard session. Returns the
    /// cookie value.
    pub(crate) async fn sign_in(
        &self,
        login: &str,
        password: &str,
        ip: IpAddr,
    ) -> AppResult<String> {
        let (user, rehash) = self.auth.check_credentials(login, password, ip).await?;
        self.open_session(user, rehash, ip, "signed in to the dashboard".to_owned())
            .await
    }

    /// Starts a dashboard session for `user` if they are an admin, and
    /// records it. Returns the cookie value.
    pub(super) async fn open_session(
        &self,
        user: user::Model,
        rehash: Option<String>,
        ip: IpAddr,
        detail: String,
    ) -> AppResult<String> {
        if user.role != UserRole::Admin {
            return Err(AppError::Forbidden);
        }
        let secret = random_token();
        let device = Device {
            name: DEVICE_NAME.to_owned(),
            secret: secret.clone(),
        };
        let (id, username) = (user.id, user.username.clone());
        let tokens = self.auth.start_session(user, &device, rehash).await?;
        audit::record(
            &self.db,
            audit::Entry {
                actor: Some((id, username)),
                action: "admin.sign_in",
                target: Some(("session", tokens.session_id.to_string())),
                detail,
                ip,
            },
        )
        .await?;
        Ok(format!("{}.{secret}", tokens.session_id))
    }

    /// The admin a cookie belongs to. `UNAUTHENTICATED` when it names no
    /// live, recently used dashboard session of an enabled account;
    /// `FORBIDDEN` when the account is no longer an admin.
    pub(crate) async fn authenticate(&self, cookie: &str, ip: IpAddr) -> AppResult<Admin> {
        let signed_out = || AppError::Unauthenticated(SIGNED_OUT);
        let (id, secret) = cookie.split_once('.').ok_or_else(signed_out)?;
        let id: Uuid = id.parse().map_err(|_| signed_out())?;
        let (session, user) = session::Entity::find_by_id(id)
            .find_also_related(user::Entity)
            .one(&self.db)
            .await?
            .and_then(|(s, u)| Some((s, u?)))
            .ok_or_else(signed_out)?;
        let now = Utc::now();
        let idle =
            chrono::TimeDelta::from_std(self.config.idle_timeout).unwrap_or(chrono::TimeDelta::MAX);
        let live = same(&token_hash(secret), &session.device_secret_hash)
            && session.device_name == DEVICE_NAME
            && session.revoked_at.is_none()
            && now < session.expires_at
            && now - session.last_used_at < idle
            && user.disabled_at.is_none();
        if !live {
            return Err(signed_out());
        }
        if user.role != UserRole::Admin {
            return Err(AppError::Forbidden);
        }
        if now - session.last_used_at > TOUCH_AFTER {
            self.db
                .statement(move |tx| {
                    Box::pin(async move {
                        session::Entity::update_many()
                            .col_expr(session::Column::LastUsedAt, Expr::value(now))
                            .filter(session::Column::Id.eq(id))
                            .exec(&tx)
                            .await?;
                        Ok(())
                    })
                })
                .await?;
        }
        Ok(Admin {
            session: AuthSession {
                user_id: user.id,
                session_id: session.id,
                role: user.role,
            },
            user,
            csrf: csrf_token(secret),
            ip,
        })
    }
}

/// A session's CSRF token: derived from its secret, so nothing more is
/// stored, and useless without the cookie it came from.
fn csrf_token(secret: &str) -> String {
    hex::encode(Sha256::digest(
        format!("hearth-admin-csrf:{secret}").as_bytes(),
    ))
}

/// Equal strings, compared in time that does not depend on where they
/// differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    constant_time_eq(a.as_bytes(), b.as_bytes())
}
