//! The seeder on either backend, as the binary calls it: same seed, same
//! rows; a seeded database is refused unless reset; the demo account has
//! something to look at.

use entity::{
    enums::{CommunityVisibility, MembershipRole},
    prelude::*,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, Iterable, PaginatorTrait, PrimaryKeyToColumn,
    QueryFilter, QueryOrder,
};
use seed::{DEMO_EMAIL, DEMO_USERNAME, Scale, SeedError, SeedOptions};

use crate::helpers::TestDb;

const SMALL: SeedOptions = SeedOptions {
    scale: Scale::Small,
    seed: 42,
    reset: false,
};

/// Every row of `E`, by primary key.
async fn rows<E: EntityTrait>(db: &DatabaseConnection) -> Vec<E::Model> {
    let mut select = E::find();
    for key in E::PrimaryKey::iter() {
        select = select.order_by_asc(key.into_column());
    }
    select.all(db).await.expect("select")
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows() {
    let (one, two, three) = (
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    );
    let (a, b, c) = (
        one.connect().await,
        two.connect().await,
        three.connect().await,
    );
    let first = seed::run(&a, &SMALL).await.expect("seed a");
    let second = seed::run(&b, &SMALL).await.expect("seed b");
    assert_eq!(first.tables, second.tables);
    assert!(first.total_rows() > 3_000, "{first}");
    assert!(
        first.tables.iter().all(|(_, n)| *n > 0),
        "every table is filled: {first}"
    );

    macro_rules! assert_same_rows {
        ($($entity:ty),+) => {$(
            assert!(
                rows::<$entity>(&a).await == rows::<$entity>(&b).await,
                "{} differs between two runs with the same seed",
                stringify!($entity)
            );
        )+};
    }
    assert_same_rows!(
        User,
        Community,
        Membership,
        Follow,
        Post,
        Comment,
        Reaction,
        Conversation,
        ConversationParticipant,
        Message
    );

    let other = SeedOptions { seed: 7, ..SMALL };
    seed::run(&c, &other).await.expect("seed c");
    assert!(
        rows::<Post>(&a).await != rows::<Post>(&c).await,
        "another seed, other rows"
    );
}

#[tokio::test]
async fn a_seeded_database_is_refused_unless_reset() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let first = seed::run(&db, &SMALL).await.expect("seed");
    let comments = Comment::find().count(&db).await.expect("count");

    let refused = seed::run(&db, &SMALL).await.expect_err("must refuse");
    assert!(matches!(refused, SeedError::NotEmpty { table: "users" }));
    let message = refused.to_string();
    assert!(
        message.contains("not empty") && message.contains("--reset"),
        "{message}"
    );
    assert_eq!(
        Comment::find().count(&db).await.expect("count"),
        comments,
        "nothing written"
    );

    let reset = SeedOptions {
        reset: true,
        ..SMALL
    };
    let again = seed::run(&db, &reset).await.expect("reseed");
    assert_eq!(
        first.tables, again.tables,
        "seeding twice gives the same counts"
    );
    assert_eq!(Comment::find().count(&db).await.expect("count"), comments);
}

#[tokio::test]
async fn the_demo_account_has_a_full_view() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    seed::run(&db, &SMALL).await.expect("seed");

    let demo = User::find()
        .filter(entity::user::Column::Email.eq(DEMO_EMAIL))
        .one(&db)
        .await
        .expect("query")
        .expect("demo account");
    assert_eq!(demo.username, DEMO_USERNAME);
    assert!(demo.email_verified_at.is_some());

    let follows = Follow::find()
        .filter(entity::follow::Column::FollowerId.eq(demo.id))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(follows, 30);
    let followers = Follow::find()
        .filter(entity::follow::Column::FolloweeId.eq(demo.id))
        .count(&db)
        .await
        .expect("count");
    assert!(followers > 0);

    let memberships = Membership::find()
        .filter(entity::membership::Column::UserId.eq(demo.id))
        .find_also_related(Community)
        .all(&db)
        .await
        .expect("query");
    let has = |role, visibility| {
        memberships
            .iter()
            .any(|(m, c)| m.role == role && c.as_ref().is_some_and(|c| c.visibility == visibility))
    };
    assert!(has(MembershipRole::Owner, CommunityVisibility::Public));
    assert!(has(MembershipRole::Moderator, CommunityVisibility::Private));

    let posts = Post::find()
        .filter(entity::post::Column::AuthorId.eq(demo.id))
        .count(&db)
        .await
        .expect("count");
    assert!(posts >= 5);
    let messages = Message::find()
        .filter(entity::message::Column::SenderId.eq(demo.id))
        .count(&db)
        .await
        .expect("count");
    assert!(messages > 0);
}
