//! The seeder: deterministic, refuses to overwrite data, repeatable.

use seed::{Scale, SeedOptions};

use crate::helpers::{TestDb, count_rows, query_strings};

const TABLES: [&str; 10] = [
    "users",
    "communities",
    "memberships",
    "posts",
    "comments",
    "reactions",
    "follows",
    "conversations",
    "conversation_participants",
    "messages",
];

fn options(seed: u64, reset: bool) -> SeedOptions {
    SeedOptions {
        scale: Scale::Small,
        seed,
        reset,
    }
}

async fn counts(db: &sea_orm::DatabaseConnection) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push(count_rows(db, table).await);
    }
    counts
}

/// A fingerprint of the rows that matter: ids, names, bodies.
async fn fingerprint(db: &sea_orm::DatabaseConnection) -> Vec<Vec<String>> {
    let mut rows = query_strings(
        db,
        "SELECT CAST(id AS TEXT) AS a, username AS b FROM users ORDER BY id",
        &["a", "b"],
    )
    .await;
    rows.extend(
        query_strings(
            db,
            "SELECT CAST(id AS TEXT) AS a, body AS b FROM posts ORDER BY id",
            &["a", "b"],
        )
        .await,
    );
    rows
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows() {
    let (one, two, other) = (TestDb::new().await, TestDb::new().await, TestDb::new().await);
    let (one, two, other) = (one.connect().await, two.connect().await, other.connect().await);
    seed::run(&one, &options(7, false)).await.expect("seed one");
    seed::run(&two, &options(7, false)).await.expect("seed two");
    seed::run(&other, &options(8, false)).await.expect("seed other");

    let counts_one = counts(&one).await;
    assert!(counts_one.iter().all(|&n| n > 0), "every table is filled: {counts_one:?}");
    assert_eq!(counts_one, counts(&two).await);
    let fingerprint_one = fingerprint(&one).await;
    assert_eq!(fingerprint_one, fingerprint(&two).await, "same seed, same rows");
    assert_ne!(fingerprint_one, fingerprint(&other).await, "another seed, other rows");

    let demo = query_strings(&one, "SELECT email FROM users WHERE username = 'demo'", &["email"]).await;
    assert_eq!(demo, [[seed::DEMO_EMAIL.to_owned()]], "the demo account exists");
}

#[tokio::test]
async fn refuses_a_non_empty_database_unless_reset() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    seed::run(&db, &options(1, false)).await.expect("first seed");
    let before = counts(&db).await;

    let err = seed::run(&db, &options(2, false)).await.expect_err("refused");
    assert!(err.to_string().contains("--reset"), "{err}");
    assert_eq!(counts(&db).await, before, "nothing written when refused");

    seed::run(&db, &options(1, true)).await.expect("reseed with reset");
    assert_eq!(counts(&db).await, before, "seeding twice gives the same counts");
}
