//! Batch loads for reports: by id, for the notifications that tell a
//! reporter the outcome.

use crate::graphql::loader::by_id;
use entity::report;

by_id!(ReportKey, report);
