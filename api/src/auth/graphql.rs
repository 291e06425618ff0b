//! GraphQL for accounts and sessions: thin resolvers over [`Auth`].

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{identity, session, user};

use super::{
    service::{Device, NewAccount, Tokens},
    viewer::{AdminOnly, SignedIn, request_info, signed_in},
};
use crate::{
    auth::Auth,
    error::AppError,
    graphql::{
        context,
        id::{NodeType, expect_global_id, to_global_id},
    },
    hooks::{self, Change},
    users::graphql::User,
};

/// Accounts and sessions, from the schema's data.
pub fn auth<'a>(ctx: &Context<'a>) -> Result<&'a std::sync::Arc<Auth>, AppError> {
    context::data(ctx)
}

/// What an account may do across the instance.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::UserRole")]
pub enum Role {
    User,
    Admin,
}

/// The signed-in user's own account: the private side of their profile.
pub struct Account(pub user::Model);

#[Object]
impl Account {
    /// The account's own id; its public profile (`profile`) has another,
    /// so client caches never merge the two.
    async fn id(&self) -> ID {
        to_global_id(NodeType::Account, self.0.id)
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn email_verified(&self) -> bool {
        self.0.email_verified_at.is_some()
    }

    async fn role(&self) -> Role {
        self.0.role.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The public profile everyone else sees.
    async fn profile(&self) -> User {
        User::from(self.0.clone())
    }

    /// Whether the account has a password (one made by a provider or an
    /// email code has none until `setPassword`).
    async fn has_password(&self) -> bool {
        !self.0.password_hash.is_empty()
    }

    /// The providers this account signs in with.
    async fn identities(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Identity>> {
        let identities = auth(ctx)?.identities(self.0.id).await?;
        Ok(identities.into_iter().map(Identity).collect())
    }
}

/// An account's sign-in at a provider.
pub struct Identity(pub identity::Model);

#[Object]
impl Identity {
    async fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The email as the provider last asserted it.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    async fn email_verified(&self) -> bool {
        self.0.email_verified
    }

    /// The provider's picture of the person, if it shared one.
    async fn picture_url(&self) -> Option<&str> {
        self.0.picture_url.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn last_used_at(&self) -> DateTime<Utc> {
        self.0.last_used_at
    }
}

/// A signed-in device.
pub struct Session {
    model: session::Model,
    current: bool,
}

#[Object]
impl Session {
    async fn id(&self) -> ID {
        to_global_id(NodeType::Session, self.model.id)
    }

    async fn device_name(&self) -> &str {
        &self.model.device_name
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When the device last signed in or refreshed.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.model.last_used_at
    }

    /// When the session ends however often it refreshes.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.model.expires_at
    }

    /// Whether this is the session making the request.
    async fn current(&self) -> bool {
        self.current
    }
}

/// Tokens for a device. Send `accessToken` as `Authorization: Bearer ...`;
/// keep `refreshToken` (with the device secret) in secure storage and
/// exchange it with `refreshSession` before `accessTokenExpiresAt`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    access_token: String,
    access_token_expires_at: DateTime<Utc>,
    refresh_token: String,
    user: Account,
}

impl From<Tokens> for AuthPayload {
    fn from(tokens: Tokens) -> Self {
        Self {
            access_token: tokens.access_token,
            access_token_expires_at: tokens.access_token_expires_at,
            refresh_token: tokens.refresh_token,
            user: Account(tokens.user),
        }
    }
}

/// The device signing in. `secret` is a random value (at least 16
/// characters; 32 random bytes recommended) the app generates once per
/// install and keeps in secure storage: refresh requires it.
#[derive(InputObject)]
pub struct DeviceInput {
    name: String,
    secret: String,
}

impl From<DeviceInput> for Device {
    fn from(input: DeviceInput) -> Self {
        Self {
            name: input.name,
            secret: input.secret,
        }
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    email: String,
    /// 3-32 letters, digits or underscores; unique case-insensitively.
    username: String,
    /// 8 to 256 characters, not a common password.
    password: String,
    /// Defaults to the username.
    display_name: Option<String>,
    device: DeviceInput,
}

#[derive(InputObject)]
pub struct SignInInput {
    /// Email or username.
    login: String,
    password: String,
    device: DeviceInput,
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in account.
    #[graphql(guard = "SignedIn")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Account> {
        let viewer = signed_in(ctx)?;
        Ok(Account(auth(ctx)?.account(&viewer).await?))
    }

    /// The signed-in account's active sessions, most recently used first.
    #[graphql(guard = "SignedIn")]
    async fn my_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Session>> {
        let viewer = signed_in(ctx)?;
        let sessions = auth(ctx)?.sessions(&viewer).await?;
        Ok(sessions
            .into_iter()
            .map(|model| Session {
                current: model.id == viewer.session_id,
                model,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account and emails a link to confirm its address. Signs
    /// this device in, unless the server requires confirmed emails
    /// (`AUTH_CONFIRM_EMAIL`, on in production): then the answer is null,
    /// whether or not the email was registered already (its owner is told
    /// by email), so sign-up never reveals who has an account; sign in
    /// after following the link.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<Option<AuthPayload>> {
        let ip = request_info(ctx).client_ip;
        hooks::before(
            ctx,
            Change::Account {
                email: &input.email,
                username: &input.username,
            },
        )
        .await?;
        let account = NewAccount {
            email: input.email,
            username: input.username,
            password: input.password,
            display_name: input.display_name,
            device: input.device.into(),
        };
        Ok(auth(ctx)?
            .sign_up(account, ip)
            .await?
            .map(AuthPayload::from))
    }

    /// Signs a device in with an email or username and a password.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        input: SignInInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = request_info(ctx).client_ip;
        let tokens = auth(ctx)?
            .sign_in(&input.login, &input.password, input.device.into(), ip)
            .await?;
        Ok(tokens.into())
    }

    /// Exchanges a refresh token for new tokens; the old refresh token stops
    /// working. Presenting an already-used one ends the session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
        device_secret: String,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = request_info(ctx).client_ip;
        let tokens = auth(ctx)?
            .refresh(&refresh_token, &device_secret, ip)
            .await?;
        Ok(tokens.into())
    }

    /// Ends this device's session.
    #[graphql(guard = "SignedIn")]
    async fn sign_out(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        auth(ctx)?.sign_out(&signed_in(ctx)?).await?;
        Ok(true)
    }

    /// Ends another of your sessions (from `mySessions`).
    #[graphql(guard = "SignedIn")]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let session_id = expect_global_id(&id, NodeType::Session, "id")?;
        auth(ctx)?
            .revoke_session(&signed_in(ctx)?, session_id)
            .await?;
        Ok(true)
    }

    /// Ends every session of your account, this one included. Returns how
    /// many ended.
    #[graphql(guard = "SignedIn")]
    async fn sign_out_everywhere(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(auth(ctx)?.sign_out_everywhere(&signed_in(ctx)?).await?)
    }

    /// Changes your password; every other session ends.
    #[graphql(guard = "SignedIn")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        auth(ctx)?
            .change_password(&signed_in(ctx)?, &current_password, &new_password)
            .await?;
        Ok(true)
    }

    /// Emails a new verification link to your address.
    #[graphql(guard = "SignedIn")]
    async fn request_email_verification(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        auth(ctx)?
            .request_email_verification(&signed_in(ctx)?)
            .await?;
        Ok(true)
    }

    /// Confirms an email address with the token from the email.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<bool> {
        auth(ctx)?.verify_email(&token).await?;
        Ok(true)
    }

    /// Emails a password reset link if the address has an account. Always
    /// answers true, so it does not reveal who has an account.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let ip = request_info(ctx).client_ip;
        auth(ctx)?.request_password_reset(&email, ip).await?;
        Ok(true)
    }

    /// Sets a new password with the token from the reset email; every
    /// session ends, so sign in again.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let ip = request_info(ctx).client_ip;
        auth(ctx)?.reset_password(&token, &new_password, ip).await?;
        Ok(true)
    }

    /// Deletes your account and everything it owns. Needs your password.
    #[graphql(guard = "SignedIn")]
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        password: String,
    ) -> async_graphql::Result<bool> {
        let keys = auth(ctx)?
            .delete_account(&signed_in(ctx)?, &password)
            .await?;
        crate::files::graphql::files(ctx)?.discard(keys).await;
        Ok(true)
    }

    /// Admin: disables an account (ending its sessions) or enables it again.
    #[graphql(guard = "AdminOnly")]
    async fn set_user_disabled(
        &self,
        ctx: &Context<'_>,
        id: ID,
        disabled: bool,
    ) -> async_graphql::Result<User> {
        let user_id = expect_global_id(&id, NodeType::User, "id")?;
        let user = auth(ctx)?
            .set_disabled(&signed_in(ctx)?, user_id, disabled)
            .await?;
        let (action, verb) = if disabled {
            ("user.ban", "banned")
        } else {
            ("user.unban", "unbanned")
        };
        let detail = format!("{verb} {}", user.username);
        crate::graphql::context::audit(ctx, action, Some(("user", user_id.to_string())), detail)
            .await?;
        Ok(User::from(user))
    }
}
