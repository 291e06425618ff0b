//! Which of an event's subscribers may see its row, for all of them at
//! once.
//!
//! One comment on a busy post wakes every subscription to that post, and
//! each must check the comment through the same read rules as a query
//! (blocks either way, private communities, moderation). Asked one by one
//! that is one statement per subscriber per event. Asked through the shared
//! DataLoader, the checks gather into batches: the rows are read once, and
//! one statement per few hundred signed-in subscribers keeps the (row,
//! reader) pairs the rules allow. The rules are the queries' own, written
//! with the reader as a column (`reader.id`) instead of a bound id.
//!
//! Live events are checked by the broker before they go out ([`Checked`]),
//! for every viewer subscribed to them in one go; the loader serves what
//! the broker did not check (events replayed from the log, subscribers
//! that came while the check ran).

use std::collections::{HashMap, HashSet};

use async_graphql::dataloader::Loader;
use entity::{comment, post, user};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

use crate::{
    comments::service as comments,
    events::Event,
    graphql::loader::{DbLoader, LoadResult, db_error},
    posts::service as posts,
    safety::service as safety,
};

/// Signed-in readers checked per statement: well under SQLite's limit of
/// bound values, and a bounded amount of work for one statement.
const READERS_PER_STATEMENT: usize = 500;

/// A comment, if `viewer` may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CommentFor {
    pub comment: Uuid,
    pub viewer: Option<Uuid>,
}

/// A post, if `viewer` may read it and, when `actor` is set (whoever
/// reacted), no block stands between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PostFor {
    pub post: Uuid,
    pub viewer: Option<Uuid>,
    pub actor: Option<Uuid>,
}

/// An event's row as each of its subscribers' viewers may read it,
/// checked once for all of them.
#[derive(Default)]
pub(crate) struct Checked {
    row: Option<Row>,
    /// Each viewer checked, and whether they may read `row`.
    viewers: HashMap<Option<Uuid>, bool>,
}

enum Row {
    Comment(comment::Model),
    Post(post::Model),
}

/// The loader key that checks `event`'s row for `viewer`, for the events
/// checked ahead: those whose row many subscribers load (comments,
/// reactions, posts). Messages and notifications go to their few
/// recipients, which load them.
enum Key {
    Comment(CommentFor),
    Post(PostFor),
}

impl Key {
    fn of(event: &Event, viewer: Option<Uuid>) -> Option<Self> {
        Some(match *event {
            Event::CommentCreated { comment, .. } => Self::Comment(CommentFor { comment, viewer }),
            Event::ReactionChanged { post, user, .. } => Self::Post(PostFor {
                post,
                viewer,
                actor: Some(user),
            }),
            Event::PostCreated { post, .. } => Self::Post(PostFor {
                post,
                viewer,
                actor: None,
            }),
            _ => return None,
        })
    }
}

impl Checked {
    /// Whether events like this one are checked ahead.
    pub(crate) fn applies(event: &Event) -> bool {
        Key::of(event, None).is_some()
    }

    /// Checks each event's row for its viewers, all of them with one
    /// loader call per kind of row. A failed check checks nobody: each
    /// subscriber then loads the row itself, and reports the error if it
    /// fails again.
    pub(crate) async fn run(
        loader: &DbLoader,
        events: &[(&Event, Vec<Option<Uuid>>)],
    ) -> Vec<Self> {
        let keys = |event: &Event, viewers: &[Option<Uuid>]| -> Vec<Key> {
            viewers.iter().filter_map(|&v| Key::of(event, v)).collect()
        };
        let keyed: Vec<Vec<Key>> = events.iter().map(|(e, v)| keys(e, v)).collect();
        let (mut comments, mut posts) = (Vec::new(), Vec::new());
        for key in keyed.iter().flatten() {
            match key {
                Key::Comment(key) => comments.push(*key),
                Key::Post(key) => posts.push(*key),
            }
        }
        // `None`: the check failed, so nobody was checked.
        let comments = load_all(loader, comments).await;
        let posts = load_all(loader, posts).await;
        keyed
            .into_iter()
            .map(|keys| {
                let mut checked = Self::default();
                for key in keys {
                    // One copy of the row, whoever may read it.
                    let copy = checked.row.is_none();
                    // `None`: not checked; `Some(None)`: may not read it;
                    // `Some(Some(row))`: may, with the row if it is the first.
                    let (viewer, found) = match key {
                        Key::Comment(key) => (
                            key.viewer,
                            comments.as_ref().map(|c| {
                                c.get(&key)
                                    .map(|row| copy.then(|| Row::Comment(row.clone())))
                            }),
                        ),
                        Key::Post(key) => (
                            key.viewer,
                            posts.as_ref().map(|p| {
                                p.get(&key).map(|row| copy.then(|| Row::Post(row.clone())))
                            }),
                        ),
                    };
                    let Some(readable) = found else { continue };
                    checked.viewers.insert(viewer, readable.is_some());
                    if let Some(Some(row)) = readable {
                        checked.row = Some(row);
                    }
                }
                checked
            })
            .collect()
    }

    /// The comment as `viewer` may read it (`Some(None)`: they may not),
    /// or `None` if `viewer` was not checked.
    pub(crate) fn comment(&self, viewer: Option<Uuid>) -> Option<Option<comment::Model>> {
        self.answer(viewer, |row| match row {
            Row::Comment(comment) => Some(comment.clone()),
            Row::Post(_) => None,
        })
    }

    /// The post as `viewer` may read it (`Some(None)`: they may not), or
    /// `None` if `viewer` was not checked.
    pub(crate) fn post(&self, viewer: Option<Uuid>) -> Option<Option<post::Model>> {
        self.answer(viewer, |row| match row {
            Row::Post(post) => Some(post.clone()),
            Row::Comment(_) => None,
        })
    }

    fn answer<M>(
        &self,
        viewer: Option<Uuid>,
        take: impl Fn(&Row) -> Option<M>,
    ) -> Option<Option<M>> {
        let allowed = *self.viewers.get(&viewer)?;
        // A row of another kind than asked means the event was not this
        // subscriber's to check: it loads its own.
        match self.row.as_ref() {
            Some(row) if allowed => take(row).map(Some),
            _ => Some(None),
        }
    }
}

/// The rows `keys` find, or `None` if they cannot be read (logged).
async fn load_all<K>(
    loader: &DbLoader,
    keys: Vec<K>,
) -> Option<HashMap<K, <DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    if keys.is_empty() {
        return Some(HashMap::new());
    }
    loader
        .load(&keys)
        .await
        .inspect_err(|err| {
            tracing::warn!(error = ?err, "cannot check events' readers; each loads its own");
        })
        .ok()
}

impl Loader<CommentFor> for DbLoader {
    type Value = comment::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CommentFor]) -> LoadResult<CommentFor, comment::Model> {
        let pairs: Vec<_> = keys.iter().map(|k| (k.comment, k.viewer)).collect();
        let rows = self
            .readable_rows::<comment::Entity>(
                comment::Column::Id,
                &pairs,
                comments::readable_to,
                |c| c.id,
            )
            .await?;
        Ok(rows
            .map(|((comment, viewer), row)| (CommentFor { comment, viewer }, row))
            .collect())
    }
}

impl Loader<PostFor> for DbLoader {
    type Value = post::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PostFor]) -> LoadResult<PostFor, post::Model> {
        // The rule depends on who acted: one check per actor (a batch
        // usually has one, or none for new posts).
        let mut by_actor: HashMap<Option<Uuid>, Vec<(Uuid, Option<Uuid>)>> = HashMap::new();
        for key in keys {
            by_actor
                .entry(key.actor)
                .or_default()
                .push((key.post, key.viewer));
        }
        let mut found = HashMap::new();
        for (actor, pairs) in by_actor {
            let rule = |reader: Option<Expr>| {
                let mut rule = posts::readable_to(reader.clone());
                if let (Some(actor), Some(reader)) = (actor, reader) {
                    rule = rule.add(Expr::exists(safety::blocks_between(reader, actor)).not());
                }
                rule
            };
            let rows = self
                .readable_rows::<post::Entity>(post::Column::Id, &pairs, rule, |p| p.id)
                .await?;
            found.extend(rows.map(|((post, viewer), row)| {
                let key = PostFor {
                    post,
                    viewer,
                    actor,
                };
                (key, row)
            }));
        }
        Ok(found)
    }
}

impl DbLoader {
    /// The `(row id, viewer)` pairs whose viewer may read the row by `rule`,
    /// each with its row: [`readable_pairs`](Self::readable_pairs), then
    /// one read of the rows they name.
    async fn readable_rows<E: EntityTrait>(
        &self,
        id_column: E::Column,
        pairs: &[(Uuid, Option<Uuid>)],
        rule: impl Fn(Option<Expr>) -> Condition,
        id_of: impl Fn(&E::Model) -> Uuid,
    ) -> Result<impl Iterator<Item = ((Uuid, Option<Uuid>), E::Model)>, async_graphql::Error>
    where
        E::Model: Clone,
    {
        let readable = self.readable_pairs::<E>(id_column, pairs, rule).await?;
        let rows = self
            .rows::<E>(id_column, readable.iter().map(|p| p.0), id_of)
            .await?;
        Ok(readable
            .into_iter()
            .filter_map(move |pair| Some((pair, rows.get(&pair.0)?.clone()))))
    }

    /// Those of the `(row id, viewer)` pairs whose viewer may read the row
    /// of `E` by `rule` (given the reader as SQL). Anonymous viewers are one
    /// statement for all their rows; signed-in ones are checked
    /// [`READERS_PER_STATEMENT`] at a time, each statement pairing the
    /// readers (`users AS reader`) with the batch's rows and keeping the
    /// pairs the rule allows. Pairs no key asked for are dropped.
    async fn readable_pairs<E: EntityTrait>(
        &self,
        id_column: E::Column,
        pairs: &[(Uuid, Option<Uuid>)],
        rule: impl Fn(Option<Expr>) -> Condition,
    ) -> Result<Vec<(Uuid, Option<Uuid>)>, async_graphql::Error> {
        let wanted: HashSet<(Uuid, Option<Uuid>)> = pairs.iter().copied().collect();
        let mut allowed = Vec::new();
        let anonymous: Vec<Uuid> = distinct(pairs.iter().filter(|p| p.1.is_none()).map(|p| p.0));
        if !anonymous.is_empty() {
            let query = Query::select()
                .column(id_column)
                .from(E::default())
                .cond_where(
                    Condition::all()
                        .add(self.any_of(id_column, anonymous))
                        .add(rule(None)),
                )
                .to_owned();
            for row in self.db.query_all(&query).await.map_err(db_error)? {
                allowed.push((uuid_at(&row, 0)?, None));
            }
        }
        let rows = distinct(pairs.iter().filter(|p| p.1.is_some()).map(|p| p.0));
        let readers = distinct(pairs.iter().filter_map(|p| p.1));
        let reader = || Expr::col((Alias::new("reader"), user::Column::Id));
        for chunk in readers.chunks(READERS_PER_STATEMENT) {
            let query = Query::select()
                .expr(id_column.into_expr())
                .expr(reader())
                .from(E::default())
                .from_as(user::Entity, Alias::new("reader"))
                .cond_where(
                    Condition::all()
                        .add(self.any_of(id_column, rows.iter().copied()))
                        .add(self.is_any_of(reader(), chunk.iter().copied()))
                        .add(rule(Some(reader()))),
                )
                .to_owned();
            for row in self.db.query_all(&query).await.map_err(db_error)? {
                let pair = (uuid_at(&row, 0)?, Some(uuid_at(&row, 1)?));
                if wanted.contains(&pair) {
                    allowed.push(pair);
                }
            }
        }
        Ok(allowed)
    }

    /// The rows of `E` with these ids, by id (`id_of`).
    async fn rows<E: EntityTrait>(
        &self,
        id_column: E::Column,
        ids: impl Iterator<Item = Uuid>,
        id_of: impl Fn(&E::Model) -> Uuid,
    ) -> Result<HashMap<Uuid, E::Model>, async_graphql::Error> {
        let ids = distinct(ids);
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = E::find()
            .filter(self.any_of(id_column, ids))
            .all(&self.db)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|row| (id_of(&row), row)).collect())
    }
}

/// Each id once, in first-seen order.
fn distinct(ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}

fn uuid_at(row: &QueryResult, index: usize) -> Result<Uuid, async_graphql::Error> {
    row.try_get_by_index(index).map_err(db_error)
}
