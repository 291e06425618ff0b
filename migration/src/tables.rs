//! Table and column names, and the small builders every migration shares.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    Username,
    DisplayName,
    Bio,
    AvatarFileId,
    Role,
    PasswordHash,
    EmailVerifiedAt,
    DisabledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Files {
    Table,
    Id,
    OwnerId,
    StorageKey,
    ContentType,
    SizeBytes,
    ChecksumSha256,
    OriginalName,
    Width,
    Height,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Sessions {
    Table,
    Id,
    UserId,
    DeviceName,
    DeviceSecretHash,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    CreatedAt,
    RotatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum OneTimeTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Communities {
    Table,
    Id,
    Slug,
    Name,
    Description,
    Visibility,
    CreatedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Memberships {
    Table,
    Id,
    CommunityId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Posts {
    Table,
    Id,
    AuthorId,
    CommunityId,
    Body,
    CreatedAt,
    UpdatedAt,
    RemovedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Comments {
    Table,
    Id,
    PostId,
    AuthorId,
    ParentId,
    Body,
    CreatedAt,
    UpdatedAt,
    RemovedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Reactions {
    Table,
    Id,
    PostId,
    UserId,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Follows {
    Table,
    Id,
    FollowerId,
    FolloweeId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Conversations {
    Table,
    Id,
    CreatedById,
    CreatedAt,
    LastMessageAt,
    DirectKey,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum ConversationParticipants {
    Table,
    Id,
    ConversationId,
    UserId,
    CreatedAt,
    LastReadAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Messages {
    Table,
    Id,
    ConversationId,
    SenderId,
    Body,
    CreatedAt,
}

/// A named foreign key, so `down` and error messages can refer to it.
pub(crate) fn foreign_key(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .to_owned()
}

/// A plain (or unique) B-tree index on `cols`, in order.
pub(crate) fn index<T: IntoIden + Copy + 'static>(
    name: &str,
    table: impl IntoIden,
    cols: &[T],
    unique: bool,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    if unique {
        index.unique();
    }
    index.clone()
}

/// Creates each index in turn.
pub(crate) async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: Vec<IndexCreateStatement>,
) -> Result<(), DbErr> {
    for index in indexes {
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Drops tables, children first.
pub(crate) async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: Vec<DynIden>,
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).if_exists().to_owned())
            .await?;
    }
    Ok(())
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum PostAttachments {
    Table,
    PostId,
    FileId,
    Position,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Events {
    Table,
    Position,
    Txid,
    Kind,
    ActorId,
    CommunityId,
    PostId,
    ConversationId,
    UserId,
    Data,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum EventCursors {
    Table,
    Name,
    Txid,
    Position,
    UpdatedAt,
    Holder,
    LeasedUntil,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum IdempotencyKeys {
    Table,
    AccountId,
    Key,
    Operation,
    Fingerprint,
    ResultId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum WebhookEndpoints {
    Table,
    Id,
    Url,
    Kinds,
    Secret,
    Description,
    Enabled,
    CreatedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventTxid,
    EventPosition,
    Kind,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastStatusCode,
    LastLatencyMs,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    Attempt,
    At,
    StatusCode,
    LatencyMs,
    Error,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum RateLimits {
    Table,
    Key,
    Tat,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum HookFailures {
    Table,
    Id,
    Hook,
    Txid,
    Position,
    Kind,
    Error,
    Attempts,
    FailedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Identities {
    Table,
    Id,
    UserId,
    Provider,
    Subject,
    Email,
    EmailVerified,
    PictureUrl,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum OauthFlows {
    Table,
    Id,
    StateHash,
    Provider,
    RedirectUri,
    DeviceSecretHash,
    Nonce,
    CodeVerifier,
    DisplayName,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum EmailCodes {
    Table,
    Id,
    Email,
    CodeHash,
    Attempts,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum AuditLog {
    Table,
    Id,
    ActorId,
    ActorName,
    Action,
    TargetType,
    TargetId,
    Detail,
    Ip,
    CreatedAt,
}
