//! Outgoing email: SMTP through lettre when `SMTP_URL` is set, otherwise a
//! development outbox that logs each message and writes it to
//! `$DATA_DIR/outbox/` as an `.eml` file.
//!
//! Sending happens in the background: the mutation that asked for it
//! answers at once (and in the same time whether or not a message was sent,
//! so timing does not reveal which emails have accounts).

use std::path::PathBuf;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

use migration::settings::{Env, SettingsError};

/// Outgoing email.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://user:pass@host:587` (STARTTLS with `?tls=required`) or
    /// `smtps://...`; unset means the development outbox.
    pub smtp_url: Option<String>,
    pub from: String,
    /// Links in emails: `{base}/verify-email?token=...`. Mobile apps use a
    /// deep link or universal link here; unset sends the bare token.
    pub link_base_url: Option<String>,
}

impl MailConfig {
    /// `SMTP_URL`, `MAIL_FROM` and `EMAIL_LINK_BASE_URL`.
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        let mail = Self {
            smtp_url: env.get("SMTP_URL"),
            from: env
                .get("MAIL_FROM")
                .unwrap_or_else(|| "Hearth <no-reply@localhost>".to_owned()),
            link_base_url: env
                .get("EMAIL_LINK_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_owned()),
        };
        if let Some(smtp) = &mail.smtp_url {
            url::Url::parse(smtp)
                .ok()
                .filter(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some())
                .ok_or_else(|| {
                    env.error(
                        "SMTP_URL",
                        "must look like smtp://user:password@host:587 or smtps://host",
                    )
                })?;
        }
        mail.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| env.error("MAIL_FROM", format!("not an email address: {e}")))?;
        Ok(mail)
    }
}

/// One plain-text message.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl Mailer {
    pub fn new(config: &MailConfig, data_dir: &str) -> anyhow::Result<Self> {
        let from = config.from.parse()?;
        let transport = match &config.smtp_url {
            Some(url) => {
                Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build())
            }
            None => Transport::Outbox(PathBuf::from(data_dir).join("outbox")),
        };
        Ok(Self { from, transport })
    }

    /// Sends now; errors are for the caller to log.
    pub async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(email.to.parse()?)
            .subject(&email.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Transport::Outbox(dir) => {
                // Written beside the outbox, then moved in whole: whoever
                // reads the outbox never sees half a message.
                let partial = dir.with_extension("partial");
                tokio::fs::create_dir_all(dir).await?;
                tokio::fs::create_dir_all(&partial).await?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
                    uuid::Uuid::now_v7().simple()
                );
                let path = dir.join(&name);
                tokio::fs::write(partial.join(&name), message.formatted()).await?;
                tokio::fs::rename(partial.join(&name), &path).await?;
                tracing::info!(
                    to = %email.to,
                    subject = %email.subject,
                    path = %path.display(),
                    "email written to the development outbox (set SMTP_URL to send for real)"
                );
            }
        }
        Ok(())
    }

    /// Sends in the background and logs a failure.
    pub fn spawn_send(&self, email: Email) {
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(err) = mailer.send(&email).await {
                tracing::error!(error = %err, subject = %email.subject, "sending email failed");
            }
        });
    }
}
