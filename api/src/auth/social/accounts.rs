//! Who an identity asserted by a provider is, and linking identities to
//! accounts.
//!
//! An identity already linked signs into its account. Otherwise an account
//! with the same email is joined only when the provider says the email is
//! verified and the account's email is verified too (else anyone could
//! claim an account by asserting its address); a new email makes a new
//! account, without a password.

use chrono::Utc;
use entity::{enums::UserRole, identity, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::{id_token::NonceRule, providers::Asserted};
use crate::{
    auth::{
        Auth, AuthSession,
        password::{self},
        service::{Device, Tokens, check_email, find_by_login, set_password, unique_violation},
    },
    error::{AppError, AppResult},
    hooks::Change,
};

/// `extensions.code` when an account already uses the asserted email but
/// the two cannot be joined safely: sign in to it, then `linkIdentity`.
pub const ACCOUNT_EXISTS: &str = "ACCOUNT_EXISTS";
/// `extensions.code` when the provider gave no email to make an account with.
pub const EMAIL_REQUIRED: &str = "EMAIL_REQUIRED";
/// `extensions.code` for unlinking the only way left to sign in.
pub const LAST_SIGN_IN_METHOD: &str = "LAST_SIGN_IN_METHOD";
/// `extensions.code` for linking an identity another account has.
pub const IDENTITY_TAKEN: &str = "IDENTITY_TAKEN";

impl Auth {
    /// Signs `device` in as whoever `asserted` is (creating the account if
    /// needed).
    pub(super) async fn sign_in_asserted(
        &self,
        asserted: Asserted,
        device: &Device,
        display_name: Option<&str>,
    ) -> AppResult<Tokens> {
        let found = asserted.clone();
        let user = match self
            .db
            .transaction(move |tx| Box::pin(async move { existing_account(&tx, &found).await }))
            .await?
        {
            Some(user) => user,
            None => {
                let name = display_name
                    .or(asserted.name.as_deref())
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned);
                let email = asserted_email(&asserted)?;
                let new = self
                    .new_account(email, name, asserted.email_verified)
                    .await?;
                self.db
                    .transaction(move |tx| {
                        Box::pin(async move {
                            let user = create_account(&tx, new).await?;
                            link(&tx, user.id, &asserted).await?;
                            Ok(user)
                        })
                    })
                    .await?
            }
        };
        if user.disabled_at.is_some() {
            return Err(AppError::Unauthenticated("this account is disabled"));
        }
        self.start_session(user, device, None).await
    }

    /// An account about to be made for `email`, with a free username, once
    /// the application's before-hooks accept it (as they do sign-ups).
    pub(super) async fn new_account(
        &self,
        email: String,
        display_name: Option<String>,
        email_verified: bool,
    ) -> AppResult<NewAccount> {
        let username = free_username(&self.db, &email).await?;
        let change = Change::Account {
            email: &email,
            username: &username,
        };
        self.hooks.check(&self.db, &change).await?;
        Ok(NewAccount {
            email,
            username,
            display_name,
            email_verified,
        })
    }

    /// Signs a device in with an ID token from a provider's native SDK.
    pub async fn sign_in_with_id_token(
        &self,
        provider: &str,
        id_token: &str,
        nonce: Option<&str>,
        device: Device,
        display_name: Option<&str>,
        ip: std::net::IpAddr,
    ) -> AppResult<Tokens> {
        self.limits
            .check_ip(crate::auth::rate_limit::Action::SignIn, ip)
            .await?;
        crate::auth::service::check_device(&device)?;
        let asserted = self.verify_native(provider, id_token, nonce).await?;
        self.sign_in_asserted(asserted, &device, display_name).await
    }

    async fn verify_native(
        &self,
        provider: &str,
        id_token: &str,
        nonce: Option<&str>,
    ) -> AppResult<Asserted> {
        let provider = self.social.get(provider)?;
        if provider.config.kind.issuer().is_none() {
            return Err(AppError::bad_input(
                "provider",
                "this provider has no ID tokens: sign in with startOAuth",
            ));
        }
        let rule = NonceRule::Native {
            raw: nonce.map(str::trim).filter(|n| !n.is_empty()),
            allow_missing: provider.config.allow_missing_nonce,
        };
        provider.verify_id_token(id_token.trim(), rule).await
    }

    /// The caller's linked identities.
    pub async fn identities(&self, user_id: Uuid) -> AppResult<Vec<identity::Model>> {
        Ok(identity::Entity::find()
            .filter(identity::Column::UserId.eq(user_id))
            .order_by_asc(identity::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    /// Links the identity in a native ID token to the caller's account.
    pub async fn link_identity(
        &self,
        viewer: &AuthSession,
        provider: &str,
        id_token: &str,
        nonce: Option<&str>,
    ) -> AppResult<user::Model> {
        let (_, user) = self.live_session(viewer).await?;
        let asserted = self.verify_native(provider, id_token, nonce).await?;
        let user_id = user.id;
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    let linked = identity::Entity::find()
                        .filter(identity::Column::Provider.eq(&asserted.provider))
                        .filter(identity::Column::Subject.eq(&asserted.subject))
                        .one(&tx)
                        .await?;
                    match linked {
                        Some(found) if found.user_id == user_id => {
                            touch(&tx, found, &asserted).await?;
                        }
                        Some(_) => {
                            return Err(AppError::Denied {
                                code: IDENTITY_TAKEN,
                                reason: "linked_elsewhere",
                                message: "this identity signs in to another account".to_owned(),
                            });
                        }
                        None => {
                            link(&tx, user_id, &asserted).await.map_err(|e| match e {
                                AppError::Conflict { .. } => AppError::conflict(
                                    "provider",
                                    "your account already has an identity at this provider: unlink it first",
                                ),
                                other => other,
                            })?;
                        }
                    }
                    Ok(())
                })
            })
            .await?;
        Ok(user)
    }

    /// Unlinks the caller's identity at `provider`, unless it is their only
    /// way to sign in.
    pub async fn unlink_identity(
        &self,
        viewer: &AuthSession,
        provider: &str,
    ) -> AppResult<user::Model> {
        let (_, user) = self.live_session(viewer).await?;
        let identities = self.identities(user.id).await?;
        let provider = provider.trim().to_ascii_lowercase();
        let Some(target) = identities.iter().find(|i| i.provider == provider) else {
            return Err(AppError::NotFound("identity"));
        };
        if user.password_hash.is_empty() && identities.len() == 1 {
            return Err(AppError::Denied {
                code: LAST_SIGN_IN_METHOD,
                reason: "no_other_method",
                message: "this is your only way to sign in: set a password or link another provider first".to_owned(),
            });
        }
        let id = target.id;
        self.db
            .statement(move |tx| {
                Box::pin(async move {
                    identity::Entity::delete_by_id(id).exec(&tx).await?;
                    Ok(())
                })
            })
            .await?;
        Ok(user)
    }

    /// Gives an account without a password (made by a provider or an email
    /// code) its first one.
    pub async fn set_first_password(
        &self,
        viewer: &AuthSession,
        new: &str,
    ) -> AppResult<user::Model> {
        let (_, user) = self.live_session(viewer).await?;
        if !user.password_hash.is_empty() {
            return Err(AppError::bad_input(
                "password",
                "this account has a password already: use changePassword",
            ));
        }
        password::check_policy(new, "password")?;
        let hash = self.hasher.hash(new).await?;
        let user_id = user.id;
        self.db
            .statement(move |tx| Box::pin(async move { set_password(&tx, user_id, hash).await }))
            .await?;
        self.account(viewer).await
    }
}

/// The account `asserted` signs in to: the one its identity is linked to,
/// or one with the same email when both sides verified it (then linked);
/// `None` when a new account is to be made.
pub(super) async fn existing_account(
    db: &impl ConnectionTrait,
    asserted: &Asserted,
) -> AppResult<Option<user::Model>> {
    let linked = identity::Entity::find()
        .filter(identity::Column::Provider.eq(&asserted.provider))
        .filter(identity::Column::Subject.eq(&asserted.subject))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    if let Some((found, Some(user))) = linked {
        touch(db, found, asserted).await?;
        return Ok(Some(user));
    }
    let email = asserted_email(asserted)?;
    let Some(user) = find_by_login(db, &email).await? else {
        return Ok(None);
    };
    let reason = match (asserted.email_verified, user.email_verified_at.is_some()) {
        (true, true) => {
            link(db, user.id, asserted).await?;
            return Ok(Some(user));
        }
        (false, _) => "provider_email_unverified",
        (true, false) => "account_email_unverified",
    };
    Err(AppError::Denied {
        code: ACCOUNT_EXISTS,
        reason,
        message: "an account already uses this email: sign in to it, then link this provider with linkIdentity".to_owned(),
    })
}

/// The email the provider asserted, if it is one an account can have.
fn asserted_email(asserted: &Asserted) -> AppResult<String> {
    asserted
        .email
        .as_deref()
        .and_then(|e| check_email(e).ok())
        .ok_or_else(|| AppError::Denied {
            code: EMAIL_REQUIRED,
            reason: "no_email",
            message:
                "the provider did not share an email address; allow it, or sign in another way"
                    .to_owned(),
        })
}

/// An account to make: checked by the hooks, not yet stored.
pub(super) struct NewAccount {
    email: String,
    username: String,
    display_name: Option<String>,
    email_verified: bool,
}

/// Stores a new account without a password.
pub(super) async fn create_account(
    db: &impl ConnectionTrait,
    new: NewAccount,
) -> AppResult<user::Model> {
    let display_name: String = new
        .display_name
        .as_deref()
        .unwrap_or(&new.username)
        .chars()
        .take(64)
        .collect();
    let now = crate::db::now();
    let row = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(new.email),
        username: Set(new.username),
        display_name: Set(display_name),
        bio: Set(String::new()),
        avatar_file_id: Set(None),
        role: Set(UserRole::User),
        password_hash: Set(String::new()),
        email_verified_at: Set(new.email_verified.then_some(now)),
        disabled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    row.insert(db).await.map_err(unique_violation)
}

/// A username no one has, from the email's local part: letters, digits and
/// underscores, then a number if it is taken.
async fn free_username(db: &impl ConnectionTrait, email: &str) -> AppResult<String> {
    let local = email.split('@').next().unwrap_or_default();
    let mut base: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    base = base.trim_matches('_').to_owned();
    if base.len() < 3 {
        base = format!("user_{base}");
    }
    let mut candidate = base.clone();
    for _ in 0..20 {
        if find_by_login(db, &candidate).await?.is_none() {
            return Ok(candidate);
        }
        candidate = format!("{base}{}", rand::random_range(1000..100_000));
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free username found for {base}"
    )))
}

async fn link(db: &impl ConnectionTrait, user_id: Uuid, asserted: &Asserted) -> AppResult<()> {
    let now = Utc::now();
    identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        provider: Set(asserted.provider.clone()),
        subject: Set(asserted.subject.clone()),
        email: Set(asserted.email.clone()),
        email_verified: Set(asserted.email_verified),
        picture_url: Set(asserted.picture.clone()),
        created_at: Set(now),
        last_used_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| {
        AppError::on_unique_violation(e, |_| {
            AppError::conflict("provider", "this identity was linked at the same moment")
        })
    })?;
    Ok(())
}

/// Keeps what the provider asserts now (emails and pictures change).
async fn touch(
    db: &impl ConnectionTrait,
    found: identity::Model,
    asserted: &Asserted,
) -> AppResult<()> {
    let mut active: identity::ActiveModel = found.into();
    active.email = Set(asserted.email.clone());
    active.email_verified = Set(asserted.email_verified);
    if asserted.picture.is_some() {
        active.picture_url = Set(asserted.picture.clone());
    }
    active.last_used_at = Set(Utc::now());
    active.update(db).await?;
    Ok(())
}
