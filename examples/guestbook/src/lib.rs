//! A guestbook built on Hearth, as a newcomer would write one: signed-in
//! users sign it over `POST /comment` (a route of its own, behind Hearth's
//! sign-in and activity log), entries live in a table of its own, GraphQL
//! gains a `guestbook` field, and a before-hook keeps one word out of
//! Hearth's posts and comments. docs/extending.md walks through it.

mod entry;
mod migrations;
mod routes;

use api::extend::{Change, Hearth, NoFields, Refusal, activity};
use axum::{Router, middleware, routing::post};

pub use entry::{Entity as Entry, GuestbookQuery, Model as EntryModel};
pub use migrations::Migrator;

/// The word the before-hook keeps out.
pub const BANNED_WORD: &str = "casino";

/// Hearth with the guestbook added.
pub fn app() -> Hearth {
    Hearth::new()
        .routes(
            Router::new()
                .route("/comment", post(routes::sign))
                .route_layer(middleware::from_fn(activity)),
        )
        .graphql::<GuestbookQuery, NoFields, NoFields>()
        .migrations::<Migrator>()
        .before(no_banned_word)
}

/// Refuses posts and comments that contain [`BANNED_WORD`].
fn no_banned_word(change: &Change<'_>) -> Result<(), Refusal> {
    let (Change::Post { body, .. } | Change::Comment { body, .. }) = change else {
        return Ok(());
    };
    if body.to_lowercase().contains(BANNED_WORD) {
        return Err(Refusal::new(
            "BANNED_WORD",
            format!("posts and comments may not mention {BANNED_WORD}"),
        ));
    }
    Ok(())
}
