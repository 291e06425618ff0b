//! Accounts and device sessions: the rules and the SQL.
//!
//! - A session is one device. Its refresh tokens form one family: every
//!   token ever issued is kept (by hash) with the time it was rotated, so a
//!   replayed old token is recognised and ends the whole session.
//! - Refresh also needs the device secret sent at sign-in (kept as a hash),
//!   so a leaked refresh token alone is useless.
//! - Access tokens are trusted until they expire for ordinary operations;
//!   sensitive ones ([`Auth::live_session`]) check the session in the
//!   database, so a revoked session's token stops working there at once.

use std::{net::IpAddr, path::Path, sync::Arc};

use chrono::{DateTime, Utc};
use entity::{
    email_code,
    enums::{TokenPurpose, UserRole},
    oauth_flow, one_time_token, refresh_token, session, user,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{
    password::{self, Hasher},
    rate_limit::{Action, RateLimits},
    revocations::Ended,
    tokens::{AccessTokens, random_token, token_hash},
    viewer::AuthSession,
};
use crate::{
    auth::settings::AuthConfig,
    config::Config,
    db::Db,
    error::{AppError, AppResult},
    events::{self, Event},
    hooks::Hooks,
    mail::{Email, Mailer},
};

const BAD_CREDENTIALS: &str = "invalid email, username or password";
const BAD_REFRESH: &str = "invalid refresh token or device secret";
const SESSION_ENDED: &str = "this session has ended; sign in again";
const JUST_ROTATED: &str =
    "this refresh token was just used by another request; use the newest one";

/// Everything accounts and sessions need, shared by all requests.
pub struct Auth {
    pub db: Db,
    pub tokens: AccessTokens,
    pub hasher: Hasher,
    pub limits: RateLimits,
    pub mailer: Mailer,
    pub config: AuthConfig,
    pub link_base_url: Option<String>,
    /// The configured sign-in providers.
    pub social: super::social::Providers,
    /// An application's before-hooks: accounts made by providers and email
    /// codes pass the same `Change::Account` check as sign-ups.
    pub(crate) hooks: Arc<Hooks>,
}

/// The device a session belongs to.
#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    /// A random value the app generated once and keeps in secure storage.
    pub secret: String,
}

pub struct NewAccount {
    pub email: String,
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    pub device: Device,
}

/// A device session not yet stored: its row and first refresh token.
struct NewSession {
    row: session::ActiveModel,
    refresh_token: String,
    now: DateTime<Utc>,
}

impl NewSession {
    /// Stores the session and its first refresh token; returns the
    /// session's id and the token.
    async fn insert(self, db: &impl ConnectionTrait) -> AppResult<(Uuid, String)> {
        let session = self.row.insert(db).await?;
        insert_refresh_token(db, session.id, &self.refresh_token, self.now).await?;
        Ok((session.id, self.refresh_token))
    }
}

/// What sign-in, sign-up and refresh hand the client.
pub struct Tokens {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub session_id: Uuid,
    pub user: user::Model,
}

impl Auth {
    pub fn new(db: Db, config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            limits: RateLimits::new(&config.auth.rate_limit, &db),
            db,
            tokens: AccessTokens::new(&config.auth, Path::new(&config.data_dir))?,
            hasher: Hasher::new(),
            mailer: Mailer::new(&config.mail, &config.data_dir)?,
            config: config.auth.clone(),
            link_base_url: config.mail.link_base_url.clone(),
            social: super::social::Providers::new(
                &config.auth.social.providers,
                config.auth.social.provider_timeout,
            )?,
            hooks: Arc::new(Hooks::default()),
        })
    }

    /// The application's before-hooks, for the accounts this makes.
    pub(crate) fn with_hooks(mut self, hooks: Arc<Hooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Creates an account. Without email confirmation this device is signed
    /// in at once (`Some`), and a registered email is `CONFLICT`; that answer
    /// tells who has an account, so it spends a sign-in attempt of the
    /// address, as a sign-in probe would. With `confirm_email` the answer is
    /// `None` for new and registered emails alike, after the same work: a
    /// new address gets a confirmation link, a registered one a notice (or a
    /// fresh link, if it was never confirmed).
    pub async fn sign_up(&self, input: NewAccount, ip: IpAddr) -> AppResult<Option<Tokens>> {
        self.limits.check_ip(Action::SignUp, ip).await?;
        let email = check_email(&input.email)?;
        let username = check_username(&input.username)?;
        let display_name = match input.display_name.as_deref().map(str::trim) {
            None | Some("") => username.clone(),
            Some(name) if name.chars().count() > 64 => {
                return Err(AppError::bad_input(
                    "displayName",
                    "must be at most 64 characters",
                ));
            }
            Some(name) => name.to_owned(),
        };
        password::check_policy(&input.password, "password")?;
        let lowered = input.password.to_lowercase();
        if lowered == username.to_lowercase() || lowered == email.to_lowercase() {
            return Err(AppError::bad_input(
                "password",
                "must not be your email or username",
            ));
        }
        check_device(&input.device)?;
        // Usernames are public, so a taken one may be said; it is checked
        // first so that the answer for it never depends on the email.
        if find_by_login(&self.db, &username).await?.is_some() {
            return Err(taken("username"));
        }
        let confirm = self.config.confirm_email;
        if let Some(owner) = find_by_login(&self.db, &email).await? {
            if !confirm {
                self.limits.check_ip(Action::SignIn, ip).await?;
                return Err(taken("email"));
            }
            // The same cost as creating an account, so timing tells nothing.
            self.hasher.hash(&input.password).await?;
            self.notify_registered(&owner).await?;
            return Ok(None);
        }

        let password_hash = self.hasher.hash(&input.password).await?;
        let now = crate::db::now();
        let user_id = Uuid::now_v7();
        let row = user::ActiveModel {
            id: Set(user_id),
            email: Set(email),
            username: Set(username),
            display_name: Set(display_name),
            bio: Set(String::new()),
            avatar_file_id: Set(None),
            role: Set(UserRole::User),
            password_hash: Set(password_hash),
            email_verified_at: Set(None),
            disabled_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let session = (!confirm).then(|| self.new_session(user_id, &input.device));
        // The account and its first session commit together: a failure in
        // between must not leave an account the client was told failed.
        let inserted = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    let user = row.insert(&tx).await.map_err(unique_violation)?;
                    let session = match session {
                        Some(session) => Some(session.insert(&tx).await?),
                        None => None,
                    };
                    Ok((user, session))
                })
            })
            .await;
        let (user, session) = match inserted {
            Ok(inserted) => inserted,
            // A racing sign-up took the email: answer as for any registered one.
            Err(AppError::Conflict { field, .. }) if confirm && field == "email" => {
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        self.send_verification(&user).await?;
        match session {
            Some((session_id, refresh_token)) => {
                self.tokens_for(user, session_id, refresh_token).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Someone signed up with a registered email: its owner hears of it. An
    /// address never confirmed gets a new confirmation link instead (signing
    /// up again is how a lost link is replaced).
    async fn notify_registered(&self, owner: &user::Model) -> AppResult<()> {
        if owner.email_verified_at.is_none() {
            return self.send_verification(owner).await;
        }
        self.mailer.spawn_send(Email {
            to: owner.email.clone(),
            subject: "You already have an account".to_owned(),
            body: format!(
                "Hello {},\n\nSomeone, maybe you, tried to create an account with this email address. You already have one: sign in, or reset your password if you forgot it.\n\nIf it was not you, ignore this message: nothing has changed.\n",
                owner.display_name
            ),
        });
        Ok(())
    }

    /// Sign in with an email or username. An unknown account costs the same
    /// argon2 verification as a wrong password and gets the same answer.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
        device: Device,
        ip: IpAddr,
    ) -> AppResult<Tokens> {
        check_device(&device)?;
        let (user, rehash) = self.check_credentials(login, password, ip).await?;
        self.start_session(user, &device, rehash).await
    }

    /// The account `login` and `password` name, under the sign-in rate
    /// limits, with the same answers sign-in gives (the admin dashboard
    /// checks the role before it starts a session). Also a new hash of the
    /// password when the stored one uses older parameters.
    pub(crate) async fn check_credentials(
        &self,
        login: &str,
        password: &str,
        ip: IpAddr,
    ) -> AppResult<(user::Model, Option<String>)> {
        self.limits.check_ip(Action::SignIn, ip).await?;
        if password.chars().count() > password::MAX_CHARS {
            return Err(AppError::bad_input(
                "password",
                format!("must be at most {} characters", password::MAX_CHARS),
            ));
        }
        let user = find_by_login(&self.db, login.trim()).await?;
        // One budget per account, however it is named: its email, its
        // username, in any case or spacing. A login that names no account
        // has a budget of its own, so limits do not tell who exists.
        let account = user
            .as_ref()
            .map_or_else(|| login.to_owned(), |u| u.id.to_string());
        self.limits.check_account(Action::SignIn, &account).await?;
        // An account without a password (made by a provider or an email
        // code) is checked against the dummy hash, like an unknown one.
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.as_str())
            .filter(|h| !h.is_empty());
        if !self.hasher.verify(password, hash).await? {
            return Err(AppError::Unauthenticated(BAD_CREDENTIALS));
        }
        let user = user.ok_or(AppError::Unauthenticated(BAD_CREDENTIALS))?;
        if user.disabled_at.is_some() {
            return Err(AppError::Unauthenticated("this account is disabled"));
        }
        if self.config.confirm_email && user.email_verified_at.is_none() {
            return Err(AppError::Refused(
                "confirm your email address first: follow the link we sent (signing up again sends a new one)",
            ));
        }
        // Upgrade hashes made with older parameters while the password is
        // at hand.
        let rehash = if password::needs_rehash(&user.password_hash) {
            Some(self.hasher.hash(password).await?)
        } else {
            None
        };
        Ok((user, rehash))
    }

    /// Signs `user` in on `device` (and stores `rehash` as their password
    /// hash, in the same write).
    pub(crate) async fn start_session(
        &self,
        user: user::Model,
        device: &Device,
        rehash: Option<String>,
    ) -> AppResult<Tokens> {
        let session = self.new_session(user.id, device);
        let user_id = user.id;
        let (session_id, refresh_token) = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    if let Some(hash) = rehash {
                        set_password(&tx, user_id, hash).await?;
                    }
                    session.insert(&tx).await
                })
            })
            .await?;
        self.tokens_for(user, session_id, refresh_token)
    }

    /// A new device session for `user_id`, ready to insert.
    fn new_session(&self, user_id: Uuid, device: &Device) -> NewSession {
        let now = Utc::now();
        NewSession {
            row: session::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(user_id),
                device_name: Set(device.name.trim().to_owned()),
                device_secret_hash: Set(token_hash(&device.secret)),
                created_at: Set(now),
                last_used_at: Set(now),
                expires_at: Set(now + self.config.session_max_age),
                revoked_at: Set(None),
            },
            refresh_token: random_token(),
            now,
        }
    }

    fn tokens_for(
        &self,
        user: user::Model,
        session_id: Uuid,
        refresh_token: String,
    ) -> AppResult<Tokens> {
        let (access_token, access_token_expires_at) = self
            .tokens
            .issue(user.id, session_id, user.role)
            .map_err(AppError::Internal)?;
        Ok(Tokens {
            access_token,
            access_token_expires_at,
            refresh_token,
            session_id,
            user,
        })
    }

    /// Exchanges a refresh token (and the device secret) for new tokens.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        device_secret: &str,
        ip: IpAddr,
    ) -> AppResult<Tokens> {
        self.limits.check_ip(Action::Refresh, ip).await?;
        let Some((token, Some(session))) = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(token_hash(refresh_token)))
            .find_also_related(session::Entity)
            .one(&self.db)
            .await?
        else {
            return Err(AppError::Unauthenticated(BAD_REFRESH));
        };
        // A wrong secret changes nothing and spends nothing of the session's
        // own budget: whoever holds a leaked token without the secret can
        // neither end the owner's session nor rate-limit its refreshes. Such
        // attempts count against their address (above) only.
        if token_hash(device_secret) != session.device_secret_hash {
            return Err(AppError::Unauthenticated(BAD_REFRESH));
        }
        self.limits
            .check_account(Action::Refresh, &session.id.to_string())
            .await?;
        let now = Utc::now();
        if session.revoked_at.is_some()
            || now >= session.expires_at
            || now >= session.last_used_at + self.config.refresh_idle_ttl
        {
            return Err(AppError::Unauthenticated(SESSION_ENDED));
        }
        if let Some(rotated_at) = token.rotated_at {
            return Err(self.replayed(&session, rotated_at, now).await?);
        }
        let Some(user) = user::Entity::find_by_id(session.user_id)
            .one(&self.db)
            .await?
            .filter(|u| u.disabled_at.is_none())
        else {
            return Err(AppError::Unauthenticated(SESSION_ENDED));
        };

        let next = random_token();
        let (token_id, session_id, new_token) = (token.id, session.id, next.clone());
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    // Only one of two racing refreshes can rotate the token.
                    let rotated = refresh_token::Entity::update_many()
                        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
                        .filter(refresh_token::Column::Id.eq(token_id))
                        .filter(refresh_token::Column::RotatedAt.is_null())
                        .exec(&tx)
                        .await?;
                    if rotated.rows_affected != 1 {
                        return Err(AppError::Unauthenticated(JUST_ROTATED));
                    }
                    insert_refresh_token(&tx, session_id, &new_token, now).await?;
                    // A sign-out racing this refresh wins: no token for a
                    // revoked session.
                    let touched = session::Entity::update_many()
                        .col_expr(session::Column::LastUsedAt, Expr::value(now))
                        .filter(session::Column::Id.eq(session_id))
                        .filter(session::Column::RevokedAt.is_null())
                        .exec(&tx)
                        .await?;
                    if touched.rows_affected != 1 {
                        return Err(AppError::Unauthenticated(SESSION_ENDED));
                    }
                    Ok(())
                })
            })
            .await?;
        self.tokens_for(user, session.id, next)
    }

    /// An already-rotated token came back. Within the grace window it is
    /// most likely the same app retrying; after it, someone else has a copy,
    /// so the session (every token of the family) ends.
    async fn replayed(
        &self,
        session: &session::Model,
        rotated_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> AppResult<AppError> {
        if (now - rotated_at).to_std().unwrap_or_default() <= self.config.refresh_reuse_grace {
            return Ok(AppError::Unauthenticated(JUST_ROTATED));
        }
        tracing::warn!(session_id = %session.id, user_id = %session.user_id, "refresh token replayed: session revoked");
        self.revoke(
            session.user_id,
            Condition::all().add(session::Column::Id.eq(session.id)),
            session.user_id,
        )
        .await?;
        Ok(AppError::Unauthenticated(SESSION_ENDED))
    }

    /// The caller's session and account, checked in the database: not
    /// revoked, not expired, account not disabled. Sensitive operations
    /// call this instead of trusting the access token alone.
    pub async fn live_session(
        &self,
        viewer: &AuthSession,
    ) -> AppResult<(session::Model, user::Model)> {
        let found = session::Entity::find_by_id(viewer.session_id)
            .find_also_related(user::Entity)
            .one(&self.db)
            .await?;
        match found {
            Some((session, Some(user)))
                if session.user_id == viewer.user_id
                    && session.revoked_at.is_none()
                    && Utc::now() < session.expires_at
                    && user.disabled_at.is_none() =>
            {
                Ok((session, user))
            }
            _ => Err(AppError::Unauthenticated(SESSION_ENDED)),
        }
    }

    /// Like [`Auth::live_session`], and the account must be an admin now.
    pub async fn require_admin(&self, viewer: &AuthSession) -> AppResult<user::Model> {
        let (_, user) = self.live_session(viewer).await?;
        if user.role != UserRole::Admin {
            return Err(AppError::Forbidden);
        }
        Ok(user)
    }

    pub async fn account(&self, viewer: &AuthSession) -> AppResult<user::Model> {
        user::Entity::find_by_id(viewer.user_id)
            .one(&self.db)
            .await?
            .ok_or(AppError::Unauthenticated(SESSION_ENDED))
    }

    /// The caller's usable sessions, most recently used first.
    pub async fn sessions(&self, viewer: &AuthSession) -> AppResult<Vec<session::Model>> {
        self.sessions_of(viewer.user_id).await
    }

    /// Ends the caller's own session (this device).
    pub async fn sign_out(&self, viewer: &AuthSession) -> AppResult<()> {
        self.revoke(
            viewer.user_id,
            Condition::all().add(session::Column::Id.eq(viewer.session_id)),
            viewer.user_id,
        )
        .await?;
        Ok(())
    }

    /// Ends one of the caller's sessions (another device).
    pub async fn revoke_session(&self, viewer: &AuthSession, session_id: Uuid) -> AppResult<()> {
        self.live_session(viewer).await?;
        let ended = self
            .revoke(
                viewer.user_id,
                Condition::all().add(session::Column::Id.eq(session_id)),
                viewer.user_id,
            )
            .await?;
        if ended == 0 {
            return Err(AppError::NotFound("session"));
        }
        Ok(())
    }

    /// Ends every session of the caller, this one included.
    pub async fn sign_out_everywhere(&self, viewer: &AuthSession) -> AppResult<u64> {
        self.live_session(viewer).await?;
        self.revoke(viewer.user_id, Condition::all(), viewer.user_id)
            .await
    }

    /// Revokes `user`'s live sessions matching `which`; returns how many.
    /// `actor` is who revoked them.
    async fn revoke(&self, user: Uuid, which: Condition, actor: Uuid) -> AppResult<u64> {
        let which = which.add(session::Column::UserId.eq(user));
        let ended = self
            .db
            .transaction(move |tx| Box::pin(async move { revoke(&tx, which, actor).await }))
            .await?;
        Ok(self.ended(ended))
    }

    /// Refuses the ended sessions' tokens in this process at once (other
    /// processes learn of them from the log); returns how many ended.
    fn ended(&self, sessions: Vec<Uuid>) -> u64 {
        let count = sessions.len() as u64;
        if count > 0 {
            self.tokens.revocations().end(Ended::Sessions(sessions));
        }
        count
    }

    /// Changes the password and ends every other session.
    pub async fn change_password(
        &self,
        viewer: &AuthSession,
        current: &str,
        new: &str,
    ) -> AppResult<()> {
        let (_, user) = self.live_session(viewer).await?;
        self.limits
            .check_account(Action::SignIn, &user.id.to_string())
            .await?;
        self.check_current_password(&user, current, "currentPassword")
            .await?;
        password::check_policy(new, "newPassword")?;
        let hash = self.hasher.hash(new).await?;
        let (user_id, this_session) = (user.id, viewer.session_id);
        let ended = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    set_password(&tx, user_id, hash).await?;
                    revoke(
                        &tx,
                        Condition::all()
                            .add(session::Column::UserId.eq(user_id))
                            .add(session::Column::Id.ne(this_session)),
                        user_id,
                    )
                    .await
                })
            })
            .await?;
        self.ended(ended);
        Ok(())
    }

    async fn check_current_password(
        &self,
        user: &user::Model,
        password: &str,
        field: &str,
    ) -> AppResult<()> {
        if user.password_hash.is_empty() {
            return Err(AppError::bad_input(
                field,
                "this account has no password yet: set one with setPassword first",
            ));
        }
        if password.chars().count() > password::MAX_CHARS
            || !self
                .hasher
                .verify(password, Some(&user.password_hash))
                .await?
        {
            return Err(AppError::bad_input(field, "is not the current password"));
        }
        Ok(())
    }

    /// Deletes the caller's account and everything it owns. Returns the
    /// storage keys of its files (their rows cascade), for the caller to
    /// delete once this has committed.
    pub async fn delete_account(
        &self,
        viewer: &AuthSession,
        password: &str,
    ) -> AppResult<Vec<String>> {
        let (_, user) = self.live_session(viewer).await?;
        self.limits
            .check_account(Action::SignIn, &user.id.to_string())
            .await?;
        self.check_current_password(&user, password, "password")
            .await?;
        self.remove_account(user.id, user.id).await
    }

    /// Admin: deletes another account and everything it owns, as
    /// [`Auth::delete_account`] does. Admins delete their own account with
    /// their password, through `deleteAccount`.
    pub async fn delete_account_as_admin(
        &self,
        admin: &AuthSession,
        user_id: Uuid,
    ) -> AppResult<Vec<String>> {
        self.require_admin(admin).await?;
        if user_id == admin.user_id {
            return Err(AppError::bad_input(
                "id",
                "admins delete their own account with deleteAccount and their password",
            ));
        }
        self.remove_account(user_id, admin.user_id).await
    }

    /// Deletes the account with what cascades from it and records the
    /// event; returns its files' storage keys.
    async fn remove_account(&self, user_id: Uuid, actor: Uuid) -> AppResult<Vec<String>> {
        let keys = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    if user::Entity::find_by_id(user_id).one(&tx).await?.is_none() {
                        return Err(AppError::NotFound("user"));
                    }
                    let keys = crate::files::service::owned_keys(&tx, user_id).await?;
                    user::Entity::delete_by_id(user_id).exec(&tx).await?;
                    let event = Event::AccountDeleted { user: user_id };
                    events::record(&tx, Some(actor), &event).await?;
                    Ok(keys)
                })
            })
            .await?;
        self.tokens.revocations().end(Ended::Account(user_id));
        tracing::info!(%user_id, by = %actor, "account deleted");
        Ok(keys)
    }

    /// Sends the caller a fresh email verification link.
    pub async fn request_email_verification(&self, viewer: &AuthSession) -> AppResult<()> {
        let (_, user) = self.live_session(viewer).await?;
        self.limits
            .check_account(Action::EmailVerification, &user.id.to_string())
            .await?;
        if user.email_verified_at.is_some() {
            return Err(AppError::bad_input("email", "is already verified"));
        }
        self.send_verification(&user).await
    }

    async fn send_verification(&self, user: &user::Model) -> AppResult<()> {
        let ttl = self.config.email_verification_ttl;
        let hours = ttl.as_secs().div_ceil(3600);
        self.email_token(user, TokenPurpose::EmailVerification, ttl, |name, link| Email {
            to: user.email.clone(),
            subject: "Confirm your email address".to_owned(),
            body: format!(
                "Hello {name},\n\nConfirm your email address with this code, within {hours} hour(s):\n\n{link}\n\nIf you did not create an account, ignore this message.\n",
            ),
        })
        .await
    }

    /// Issues a one-time token of `purpose` for `user` and emails it: `write`
    /// gets the user's name and the link (or bare token) and builds the email.
    async fn email_token(
        &self,
        user: &user::Model,
        purpose: TokenPurpose,
        ttl: std::time::Duration,
        write: impl FnOnce(&str, &str) -> Email,
    ) -> AppResult<()> {
        let user_id = user.id;
        let token = self
            .db
            .statement(move |tx| {
                Box::pin(async move { issue_one_time_token(&tx, user_id, purpose, ttl).await })
            })
            .await?;
        let path = match purpose {
            TokenPurpose::EmailVerification => "verify-email",
            TokenPurpose::PasswordReset => "reset-password",
        };
        let link = match &self.link_base_url {
            Some(base) => format!("{base}/{path}?token={token}"),
            None => token,
        };
        self.mailer.spawn_send(write(&user.display_name, &link));
        Ok(())
    }

    /// Marks the token's account verified. Single use.
    pub async fn verify_email(&self, token: &str) -> AppResult<()> {
        let token = token.to_owned();
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    let user_id = redeem(&tx, &token, TokenPurpose::EmailVerification).await?;
                    user::Entity::update_many()
                        .col_expr(user::Column::EmailVerifiedAt, Expr::value(Utc::now()))
                        .filter(user::Column::Id.eq(user_id))
                        .filter(user::Column::EmailVerifiedAt.is_null())
                        .exec(&tx)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Emails a reset link if the address has an account. The answer and its
    /// timing are the same either way: the lookup runs in the background.
    pub async fn request_password_reset(
        self: &std::sync::Arc<Self>,
        email: &str,
        ip: IpAddr,
    ) -> AppResult<()> {
        self.limits.check_ip(Action::PasswordReset, ip).await?;
        let email = check_email(email)?;
        self.limits
            .check_account(Action::PasswordReset, &email)
            .await?;
        let auth = self.clone();
        tokio::spawn(async move {
            if let Err(err) = auth.send_password_reset(&email).await {
                tracing::error!(error = ?err, "password reset email failed");
            }
        });
        Ok(())
    }

    async fn send_password_reset(&self, email: &str) -> AppResult<()> {
        let Some(user) = find_by_login(&self.db, email).await? else {
            return Ok(());
        };
        if user.disabled_at.is_some() {
            return Ok(());
        }
        let ttl = self.config.password_reset_ttl;
        let minutes = ttl.as_secs().div_ceil(60);
        self.email_token(&user, TokenPurpose::PasswordReset, ttl, |name, link| Email {
            to: user.email.clone(),
            subject: "Reset your password".to_owned(),
            body: format!(
                "Hello {name},\n\nSomeone asked to reset the password of your account. Use this code within {minutes} minute(s) to choose a new one:\n\n{link}\n\nIf it was not you, ignore this message: your password stays as it is.\n",
            ),
        })
        .await
    }

    /// Sets a new password with a reset token and ends every session.
    pub async fn reset_password(&self, token: &str, new: &str, ip: IpAddr) -> AppResult<()> {
        self.limits.check_ip(Action::PasswordReset, ip).await?;
        password::check_policy(new, "newPassword")?;
        let hash = self.hasher.hash(new).await?;
        let token = token.to_owned();
        let ended = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    let user_id = redeem(&tx, &token, TokenPurpose::PasswordReset).await?;
                    set_password(&tx, user_id, hash).await?;
                    // Other outstanding reset links die with this one.
                    one_time_token::Entity::update_many()
                        .col_expr(one_time_token::Column::UsedAt, Expr::value(Utc::now()))
                        .filter(one_time_token::Column::UserId.eq(user_id))
                        .filter(one_time_token::Column::Purpose.eq(TokenPurpose::PasswordReset))
                        .filter(one_time_token::Column::UsedAt.is_null())
                        .exec(&tx)
                        .await?;
                    // The link arrived by email, so the address is proven.
                    user::Entity::update_many()
                        .col_expr(user::Column::EmailVerifiedAt, Expr::value(Utc::now()))
                        .filter(user::Column::Id.eq(user_id))
                        .filter(user::Column::EmailVerifiedAt.is_null())
                        .exec(&tx)
                        .await?;
                    revoke(
                        &tx,
                        Condition::all().add(session::Column::UserId.eq(user_id)),
                        user_id,
                    )
                    .await
                })
            })
            .await?;
        self.ended(ended);
        Ok(())
    }

    /// Admin: disables (ending every session) or re-enables an account.
    pub async fn set_disabled(
        &self,
        admin: &AuthSession,
        user_id: Uuid,
        disabled: bool,
    ) -> AppResult<user::Model> {
        self.require_admin(admin).await?;
        let admin_id = admin.user_id;
        if disabled && user_id == admin.user_id {
            return Err(AppError::bad_input(
                "id",
                "admins cannot disable themselves",
            ));
        }
        let (user, ended) = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    let Some(user) = user::Entity::find_by_id(user_id).one(&tx).await? else {
                        return Err(AppError::NotFound("user"));
                    };
                    let mut active: user::ActiveModel = user.into();
                    active.disabled_at = Set(disabled.then(Utc::now));
                    active.updated_at = Set(Utc::now());
                    let user = active.update(&tx).await?;
                    let mut ended = Vec::new();
                    if disabled {
                        let event = Event::AccountBanned { user: user_id };
                        events::record(&tx, Some(admin_id), &event).await?;
                        ended = revoke(
                            &tx,
                            Condition::all().add(session::Column::UserId.eq(user_id)),
                            admin_id,
                        )
                        .await?;
                    }
                    Ok((user, ended))
                })
            })
            .await?;
        self.ended(ended);
        Ok(user)
    }

    /// Admin: makes an account an admin or a member again. Admins cannot
    /// demote themselves, so an instance always keeps the admin acting.
    pub async fn set_role(
        &self,
        admin: &AuthSession,
        user_id: Uuid,
        role: UserRole,
    ) -> AppResult<user::Model> {
        self.require_admin(admin).await?;
        if role != UserRole::Admin && user_id == admin.user_id {
            return Err(AppError::bad_input("id", "admins cannot demote themselves"));
        }
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    let Some(user) = user::Entity::find_by_id(user_id).one(&tx).await? else {
                        return Err(AppError::NotFound("user"));
                    };
                    let mut active: user::ActiveModel = user.into();
                    active.role = Set(role);
                    active.updated_at = Set(Utc::now());
                    Ok(active.update(&tx).await?)
                })
            })
            .await
    }

    /// Admin: marks an account's email address as verified.
    pub async fn set_email_verified(&self, admin: &AuthSession, user_id: Uuid) -> AppResult<()> {
        self.require_admin(admin).await?;
        let updated = self
            .db
            .statement(move |tx| {
                Box::pin(async move {
                    Ok(user::Entity::update_many()
                        .col_expr(user::Column::EmailVerifiedAt, Expr::value(Utc::now()))
                        .filter(user::Column::Id.eq(user_id))
                        .filter(user::Column::EmailVerifiedAt.is_null())
                        .exec(&tx)
                        .await?
                        .rows_affected)
                })
            })
            .await?;
        if updated == 0
            && user::Entity::find_by_id(user_id)
                .one(&self.db)
                .await?
                .is_none()
        {
            return Err(AppError::NotFound("user"));
        }
        Ok(())
    }

    /// Admin: ends one session of `user_id` (`Some`) or all of them.
    /// Returns how many ended.
    pub async fn revoke_sessions_of(
        &self,
        admin: &AuthSession,
        user_id: Uuid,
        session_id: Option<Uuid>,
    ) -> AppResult<u64> {
        self.require_admin(admin).await?;
        let mut which = Condition::all();
        if let Some(id) = session_id {
            which = which.add(session::Column::Id.eq(id));
        }
        self.revoke(user_id, which, admin.user_id).await
    }

    /// An account's usable sessions, most recently used first.
    pub async fn sessions_of(&self, user_id: Uuid) -> AppResult<Vec<session::Model>> {
        let now = Utc::now();
        let idle_since = now - self.config.refresh_idle_ttl;
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .filter(session::Column::LastUsedAt.gt(idle_since))
            .order_by_desc(session::Column::LastUsedAt)
            .order_by_desc(session::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Deletes what can no longer be used: sessions ended or expired for
    /// longer than the idle lifetime (their tokens go with them), rotated
    /// refresh tokens older than that (a replay that old is just refused,
    /// without revoking), and used or expired email tokens, sign-in flows
    /// and email codes.
    pub async fn sweep(&self) -> AppResult<u64> {
        let cutoff = Utc::now() - self.config.refresh_idle_ttl;
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    let sessions = session::Entity::delete_many()
                        .filter(
                            Condition::any()
                                .add(session::Column::RevokedAt.lt(cutoff))
                                .add(session::Column::ExpiresAt.lt(cutoff))
                                .add(session::Column::LastUsedAt.lt(cutoff)),
                        )
                        .exec(&tx)
                        .await?;
                    let tokens = refresh_token::Entity::delete_many()
                        .filter(refresh_token::Column::RotatedAt.lt(cutoff))
                        .exec(&tx)
                        .await?;
                    let one_time = one_time_token::Entity::delete_many()
                        .filter(spent(
                            one_time_token::Column::UsedAt,
                            one_time_token::Column::ExpiresAt,
                        ))
                        .exec(&tx)
                        .await?;
                    let flows = oauth_flow::Entity::delete_many()
                        .filter(spent(
                            oauth_flow::Column::UsedAt,
                            oauth_flow::Column::ExpiresAt,
                        ))
                        .exec(&tx)
                        .await?;
                    let codes = email_code::Entity::delete_many()
                        .filter(spent(
                            email_code::Column::UsedAt,
                            email_code::Column::ExpiresAt,
                        ))
                        .exec(&tx)
                        .await?;
                    Ok(sessions.rows_affected
                        + tokens.rows_affected
                        + one_time.rows_affected
                        + flows.rows_affected
                        + codes.rows_affected)
                })
            })
            .await
    }
}

/// Single-use rows done with: used, or past their expiry.
fn spent(used_at: impl ColumnTrait, expires_at: impl ColumnTrait) -> Condition {
    Condition::any()
        .add(used_at.is_not_null())
        .add(expires_at.lt(Utc::now()))
}

/// Makes an existing account an admin, or creates one (the `api admin`
/// command). Returns whether an account was created.
pub async fn ensure_admin(
    db: &Db,
    email: &str,
    username: Option<&str>,
    password: Option<&str>,
) -> AppResult<bool> {
    let email = check_email(email)?;
    if let Some(user) = find_by_login(db, &email).await? {
        let mut active: user::ActiveModel = user.into();
        active.role = Set(UserRole::Admin);
        active.updated_at = Set(Utc::now());
        db.statement(move |tx| Box::pin(async move { Ok(active.update(&tx).await?) }))
            .await?;
        return Ok(false);
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Err(AppError::bad_input(
            "username",
            "no account has this email; give --username and a password to create one",
        ));
    };
    let username = check_username(username)?;
    password::check_policy(password, "password")?;
    let hash = Hasher::new().hash(password).await?;
    let now = crate::db::now();
    let row = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        display_name: Set(username.clone()),
        username: Set(username),
        bio: Set(String::new()),
        avatar_file_id: Set(None),
        role: Set(UserRole::Admin),
        password_hash: Set(hash),
        email_verified_at: Set(Some(now)),
        disabled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    db.statement(move |tx| {
        Box::pin(async move { row.insert(&tx).await.map_err(unique_violation) })
    })
    .await?;
    Ok(true)
}

/// An account by email or username, case-insensitively.
pub(crate) async fn find_by_login(
    db: &impl ConnectionTrait,
    login: &str,
) -> AppResult<Option<user::Model>> {
    let login = login.trim().to_lowercase();
    let lower = |column: user::Column| Expr::expr(Func::lower(Expr::col(column)));
    Ok(user::Entity::find()
        .filter(
            Condition::any()
                .add(lower(user::Column::Email).eq(login.clone()))
                .add(lower(user::Column::Username).eq(login)),
        )
        .one(db)
        .await?)
}

async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    token: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session_id),
        token_hash: Set(token_hash(token)),
        created_at: Set(now),
        rotated_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Revokes the live sessions matching `which`, all of one user's, and
/// records `session.revoked` (which ends their access tokens and sockets on
/// every API process); returns the sessions ended. `actor` is who revoked
/// them.
async fn revoke(db: &impl ConnectionTrait, which: Condition, actor: Uuid) -> AppResult<Vec<Uuid>> {
    let ended = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(which)
        .filter(session::Column::RevokedAt.is_null())
        .exec_with_returning(db)
        .await?;
    let Some(user) = ended.first().map(|s| s.user_id) else {
        return Ok(Vec::new());
    };
    let sessions: Vec<Uuid> = ended.iter().map(|s| s.id).collect();
    // A device that is signed out gets no more pushes: its token goes
    // with its session.
    entity::push_token::Entity::delete_many()
        .filter(entity::push_token::Column::SessionId.is_in(sessions.iter().copied()))
        .exec(db)
        .await?;
    let event = Event::SessionRevoked {
        user,
        sessions: sessions.clone(),
    };
    events::record(db, Some(actor), &event).await?;
    Ok(sessions)
}

pub(super) async fn set_password(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

async fn issue_one_time_token(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: TokenPurpose,
    ttl: std::time::Duration,
) -> AppResult<String> {
    let token = random_token();
    let now = Utc::now();
    one_time_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        purpose: Set(purpose),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Marks an unused, unexpired token of `purpose` used and returns its user.
/// The conditional update makes it single-use even under races.
async fn redeem(db: &impl ConnectionTrait, token: &str, purpose: TokenPurpose) -> AppResult<Uuid> {
    let invalid = || AppError::bad_input("token", "is invalid, expired or already used");
    let now = Utc::now();
    let found = one_time_token::Entity::find()
        .filter(one_time_token::Column::TokenHash.eq(token_hash(token.trim())))
        .filter(one_time_token::Column::Purpose.eq(purpose))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    let used = one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::UsedAt, Expr::value(now))
        .filter(one_time_token::Column::Id.eq(found.id))
        .filter(one_time_token::Column::UsedAt.is_null())
        .filter(one_time_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if used.rows_affected != 1 {
        return Err(invalid());
    }
    Ok(found.user_id)
}

/// A normalized email address, or `BAD_USER_INPUT` naming `email`.
pub(super) fn check_email(email: &str) -> AppResult<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email
            .parse::<lettre::Address>()
            .is_ok_and(|a| a.domain().contains('.') && !a.domain().ends_with('.'));
    if !valid {
        return Err(AppError::bad_input("email", "is not a valid email address"));
    }
    Ok(email.to_owned())
}

/// 3-32 letters, digits or underscores.
fn check_username(username: &str) -> AppResult<String> {
    let username = username.trim();
    let valid = (3..=32).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(AppError::bad_input(
            "username",
            "must be 3 to 32 letters, digits or underscores",
        ));
    }
    Ok(username.to_owned())
}

pub(super) fn check_device(device: &Device) -> AppResult<()> {
    let name = device.name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(AppError::bad_input(
            "device.name",
            "must be 1 to 128 characters",
        ));
    }
    if !valid_device_secret(&device.secret) {
        return Err(AppError::bad_input(
            "device.secret",
            "must be 16 to 256 characters: a random value the app generates once and keeps",
        ));
    }
    Ok(())
}

/// A device secret's length: 16 to 256 characters.
pub(super) fn valid_device_secret(secret: &str) -> bool {
    (16..=256).contains(&secret.len())
}

fn taken(field: &str) -> AppError {
    AppError::Conflict {
        field: field.to_owned(),
        message: format!("this {field} is already taken"),
    }
}

/// A unique index broken by a concurrent sign-up becomes `CONFLICT`.
pub(super) fn unique_violation(err: sea_orm::DbErr) -> AppError {
    AppError::on_unique_violation(err, |message| {
        taken(if message.contains("username") {
            "username"
        } else {
            "email"
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_usernames_are_checked() {
        assert!(check_email("ann@example.com").is_ok());
        for bad in ["", "ann", "ann@", "@x.io", "ann@localhost", "a b@x.io"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert!(check_username("ann_1").is_ok());
        for bad in ["an", "ann smith", "ann!", &"a".repeat(33)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }
}
