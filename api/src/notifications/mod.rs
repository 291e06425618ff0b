//! Notifications: each account's inbox, filled from the event log by an
//! after-commit hook ([`worker`]): replies and mentions, reactions, new
//! followers and messages (gathered while unread: "Ann and 4 others"),
//! and what came of a report. Blocks, mutes and each account's
//! preferences decide what reaches whom; reads apply the block rules
//! again, so a block also clears what came before it.

pub(crate) mod graphql;
pub(crate) mod service;
pub(crate) mod worker;
