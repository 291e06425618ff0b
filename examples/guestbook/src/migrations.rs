//! The guestbook's table, in one history with Hearth's migrations.

use migration::{
    ColumnDef, DbErr, DeriveIden, ForeignKey, ForeignKeyAction, MigrationName, MigrationTrait,
    MigratorTrait, SchemaManager, Table, async_trait,
};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migration::with_hearth(vec![Box::new(CreateGuestbook)])
    }
}

/// Named like sea-orm-migration's files (`mYYYYMMDD_HHMMSS_what`), so it
/// sorts after the Hearth migrations it builds on (it points at `users`).
struct CreateGuestbook;

impl MigrationName for CreateGuestbook {
    fn name(&self) -> &str {
        "m20261206_120000_guestbook"
    }
}

#[derive(DeriveIden)]
enum GuestbookEntries {
    Table,
    Id,
    AuthorId,
    Message,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateGuestbook {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GuestbookEntries::Table)
                    .col(
                        ColumnDef::new(GuestbookEntries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(GuestbookEntries::AuthorId).uuid().not_null())
                    .col(ColumnDef::new(GuestbookEntries::Message).text().not_null())
                    .col(
                        ColumnDef::new(GuestbookEntries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // An entry goes with its author's account.
                    .foreign_key(
                        ForeignKey::create()
                            .from(GuestbookEntries::Table, GuestbookEntries::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GuestbookEntries::Table).to_owned())
            .await
    }
}
