//! A position in the event log, as clients hold it: opaque text.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{AppError, AppResult};

/// Where an event sits in the log: ordered by the writing transaction's id
/// (PostgreSQL; 0 on SQLite), then by position. Events are read in this
/// order, which is the order they became readable in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub txid: i64,
    pub position: i64,
}

const PREFIX: &str = "ev1:";

impl Cursor {
    /// The opaque text a client holds.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}:{}", self.txid, self.position))
    }

    /// Reads a client's cursor; `field` names the argument in the error.
    pub fn decode(text: &str, field: &str) -> AppResult<Self> {
        let invalid = || AppError::bad_input(field, "is not an event cursor");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let (txid, position) = text
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(invalid)?;
        let cursor = Self {
            txid: txid.parse().map_err(|_| invalid())?,
            position: position.parse().map_err(|_| invalid())?,
        };
        if cursor.txid < 0 || cursor.position < 0 {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_order_by_transaction_first() {
        let a = Cursor {
            txid: 7,
            position: 90,
        };
        let b = Cursor {
            txid: 8,
            position: 3,
        };
        assert!(a < b);
        assert_eq!(Cursor::decode(&a.encode(), "after").unwrap(), a);
        for bad in ["", "bm9wZQ", "ZXYxOjE", "ZXYxOi0xOjI", "!!"] {
            assert!(Cursor::decode(bad, "after").is_err(), "{bad}");
        }
    }
}
