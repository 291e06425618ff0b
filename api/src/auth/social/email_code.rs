//! Six-digit sign-in codes by email (with a link carrying the same code).
//!
//! Codes are kept as argon2id hashes (six digits are too few for a fast
//! hash), work once, expire in minutes, and die after a few wrong tries;
//! asking for a new one ends the old ones. Asking answers the same whether
//! or not the address has an account: an unknown address gets a code too,
//! and signing in with it creates the account (the code proves the email).

use std::{net::IpAddr, sync::Arc};

use chrono::Utc;
use entity::{email_code, user};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::accounts::create_account;
use crate::{
    auth::{
        Auth,
        rate_limit::Action,
        service::{Device, Tokens, check_device, check_email, find_by_login},
    },
    error::{AppError, AppResult},
    mail::Email,
};

/// `extensions.code` for a code that is wrong, used, expired or tried too
/// often (the same answer for each, and for an unknown address).
pub const EMAIL_CODE_INVALID: &str = "EMAIL_CODE_INVALID";
/// Wrong tries a code survives.
const MAX_ATTEMPTS: i32 = 5;

fn invalid() -> AppError {
    AppError::Denied {
        code: EMAIL_CODE_INVALID,
        reason: "invalid",
        message: "this code is wrong, used or expired; ask for a new one".to_owned(),
    }
}

impl Auth {
    /// Mails a sign-in code to `email`. The answer and its timing are the
    /// same for every address: the work runs in the background.
    pub async fn request_email_code(self: &Arc<Self>, email: &str, ip: IpAddr) -> AppResult<()> {
        self.limits.check_ip(Action::EmailCode, ip).await?;
        let email = check_email(email)?.to_lowercase();
        self.limits.check_account(Action::EmailCode, &email).await?;
        let auth = self.clone();
        tokio::spawn(async move {
            if let Err(err) = auth.send_email_code(&email).await {
                tracing::error!(error = ?err, "sending a sign-in code failed");
            }
        });
        Ok(())
    }

    async fn send_email_code(&self, email: &str) -> AppResult<()> {
        let account = find_by_login(&self.db, email).await?;
        if let Some(user) = &account {
            if user.disabled_at.is_some() {
                return Ok(());
            }
            // The account's own budget, however its address is typed.
            if self
                .limits
                .check_account(Action::EmailCode, &user.id.to_string())
                .await
                .is_err()
            {
                return Ok(());
            }
        }
        let code = format!("{:06}", rand::random_range(0..1_000_000u32));
        let code_hash = self.hasher.hash(&code).await?;
        let now = Utc::now();
        let ttl = self.config.social.email_code_ttl;
        let row = email_code::ActiveModel {
            id: Set(Uuid::now_v7()),
            email: Set(email.to_owned()),
            code_hash: Set(code_hash),
            attempts: Set(0),
            created_at: Set(now),
            expires_at: Set(now + ttl),
            used_at: Set(None),
        };
        let address = email.to_owned();
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    // Only the newest code works.
                    email_code::Entity::update_many()
                        .col_expr(email_code::Column::UsedAt, Expr::value(now))
                        .filter(email_code::Column::Email.eq(address))
                        .filter(email_code::Column::UsedAt.is_null())
                        .exec(&tx)
                        .await?;
                    row.insert(&tx).await?;
                    Ok(())
                })
            })
            .await?;
        let minutes = ttl.as_secs().div_ceil(60);
        let link = self
            .link_base_url
            .as_ref()
            .map_or_else(String::new, |base| {
                let query: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("email", email)
                    .append_pair("code", &code)
                    .finish();
                format!("\nOr open this link on your phone:\n\n{base}/sign-in?{query}\n")
            });
        let to = account.map_or_else(|| email.to_owned(), |u| u.email);
        self.mailer.spawn_send(Email {
            to,
            subject: format!("Your sign-in code: {code}"),
            body: format!(
                "Hello,\n\nYour sign-in code is:\n\n{code}\n\nIt works once, within {minutes} minute(s).\n{link}\nIf you did not ask for it, ignore this message.\n",
            ),
        });
        Ok(())
    }

    /// Signs `device` in with a code from [`Auth::request_email_code`],
    /// creating the account if the address has none.
    pub async fn sign_in_with_email_code(
        &self,
        email: &str,
        code: &str,
        device: Device,
        ip: IpAddr,
    ) -> AppResult<Tokens> {
        self.limits.check_ip(Action::EmailCode, ip).await?;
        check_device(&device)?;
        let email = check_email(email)?.to_lowercase();
        // Guesses at one address share its budget with asking for codes,
        // from however many client addresses they come.
        self.limits.check_account(Action::EmailCode, &email).await?;
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::bad_input(
                "code",
                "must be the 6 digits from the email",
            ));
        }
        let now = Utc::now();
        let Some(newest) = email_code::Entity::find()
            .filter(email_code::Column::Email.eq(&email))
            .filter(email_code::Column::UsedAt.is_null())
            .filter(email_code::Column::ExpiresAt.gt(now))
            .filter(email_code::Column::Attempts.lt(MAX_ATTEMPTS))
            .order_by_desc(email_code::Column::CreatedAt)
            .one(&self.db)
            .await?
        else {
            // The same work as a real check, so timing tells nothing.
            self.hasher.verify(code, None).await?;
            return Err(invalid());
        };
        let id = newest.id;
        if !self.hasher.verify(code, Some(&newest.code_hash)).await? {
            self.db
                .statement(move |tx| {
                    Box::pin(async move {
                        email_code::Entity::update_many()
                            .col_expr(
                                email_code::Column::Attempts,
                                Expr::col(email_code::Column::Attempts).add(1),
                            )
                            .filter(email_code::Column::Id.eq(id))
                            .exec(&tx)
                            .await?;
                        Ok(())
                    })
                })
                .await?;
            return Err(invalid());
        }
        // A new address becomes an account: the hooks see it first.
        let new = match find_by_login(&self.db, &email).await? {
            Some(_) => None,
            None => Some(self.new_account(email.clone(), None, true).await?),
        };
        let user = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    // Single use even when two requests race with the code.
                    let used = email_code::Entity::update_many()
                        .col_expr(email_code::Column::UsedAt, Expr::value(now))
                        .filter(email_code::Column::Id.eq(id))
                        .filter(email_code::Column::UsedAt.is_null())
                        .exec(&tx)
                        .await?;
                    if used.rows_affected != 1 {
                        return Err(invalid());
                    }
                    match find_by_login(&tx, &email).await? {
                        Some(user) if user.email_verified_at.is_none() => {
                            // The code arrived by email: the address is proven.
                            let mut active: user::ActiveModel = user.into();
                            active.email_verified_at = Set(Some(now));
                            Ok(active.update(&tx).await?)
                        }
                        Some(user) => Ok(user),
                        None => match new {
                            Some(new) => create_account(&tx, new).await,
                            // Deleted between the two reads.
                            None => Err(invalid()),
                        },
                    }
                })
            })
            .await?;
        if user.disabled_at.is_some() {
            return Err(AppError::Unauthenticated("this account is disabled"));
        }
        self.start_session(user, &device, None).await
    }
}
