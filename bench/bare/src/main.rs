//! The benchmark's ceiling: what a minimal Rust service does with the
//! bench's three requests on the same database. It takes the exact bodies
//! `just bench` sends Hearth (GraphQL documents, told apart by their
//! operation's name, never parsed) and answers the same JSON shapes from
//! one hand-written statement each, on axum and sqlx as Hearth uses them,
//! checking the same HS256 access token where Hearth needs a viewer.
//!
//! It exists to be measured against, not used: no GraphQL, no limits, no
//! event log, no idempotency, no rate limits.
//!
//!   DATABASE_URL=postgres://... PORT=8099 JWT_SECRET=... bare

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sea_orm::sqlx::{self, PgPool, postgres::PgPoolOptions};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A global id as Hearth makes it: base64url of `Type:uuid`, in SQL.
fn gid(kind: &str, column: &str) -> String {
    format!(
        "rtrim(translate(encode(convert_to('{kind}:' || {column}, 'UTF8'), 'base64'), '+/', '-_'), '=')"
    )
}

/// The signed-in feed (own posts, followees', joined communities'; readable;
/// newest first), a page of `$2` with each post's author, reaction counts
/// and first five top-level comments: the whole GraphQL response, built by
/// the database.
fn feed_sql() -> String {
    let post_id = gid("Post", "p.id");
    let comment_id = gid("Comment", "c.id");
    format!(
        "WITH page AS (
  SELECT p.*, row_number() OVER (ORDER BY p.created_at DESC, p.id DESC) AS rn FROM (
    SELECT p.* FROM posts p
    WHERE (p.author_id = $1
        OR p.author_id IN (SELECT followee_id FROM follows WHERE follower_id = $1)
        OR p.community_id IN (SELECT community_id FROM memberships WHERE user_id = $1))
      AND (p.community_id IS NULL
        OR p.community_id NOT IN (SELECT id FROM communities WHERE visibility = 'private')
        OR p.community_id IN (SELECT community_id FROM memberships WHERE user_id = $1))
      AND p.author_id NOT IN (SELECT id FROM users WHERE disabled_at IS NOT NULL)
    ORDER BY p.created_at DESC, p.id DESC
    LIMIT $2 + 1) p)
SELECT json_build_object('data', json_build_object('feed', json_build_object(
  'pageInfo', json_build_object(
    'hasNextPage', (SELECT count(*) FROM page) > $2,
    'endCursor', (SELECT {post_id} FROM page p WHERE rn = least($2, (SELECT count(*) FROM page)))),
  'edges', (SELECT coalesce(json_agg(json_build_object('node', json_build_object(
      'id', {post_id}, 'body', p.body, 'createdAt', p.created_at,
      'author', json_build_object('username', a.username, 'displayName', a.display_name),
      'reactionCounts', (
        SELECT coalesce(json_agg(json_build_object('kind', r.kind, 'count', r.n) ORDER BY r.n DESC, r.kind), '[]')
        FROM (SELECT kind, count(*) AS n FROM reactions WHERE post_id = p.id GROUP BY kind) r),
      'comments', json_build_object('edges', (
        SELECT coalesce(json_agg(json_build_object('node', json_build_object(
            'id', {comment_id}, 'body', c.body, 'createdAt', c.created_at,
            'author', json_build_object('username', ca.username, 'displayName', ca.display_name)))
          ORDER BY c.created_at, c.id), '[]')
        FROM (SELECT * FROM comments c
              WHERE c.post_id = p.id AND c.parent_id IS NULL
                AND c.author_id NOT IN (SELECT id FROM users WHERE disabled_at IS NOT NULL)
              ORDER BY c.created_at, c.id LIMIT 5) c
        JOIN users ca ON ca.id = c.author_id))))
    ORDER BY p.rn), '[]')
    FROM page p JOIN users a ON a.id = p.author_id WHERE p.rn <= $2))))::text"
    )
}

fn lookup_sql() -> String {
    format!(
        "SELECT json_build_object('data', json_build_object('user', json_build_object(
  'id', {}, 'username', u.username, 'displayName', u.display_name, 'bio', u.bio,
  'createdAt', u.created_at)))::text
FROM users u WHERE u.id = $1",
        gid("User", "u.id")
    )
}

/// A top-level comment by the viewer on a post the viewer may read (public,
/// or in a community they belong to), returning the response.
fn comment_sql() -> String {
    format!(
        "WITH inserted AS (
  INSERT INTO comments (id, post_id, author_id, body, created_at, updated_at)
  SELECT $1, p.id, $2, $4, now(), now() FROM posts p
  WHERE p.id = $3
    AND (p.community_id IS NULL
      OR p.community_id NOT IN (SELECT id FROM communities WHERE visibility = 'private')
      OR p.community_id IN (SELECT community_id FROM memberships WHERE user_id = $2))
  RETURNING id, body, created_at)
SELECT json_build_object('data', json_build_object('createComment', json_build_object(
  'id', {}, 'body', c.body, 'createdAt', c.created_at)))::text
FROM inserted c",
        gid("Comment", "c.id")
    )
}

struct Bare {
    pool: PgPool,
    key: DecodingKey,
    validation: Validation,
    // Built once at start-up and kept for the process's life, so sqlx
    // prepares each once per connection.
    feed: &'static str,
    lookup: &'static str,
    comment: &'static str,
}

#[derive(Deserialize)]
struct Request {
    query: String,
    #[serde(default)]
    variables: Value,
}

#[derive(Deserialize)]
struct Claims {
    sub: Uuid,
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn refused(status: StatusCode, message: &str) -> Response {
    json(
        status,
        serde_json::json!({ "errors": [{ "message": message }] }).to_string(),
    )
}

/// The row id inside a global id of `kind`.
fn row_id(id: &Value, kind: &str) -> Option<Uuid> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str()?).ok()?).ok()?;
    text.strip_prefix(kind)?.strip_prefix(':')?.parse().ok()
}

impl Bare {
    fn viewer(&self, headers: &HeaderMap) -> Option<Uuid> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).ok()?;
        Some(claims.claims.sub)
    }

    async fn answer(&self, headers: &HeaderMap, request: Request) -> Result<Response, sqlx::Error> {
        let operation = request
            .query
            .split(['(', '{', ' '])
            .nth(1)
            .unwrap_or_default();
        Ok(match operation {
            "Feed" => {
                let Some(viewer) = self.viewer(headers) else {
                    return Ok(refused(StatusCode::UNAUTHORIZED, "sign in"));
                };
                let body: String = sqlx::query_scalar(self.feed)
                    .bind(viewer)
                    .bind(20_i64)
                    .fetch_one(&self.pool)
                    .await?;
                json(StatusCode::OK, body)
            }
            "Lookup" => {
                let Some(id) = row_id(&request.variables["id"], "User") else {
                    return Ok(refused(StatusCode::BAD_REQUEST, "not a user id"));
                };
                let body: Option<String> = sqlx::query_scalar(self.lookup)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                json(
                    StatusCode::OK,
                    body.unwrap_or_else(|| r#"{"data":{"user":null}}"#.to_owned()),
                )
            }
            "Comment" => {
                let Some(viewer) = self.viewer(headers) else {
                    return Ok(refused(StatusCode::UNAUTHORIZED, "sign in"));
                };
                let (Some(post), Some(text)) = (
                    row_id(&request.variables["post"], "Post"),
                    request.variables["body"].as_str(),
                ) else {
                    return Ok(refused(StatusCode::BAD_REQUEST, "post and body needed"));
                };
                let body: Option<String> = sqlx::query_scalar(self.comment)
                    .bind(Uuid::now_v7())
                    .bind(viewer)
                    .bind(post)
                    .bind(text)
                    .fetch_optional(&self.pool)
                    .await?;
                match body {
                    Some(body) => json(StatusCode::OK, body),
                    None => refused(StatusCode::NOT_FOUND, "post not found"),
                }
            }
            _ => refused(StatusCode::BAD_REQUEST, "only Feed, Lookup and Comment"),
        })
    }
}

async fn graphql(
    State(bare): State<Arc<Bare>>,
    headers: HeaderMap,
    Json(request): Json<Request>,
) -> Response {
    match bare.answer(&headers, request).await {
        Ok(response) => response,
        Err(err) => refused(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is required"));
    let url = env("DATABASE_URL")?;
    let port: u16 = env("PORT")?.parse()?;
    let secret = env("JWT_SECRET")?;
    // Hearth's default pool size, so both have the same connections.
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["hearth"]);
    validation.set_audience(&["hearth"]);
    let bare = Arc::new(Bare {
        pool,
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
        feed: feed_sql().leak(),
        lookup: lookup_sql().leak(),
        comment: comment_sql().leak(),
    });
    let app = Router::new()
        .route("/graphql", post(graphql))
        .route("/health/ready", get(|| async { "ok" }))
        .with_state(bare);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
