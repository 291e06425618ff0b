//! Push: each signed-in device may register one push token (FCM or APNs),
//! bound to its session, so that signing out, a revoked session, a
//! password change or a ban (all of which end sessions) stop its pushes.

pub(crate) mod graphql;
pub(crate) mod service;
