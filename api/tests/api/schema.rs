//! The schema history: up, down, up gives the same schema on either backend,
//! and the constraints the domain relies on hold.

use chrono::Utc;
use migration::{Migrator, MigratorTrait, database::Backend};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, ModelTrait, Set};
use uuid::Uuid;

use crate::helpers::{TestDb, count_rows, insert_user, query_strings};

/// Every table, column, index and constraint, as comparable text.
async fn snapshot(db: &DatabaseConnection, backend: Backend) -> Vec<Vec<String>> {
    match backend {
        Backend::Sqlite => {
            query_strings(
                db,
                "SELECT type, name, COALESCE(sql, '') AS sql FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY type, name",
                &["type", "name", "sql"],
            )
            .await
        }
        Backend::Postgres => {
            let mut rows = query_strings(
                db,
                "SELECT table_name || '.' || column_name AS name, \
                        data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') AS sql \
                 FROM information_schema.columns WHERE table_schema = 'public' \
                 AND table_name <> 'seaql_migrations' ORDER BY table_name, column_name",
                &["name", "sql"],
            )
            .await;
            rows.extend(
                query_strings(
                    db,
                    "SELECT indexname AS name, indexdef AS sql FROM pg_indexes \
                     WHERE schemaname = 'public' AND tablename <> 'seaql_migrations' ORDER BY indexname",
                    &["name", "sql"],
                )
                .await,
            );
            rows.extend(
                query_strings(
                    db,
                    "SELECT conname::text AS name, pg_get_constraintdef(oid) AS sql FROM pg_constraint \
                     WHERE connamespace = 'public'::regnamespace ORDER BY conname",
                    &["name", "sql"],
                )
                .await,
            );
            rows
        }
    }
}

async fn table_count(db: &DatabaseConnection, backend: Backend) -> usize {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
        Backend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'"
        }
    };
    query_strings(db, sql, &["name"]).await.len()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_to_the_same_schema() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let backend = test_db.backend;

    Migrator::up(&db, None).await.expect("up");
    let first = snapshot(&db, backend).await;
    assert_eq!(
        table_count(&db, backend).await,
        36,
        "every domain table exists"
    );
    assert!(first.len() > 40, "the snapshot sees the schema: {first:?}");

    // A second up is a no-op.
    Migrator::up(&db, None).await.expect("second up");
    assert_eq!(snapshot(&db, backend).await, first);

    // Step down one at a time, then all the way.
    Migrator::down(&db, Some(1)).await.expect("down 1");
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("status")
            .len(),
        1
    );
    Migrator::down(&db, None).await.expect("down all");
    assert_eq!(
        table_count(&db, backend).await,
        0,
        "down removes every table"
    );

    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(
        snapshot(&db, backend).await,
        first,
        "up -> down -> up is the same schema"
    );
}

#[tokio::test]
async fn constraints_enforce_the_domain_rules() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    Migrator::up(&db, None).await.expect("up");
    let now = Utc::now();

    let alice = insert_user(&db, "alice", now).await;
    let bob = insert_user(&db, "bob", now).await;

    // Email and username are unique regardless of case.
    let mut twin = entity::user::ActiveModel::from(alice.clone());
    twin.id = Set(Uuid::now_v7());
    twin.username = Set("someone_else".into());
    twin.email = Set("ALICE@example.COM".into());
    assert!(
        twin.insert(&db).await.is_err(),
        "email is unique case-insensitively"
    );
    let mut twin = entity::user::ActiveModel::from(alice.clone());
    twin.id = Set(Uuid::now_v7());
    twin.username = Set("ALICE".into());
    twin.email = Set("other@example.com".into());
    assert!(
        twin.insert(&db).await.is_err(),
        "username is unique case-insensitively"
    );

    // Nobody follows themselves; a pair follows once.
    let follow = |follower: Uuid, followee: Uuid| entity::follow::ActiveModel {
        id: Set(Uuid::now_v7()),
        follower_id: Set(follower),
        followee_id: Set(followee),
        created_at: Set(now),
    };
    assert!(
        follow(alice.id, alice.id).insert(&db).await.is_err(),
        "self-follow refused"
    );
    follow(alice.id, bob.id).insert(&db).await.expect("follow");
    assert!(
        follow(alice.id, bob.id).insert(&db).await.is_err(),
        "follow pair unique"
    );

    // A community outlives its creator; posts and comments go with their author.
    let community = entity::community::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set("rustaceans".into()),
        name: Set("Rustaceans".into()),
        description: Set(String::new()),
        visibility: Set(entity::enums::CommunityVisibility::Public),
        created_by_id: Set(Some(bob.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db)
    .await
    .expect("community");
    let post = entity::post::ActiveModel {
        id: Set(Uuid::now_v7()),
        author_id: Set(bob.id),
        community_id: Set(Some(community.id)),
        body: Set("hello".into()),
        created_at: Set(now),
        updated_at: Set(now),
        removed_at: Set(None),
    }
    .insert(&db)
    .await
    .expect("post");
    let reaction = |user: Uuid| entity::reaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        post_id: Set(post.id),
        user_id: Set(user),
        kind: Set(entity::enums::ReactionKind::Like),
        created_at: Set(now),
    };
    reaction(alice.id).insert(&db).await.expect("react");
    assert!(
        reaction(alice.id).insert(&db).await.is_err(),
        "one reaction per user per post"
    );

    // A reply's parent is on the same post.
    let other_post = entity::post::ActiveModel {
        id: Set(Uuid::now_v7()),
        author_id: Set(alice.id),
        community_id: Set(None),
        body: Set("profile post".into()),
        created_at: Set(now),
        updated_at: Set(now),
        removed_at: Set(None),
    }
    .insert(&db)
    .await
    .expect("profile post");
    let comment = |post_id: Uuid, parent_id: Option<Uuid>| entity::comment::ActiveModel {
        id: Set(Uuid::now_v7()),
        post_id: Set(post_id),
        author_id: Set(alice.id),
        parent_id: Set(parent_id),
        body: Set("hi".into()),
        created_at: Set(now),
        updated_at: Set(now),
        removed_at: Set(None),
    };
    let top = comment(post.id, None).insert(&db).await.expect("comment");
    comment(post.id, Some(top.id))
        .insert(&db)
        .await
        .expect("reply on the same post");
    assert!(
        comment(other_post.id, Some(top.id))
            .insert(&db)
            .await
            .is_err(),
        "a reply to a comment of another post is refused"
    );

    // One owner per community; roles and slugs are checked.
    let membership = |user: Uuid, role| entity::membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        community_id: Set(community.id),
        user_id: Set(user),
        role: Set(role),
        created_at: Set(now),
    };
    use entity::enums::MembershipRole;
    membership(bob.id, MembershipRole::Owner)
        .insert(&db)
        .await
        .expect("owner");
    assert!(
        membership(alice.id, MembershipRole::Owner)
            .insert(&db)
            .await
            .is_err(),
        "a second owner is refused"
    );
    membership(alice.id, MembershipRole::Moderator)
        .insert(&db)
        .await
        .expect("moderator");
    for sql in [
        "UPDATE memberships SET role = 'emperor'",
        "UPDATE users SET role = 'root'",
        "UPDATE communities SET slug = 'Rustaceans'",
        "UPDATE reactions SET kind = 'meh'",
    ] {
        assert!(
            sea_orm::ConnectionTrait::execute_unprepared(&db, sql)
                .await
                .is_err(),
            "refused: {sql}"
        );
    }

    bob.clone().delete(&db).await.expect("delete bob");
    assert_eq!(
        count_rows(&db, "posts").await,
        1,
        "bob's post goes with him, alice's stays"
    );
    assert_eq!(
        count_rows(&db, "comments").await,
        0,
        "comments go with their post"
    );
    assert_eq!(
        count_rows(&db, "memberships").await,
        1,
        "bob's membership goes, alice's stays"
    );
    assert_eq!(
        count_rows(&db, "reactions").await,
        0,
        "reactions go with their post"
    );
    assert_eq!(
        count_rows(&db, "follows").await,
        0,
        "follows go with either side"
    );
    let kept = entity::community::Entity::find_by_id(community.id)
        .one(&db)
        .await
        .expect("query")
        .expect("community kept");
    assert_eq!(kept.created_by_id, None, "creator cleared, community kept");
}

/// (table, column) pairs: the first column of every foreign key, and the
/// leading column of every index.
async fn foreign_keys_and_index_heads(
    db: &DatabaseConnection,
    backend: Backend,
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let (fks, heads) = match backend {
        Backend::Sqlite => (
            "SELECT m.name AS tbl, f.\"from\" AS col FROM sqlite_master m \
             JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table' AND f.seq = 0",
            "SELECT m.name AS tbl, ii.name AS col FROM sqlite_master m \
             JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii \
             WHERE m.type = 'table' AND ii.seqno = 0",
        ),
        Backend::Postgres => (
            "SELECT c.conrelid::regclass::text AS tbl, a.attname::text AS col FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace",
            "SELECT i.indrelid::regclass::text AS tbl, a.attname::text AS col FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             JOIN pg_class t ON t.oid = i.indrelid \
             WHERE t.relnamespace = 'public'::regnamespace",
        ),
    };
    (
        query_strings(db, fks, &["tbl", "col"]).await,
        query_strings(db, heads, &["tbl", "col"]).await,
    )
}

#[tokio::test]
async fn every_foreign_key_leads_an_index() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    Migrator::up(&db, None).await.expect("up");
    let (fks, heads) = foreign_keys_and_index_heads(&db, test_db.backend).await;
    assert!(fks.len() >= 20, "the query sees the foreign keys: {fks:?}");
    let missing: Vec<_> = fks.iter().filter(|fk| !heads.contains(fk)).collect();
    assert!(
        missing.is_empty(),
        "foreign keys without an index: {missing:?}"
    );
}

/// The migration that makes one-to-one conversations unique keys the ones
/// already there: the oldest of a pair's conversations gets the key (a
/// duplicate from before stays, without it), groups get none.
#[tokio::test]
async fn existing_one_to_one_conversations_get_their_key() {
    use sea_orm::{
        ConnectionTrait,
        sea_query::{Alias, Query},
    };
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    Migrator::up(&db, Some(7)).await.expect("up to the seventh");
    let now = Utc::now();
    let ann = insert_user(&db, "ann", now).await.id;
    let bob = insert_user(&db, "bob", now).await.id;
    let cat = insert_user(&db, "cat", now).await.id;
    let (first, second, group) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (id, people) in [
        (first, vec![ann, bob]),
        (second, vec![bob, ann]),
        (group, vec![ann, bob, cat]),
    ] {
        let insert = Query::insert()
            .into_table(Alias::new("conversations"))
            .columns(["id", "created_at", "last_message_at"].map(Alias::new))
            .values_panic([id.into(), now.into(), now.into()])
            .to_owned();
        db.execute(&insert).await.expect("conversation");
        for user_id in people {
            entity::conversation_participant::ActiveModel {
                id: Set(Uuid::now_v7()),
                conversation_id: Set(id),
                user_id: Set(user_id),
                created_at: Set(now),
                last_read_at: Set(None),
            }
            .insert(&db)
            .await
            .expect("participant");
        }
    }
    Migrator::up(&db, None).await.expect("up");
    let key = |id: Uuid| {
        let db = &db;
        async move {
            entity::conversation::Entity::find_by_id(id)
                .one(db)
                .await
                .expect("query")
                .expect("row")
                .direct_key
        }
    };
    assert_eq!(
        key(first).await,
        Some(entity::conversation::direct_key(ann, bob))
    );
    assert_eq!(key(second).await, None);
    assert_eq!(key(group).await, None);
}
