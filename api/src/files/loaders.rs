//! Batch loads for files: by id.

use entity::file;

use crate::graphql::loader::by_id;

by_id!(FileKey, file);
