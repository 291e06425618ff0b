//! Writing generated rows: multi-row `INSERT`s as large as the backend's
//! bind-parameter limit allows, on the caller's connection or transaction.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, Iterable,
};

/// Most bind parameters one statement may carry: PostgreSQL's wire protocol
/// counts them in 16 bits; SQLite's default `SQLITE_MAX_VARIABLE_NUMBER` is
/// 32766 since 3.32.
fn max_parameters(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 32_766,
        _ => 65_535,
    }
}

/// Inserts rows table by table and keeps count, in insertion order.
pub(crate) struct Loader<'a, C> {
    db: &'a C,
    counts: Vec<(&'static str, u64)>,
}

impl<'a, C: ConnectionTrait> Loader<'a, C> {
    pub(crate) fn new(db: &'a C) -> Self {
        Self {
            db,
            counts: Vec::new(),
        }
    }

    /// Inserts every row of `rows` into `E`'s table, a full batch at a time,
    /// so a lazy iterator is never collected whole.
    pub(crate) async fn load<E, I>(&mut self, rows: I) -> Result<(), DbErr>
    where
        E: EntityTrait,
        E::Model: IntoActiveModel<E::ActiveModel>,
        E::ActiveModel: ActiveModelTrait<Entity = E>,
        I: IntoIterator<Item = E::Model>,
    {
        let columns = E::Column::iter().count();
        let batch_rows = (max_parameters(self.db.get_database_backend()) / columns).max(1);
        let mut batch = Vec::with_capacity(batch_rows);
        let mut total = 0;
        for row in rows {
            batch.push(row);
            if batch.len() == batch_rows {
                total += self.flush::<E>(&mut batch).await?;
            }
        }
        total += self.flush::<E>(&mut batch).await?;
        self.counts.push((E::default().table_name(), total));
        Ok(())
    }

    async fn flush<E>(&self, batch: &mut Vec<E::Model>) -> Result<u64, DbErr>
    where
        E: EntityTrait,
        E::Model: IntoActiveModel<E::ActiveModel>,
        E::ActiveModel: ActiveModelTrait<Entity = E>,
    {
        if batch.is_empty() {
            return Ok(0);
        }
        let rows = batch.len() as u64;
        E::insert_many(batch.drain(..).map(IntoActiveModel::into_active_model))
            .exec_without_returning(self.db)
            .await?;
        Ok(rows)
    }

    /// Rows inserted per table, in the order the tables were loaded.
    pub(crate) fn into_counts(self) -> Vec<(&'static str, u64)> {
        self.counts
    }
}
