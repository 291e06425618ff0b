//! GraphQL for social sign-in and email codes: thin resolvers over
//! [`Auth`](crate::auth::Auth)'s methods in this folder. (An account's
//! `Identity` type lives with `Account`, in the auth schema.)

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::settings::ProviderKind;
use crate::auth::{
    graphql::{Account, AuthPayload, DeviceInput, auth},
    viewer::{SignedIn, request_info, signed_in},
};

/// How a provider signs people in.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AuthProviderKind {
    /// OpenID Connect.
    Oidc,
    /// Sign in with Apple (OpenID Connect).
    Apple,
    /// GitHub (OAuth2; no ID tokens).
    Github,
}

/// A sign-in provider this server offers, for the app's buttons.
#[derive(SimpleObject)]
pub struct AuthProvider {
    /// What to pass as `provider`.
    name: String,
    kind: AuthProviderKind,
    /// Whether `signInWithIdToken` takes this provider's ID tokens (from
    /// the Sign in with Apple or Google Sign-In SDKs).
    native_sign_in: bool,
}

/// A started sign-in: open `authorizationUrl` in a browser (an
/// authentication session on the phone); the provider sends the person
/// back to the redirect URI with `code` and `state`, for `completeOAuth`.
#[derive(SimpleObject)]
#[graphql(name = "OAuthStart")]
pub struct OAuthStart {
    authorization_url: String,
    state: String,
    /// Complete the flow before this.
    expires_at: DateTime<Utc>,
}

#[derive(InputObject)]
#[graphql(name = "StartOAuthInput")]
pub struct StartOAuthInput {
    /// A name from `authProviders`.
    provider: String,
    /// Where the provider sends the person back: one of the server's
    /// `AUTH_REDIRECT_URIS`, exactly (a custom scheme or universal link for
    /// an app).
    redirect_uri: String,
    /// The device secret this app signs in with; only the same device can
    /// complete the flow.
    device_secret: String,
}

#[derive(InputObject)]
#[graphql(name = "CompleteOAuthInput")]
pub struct CompleteOAuthInput {
    /// `state` from the redirect.
    state: String,
    /// `code` from the redirect.
    code: String,
    /// The device that started the flow (same secret).
    device: DeviceInput,
    /// The name for a new account, when the provider gives it only to the
    /// app (Apple, on the first sign-in).
    display_name: Option<String>,
}

#[derive(InputObject)]
pub struct SignInWithIdTokenInput {
    /// A name from `authProviders` whose `nativeSignIn` is true.
    provider: String,
    /// The ID token the provider's SDK returned.
    id_token: String,
    /// The raw nonce the app gave the SDK (the token may carry it as-is or
    /// as its SHA-256 hex).
    nonce: Option<String>,
    device: DeviceInput,
    /// The name for a new account (Apple's SDK gives it only once).
    display_name: Option<String>,
}

#[derive(InputObject)]
pub struct SignInWithEmailCodeInput {
    email: String,
    /// The six digits from the email.
    code: String,
    device: DeviceInput,
}

#[derive(InputObject)]
pub struct LinkIdentityInput {
    provider: String,
    /// An ID token from the provider's SDK for the person to link.
    id_token: String,
    /// The raw nonce the app gave the SDK.
    nonce: Option<String>,
}

#[derive(Default)]
pub struct SocialQuery;

#[Object]
impl SocialQuery {
    /// The sign-in providers this server offers (empty when none is
    /// configured), in the configured order.
    async fn auth_providers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AuthProvider>> {
        Ok(auth(ctx)?
            .social
            .all()
            .iter()
            .map(|p| AuthProvider {
                name: p.config.name.clone(),
                kind: match p.config.kind {
                    ProviderKind::Oidc { .. } => AuthProviderKind::Oidc,
                    ProviderKind::Apple { .. } => AuthProviderKind::Apple,
                    ProviderKind::GitHub { .. } => AuthProviderKind::Github,
                },
                native_sign_in: p.config.kind.issuer().is_some(),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct SocialMutation;

#[Object]
impl SocialMutation {
    /// Starts signing in at a provider (authorization code with PKCE).
    #[graphql(name = "startOAuth")]
    async fn start_oauth(
        &self,
        ctx: &Context<'_>,
        input: StartOAuthInput,
    ) -> async_graphql::Result<OAuthStart> {
        let ip = request_info(ctx).client_ip;
        let started = auth(ctx)?
            .start_oauth(
                &input.provider,
                &input.redirect_uri,
                &input.device_secret,
                ip,
            )
            .await?;
        Ok(OAuthStart {
            authorization_url: started.authorization_url,
            state: started.state,
            expires_at: started.expires_at,
        })
    }

    /// Completes a sign-in started with `startOAuth`, on the same device:
    /// signs it in as `signIn` does, creating the account on first use.
    #[graphql(name = "completeOAuth")]
    async fn complete_oauth(
        &self,
        ctx: &Context<'_>,
        input: CompleteOAuthInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = request_info(ctx).client_ip;
        let tokens = auth(ctx)?
            .complete_oauth(
                &input.state,
                &input.code,
                input.device.into(),
                input.display_name.as_deref(),
                ip,
            )
            .await?;
        Ok(tokens.into())
    }

    /// Signs a device in with an ID token from Sign in with Apple or
    /// Google Sign-In, creating the account on first use.
    async fn sign_in_with_id_token(
        &self,
        ctx: &Context<'_>,
        input: SignInWithIdTokenInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = request_info(ctx).client_ip;
        let tokens = auth(ctx)?
            .sign_in_with_id_token(
                &input.provider,
                &input.id_token,
                input.nonce.as_deref(),
                input.device.into(),
                input.display_name.as_deref(),
                ip,
            )
            .await?;
        Ok(tokens.into())
    }

    /// Emails a six-digit sign-in code (and a link with it). Always answers
    /// true, so it does not reveal who has an account.
    async fn request_email_code(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let ip = request_info(ctx).client_ip;
        auth(ctx)?.request_email_code(&email, ip).await?;
        Ok(true)
    }

    /// Signs a device in with an emailed code, creating the account if the
    /// address has none.
    async fn sign_in_with_email_code(
        &self,
        ctx: &Context<'_>,
        input: SignInWithEmailCodeInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = request_info(ctx).client_ip;
        let tokens = auth(ctx)?
            .sign_in_with_email_code(&input.email, &input.code, input.device.into(), ip)
            .await?;
        Ok(tokens.into())
    }

    /// Links a provider's identity (from its SDK's ID token) to your account.
    #[graphql(guard = "SignedIn")]
    async fn link_identity(
        &self,
        ctx: &Context<'_>,
        input: LinkIdentityInput,
    ) -> async_graphql::Result<Account> {
        let user = auth(ctx)?
            .link_identity(
                &signed_in(ctx)?,
                &input.provider,
                &input.id_token,
                input.nonce.as_deref(),
            )
            .await?;
        Ok(Account(user))
    }

    /// Unlinks your identity at `provider`; refused when it is your only
    /// way to sign in.
    #[graphql(guard = "SignedIn")]
    async fn unlink_identity(
        &self,
        ctx: &Context<'_>,
        provider: String,
    ) -> async_graphql::Result<Account> {
        let user = auth(ctx)?
            .unlink_identity(&signed_in(ctx)?, &provider)
            .await?;
        Ok(Account(user))
    }

    /// Sets a first password on an account made by a provider or an email
    /// code (`changePassword` changes an existing one).
    #[graphql(guard = "SignedIn")]
    async fn set_password(
        &self,
        ctx: &Context<'_>,
        password: String,
    ) -> async_graphql::Result<Account> {
        let user = auth(ctx)?
            .set_first_password(&signed_in(ctx)?, &password)
            .await?;
        Ok(Account(user))
    }
}
