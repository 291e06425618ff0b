//! Every seeded row, made from the seed alone.
//!
//! Each table draws from its own ChaCha stream of the same seed, so the rows
//! depend only on `(seed, scale)`: not on the backend, the batch size, or how
//! another table happens to be generated. Times are whole milliseconds before
//! a fixed anchor, never the clock, and ids are UUIDv7 built from the row's
//! own `created_at`, so they sort by creation as the API's ids do.
//!
//! Comments and reactions (the big tables) are produced lazily, post by post,
//! so the bench scale never holds a million rows at once.

use chrono::{DateTime, TimeDelta, Utc};
use entity::{
    comment, community, conversation, conversation_participant,
    enums::{CommunityVisibility, MembershipRole, ReactionKind, UserRole},
    follow, membership, message, post, reaction, user,
};
use fake::{
    Fake,
    faker::{
        lorem::en::{Sentence, Sentences},
        name::en::{FirstName, LastName},
    },
};
use rand::{Rng, SeedableRng, seq::index::sample};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::{DEMO_EMAIL, DEMO_PASSWORD_HASH, DEMO_USERNAME, Scale};

/// 2026-01-01T00:00:00Z in Unix milliseconds: the "now" of the seeded world.
const ANCHOR_MS: i64 = 1_767_225_600_000;
const DAY_MS: i64 = 86_400_000;
/// The seeded history covers the 180 days before the anchor.
const START_MS: i64 = ANCHOR_MS - 180 * DAY_MS;
/// Accounts and communities are created early enough to have some activity.
const LAST_SIGNUP_MS: i64 = ANCHOR_MS - 14 * DAY_MS;

/// How many rows of each kind a scale asks for. Counts named `*_per_*` are
/// means of uniform draws around them, so those totals are approximate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Accounts, the demo account included.
    pub users: usize,
    pub communities: usize,
    pub members_per_community: usize,
    pub follows_per_user: usize,
    pub posts: usize,
    pub comments_per_post: usize,
    pub reactions_per_post: usize,
    pub conversations: usize,
    pub messages_per_conversation: usize,
    /// The demo account's own share, so its views are never empty.
    pub demo_follows: usize,
    pub demo_followers: usize,
    pub demo_posts: usize,
    pub demo_conversations: usize,
}

impl Sizes {
    pub(crate) fn of(scale: Scale) -> Self {
        match scale {
            Scale::Small => Self {
                users: 50,
                communities: 5,
                members_per_community: 16,
                follows_per_user: 8,
                posts: 300,
                comments_per_post: 5,
                reactions_per_post: 3,
                conversations: 20,
                messages_per_conversation: 8,
                demo_follows: 30,
                demo_followers: 12,
                demo_posts: 5,
                demo_conversations: 6,
            },
            Scale::Bench => Self {
                users: 10_000,
                communities: 100,
                members_per_community: 1_000,
                follows_per_user: 20,
                posts: 100_000,
                comments_per_post: 10,
                reactions_per_post: 5,
                conversations: 5_000,
                messages_per_conversation: 20,
                demo_follows: 30,
                demo_followers: 40,
                demo_posts: 8,
                demo_conversations: 12,
            },
        }
    }
}

/// One random stream per table (see the module docs).
#[derive(Debug, Clone, Copy)]
enum Stream {
    Users = 1,
    Communities,
    Memberships,
    Follows,
    Posts,
    Comments,
    Reactions,
    Conversations,
}

/// Community names: the first round uses them as they are, later rounds
/// append a number (bench has 100 communities).
const TOPICS: &[&str] = &[
    "Hearth Lounge",
    "Home Cooking",
    "Board Games",
    "Trail Running",
    "Rustaceans",
    "Photography",
    "Gardening",
    "Indie Music",
    "Book Club",
    "Film Buffs",
    "Woodworking",
    "Cycling",
    "Astronomy",
    "Coffee Nerds",
    "Retro Computing",
    "Language Exchange",
    "Parenting",
    "Climbing",
    "Urban Sketching",
    "Mechanical Keyboards",
];

/// Reserved for documentation (RFC 2606): seeded addresses reach nobody.
const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

/// Reaction kinds with their relative frequency.
const REACTION_WEIGHTS: &[(ReactionKind, u32)] = &[
    (ReactionKind::Like, 50),
    (ReactionKind::Love, 20),
    (ReactionKind::Laugh, 12),
    (ReactionKind::Wow, 8),
    (ReactionKind::Sad, 6),
    (ReactionKind::Angry, 4),
];

/// How often a comment replies to an earlier one. The first comment on a
/// post never can, so this is a little above the third of replies we want.
const REPLY_CHANCE: f64 = 0.4;

/// Index of the demo account in [`Generator::users`]'s result.
const DEMO: usize = 0;
/// The community the demo account owns, and the private one it moderates.
const DEMO_OWNED: usize = 0;
const DEMO_MODERATED: usize = 1;
/// A community the demo account is a plain member of.
const DEMO_JOINED: usize = 2;

/// Who is in which community and since when (Unix ms), by index into the
/// generated users and communities.
#[derive(Debug, Default)]
pub(crate) struct Roster {
    pub by_community: Vec<Vec<(usize, i64)>>,
    pub by_user: Vec<Vec<(usize, i64)>>,
}

/// A generated post, with what comments and reactions need to know.
#[derive(Debug)]
pub(crate) struct Post {
    pub row: post::Model,
    /// Set for a post in a private community: only its members may comment
    /// or react there.
    pub private_community: Option<usize>,
}

/// The direct-message tables, generated together since each needs the others.
#[derive(Debug, Default)]
pub(crate) struct Conversations {
    pub conversations: Vec<conversation::Model>,
    pub participants: Vec<conversation_participant::Model>,
    pub messages: Vec<message::Model>,
}

/// Makes the rows; each method is deterministic given the seed and its inputs.
#[derive(Debug)]
pub(crate) struct Generator {
    seed: u64,
    sizes: Sizes,
}

impl Generator {
    pub(crate) fn new(seed: u64, scale: Scale) -> Self {
        Self {
            seed,
            sizes: Sizes::of(scale),
        }
    }

    fn rng(&self, stream: Stream) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream as u64);
        rng
    }

    /// The demo account first (the oldest account), then everyone else.
    pub(crate) fn users(&self) -> Vec<user::Model> {
        let mut rng = self.rng(Stream::Users);
        let mut users = Vec::with_capacity(self.sizes.users);
        users.push(user::Model {
            id: new_id(&mut rng, START_MS),
            email: DEMO_EMAIL.to_owned(),
            username: DEMO_USERNAME.to_owned(),
            display_name: "Demo User".to_owned(),
            bio: "The demo account. Every seeded account shares its password.".to_owned(),
            avatar_file_id: None,
            role: UserRole::User,
            password_hash: DEMO_PASSWORD_HASH.to_owned(),
            email_verified_at: Some(at(START_MS + 60_000)),
            disabled_at: None,
            created_at: at(START_MS),
            updated_at: at(START_MS),
        });
        for index in 1..self.sizes.users {
            let first: String = FirstName().fake_with_rng(&mut rng);
            let last: String = LastName().fake_with_rng(&mut rng);
            let created = between(&mut rng, START_MS + 1, LAST_SIGNUP_MS);
            let username = username(&first, &last, index);
            let domain = pick(&mut rng, EMAIL_DOMAINS);
            let bio = if rng.random_bool(0.7) {
                sentence(&mut rng, 4..12)
            } else {
                String::new()
            };
            let verified = rng
                .random_bool(0.9)
                .then(|| at(between(&mut rng, created, created + DAY_MS)));
            users.push(user::Model {
                id: new_id(&mut rng, created),
                email: format!("{username}@{domain}"),
                username,
                display_name: truncate(format!("{first} {last}"), 64),
                bio,
                avatar_file_id: None,
                role: UserRole::User,
                password_hash: DEMO_PASSWORD_HASH.to_owned(),
                email_verified_at: verified,
                disabled_at: None,
                created_at: at(created),
                updated_at: at(created),
            });
        }
        users
    }

    /// Communities named after [`TOPICS`]; every third is private. The
    /// creator becomes the owner in [`Generator::memberships`].
    pub(crate) fn communities(&self, users: &[user::Model]) -> Vec<community::Model> {
        let mut rng = self.rng(Stream::Communities);
        (0..self.sizes.communities)
            .map(|index| {
                let topic = TOPICS[index % TOPICS.len()];
                let round = index / TOPICS.len();
                let (name, slug) = if round == 0 {
                    (topic.to_owned(), slugify(topic))
                } else {
                    (
                        format!("{topic} {}", round + 1),
                        format!("{}-{}", slugify(topic), round + 1),
                    )
                };
                let creator = if index == DEMO_OWNED {
                    DEMO
                } else {
                    rng.random_range(1..users.len())
                };
                let created = between(&mut rng, ms_of(&users[creator].created_at), LAST_SIGNUP_MS);
                let description = paragraph(&mut rng, 1..3);
                community::Model {
                    id: new_id(&mut rng, created),
                    slug,
                    name,
                    description,
                    // Every third, starting with the one the demo account moderates.
                    visibility: if index % 3 == DEMO_MODERATED {
                        CommunityVisibility::Private
                    } else {
                        CommunityVisibility::Public
                    },
                    created_by_id: Some(users[creator].id),
                    created_at: at(created),
                    updated_at: at(created),
                }
            })
            .collect()
    }

    /// Exactly one owner per community (its creator), one to three
    /// moderators, the rest members. The demo account owns one community,
    /// moderates a private one and is a member of a third.
    pub(crate) fn memberships(
        &self,
        users: &[user::Model],
        communities: &[community::Model],
    ) -> (Vec<membership::Model>, Roster) {
        let mut rng = self.rng(Stream::Memberships);
        let mean = self.sizes.members_per_community;
        let mut rows = Vec::new();
        let mut roster = Roster {
            by_community: vec![Vec::new(); communities.len()],
            by_user: vec![Vec::new(); users.len()],
        };
        for (c, community) in communities.iter().enumerate() {
            let owner = user_index(users, community.created_by_id).unwrap_or(DEMO);
            // The owner counts towards the size, so there is always one other.
            let size = rng
                .random_range(mean / 4..=mean * 7 / 4)
                .clamp(2, users.len());
            let moderators = rng.random_range(1..=3);
            let mut members: Vec<(usize, MembershipRole)> = vec![(owner, MembershipRole::Owner)];
            for (rank, other) in sample_except(&mut rng, users.len(), size - 1, owner)
                .into_iter()
                .enumerate()
            {
                let role = if rank < moderators {
                    MembershipRole::Moderator
                } else {
                    MembershipRole::Member
                };
                members.push((other, role));
            }
            let demo_role = match c {
                DEMO_MODERATED => Some(MembershipRole::Moderator),
                DEMO_JOINED => Some(MembershipRole::Member),
                _ => None,
            };
            if let Some(role) = demo_role {
                match members.iter_mut().find(|(u, _)| *u == DEMO) {
                    Some(entry) => entry.1 = role,
                    None => members.push((DEMO, role)),
                }
            }

            let opened = ms_of(&community.created_at);
            for (u, role) in members {
                let joined = if role == MembershipRole::Owner {
                    opened
                } else {
                    between(&mut rng, opened.max(ms_of(&users[u].created_at)), ANCHOR_MS)
                };
                rows.push(membership::Model {
                    id: new_id(&mut rng, joined),
                    community_id: community.id,
                    user_id: users[u].id,
                    role,
                    created_at: at(joined),
                });
                roster.by_community[c].push((u, joined));
                roster.by_user[u].push((c, joined));
            }
        }
        (rows, roster)
    }

    /// Each account follows a random set of others; the demo account follows
    /// a fixed number and is followed by a fixed set besides chance.
    pub(crate) fn follows(&self, users: &[user::Model]) -> Vec<follow::Model> {
        let mut rng = self.rng(Stream::Follows);
        let n = users.len();
        let demo_fans = sample_except(&mut rng, n, self.sizes.demo_followers, DEMO);
        let mut rows = Vec::new();
        for follower in 0..n {
            let count = if follower == DEMO {
                self.sizes.demo_follows
            } else {
                rng.random_range(0..=2 * self.sizes.follows_per_user)
            };
            let mut followees = sample_except(&mut rng, n, count, follower);
            if demo_fans.contains(&follower) && !followees.contains(&DEMO) {
                followees.push(DEMO);
            }
            for followee in followees {
                let since =
                    ms_of(&users[follower].created_at).max(ms_of(&users[followee].created_at));
                let created = between(&mut rng, since, ANCHOR_MS);
                rows.push(follow::Model {
                    id: new_id(&mut rng, created),
                    follower_id: users[follower].id,
                    followee_id: users[followee].id,
                    created_at: at(created),
                });
            }
        }
        rows
    }

    /// The demo account's posts first, then posts by random authors: a
    /// quarter on the author's profile, the rest in one of their communities.
    pub(crate) fn posts(
        &self,
        users: &[user::Model],
        communities: &[community::Model],
        roster: &Roster,
    ) -> Vec<Post> {
        let mut rng = self.rng(Stream::Posts);
        (0..self.sizes.posts)
            .map(|index| {
                let author = if index < self.sizes.demo_posts {
                    DEMO
                } else {
                    rng.random_range(0..users.len())
                };
                let joined = &roster.by_user[author];
                let place = if joined.is_empty() || rng.random_bool(0.25) {
                    None
                } else {
                    Some(joined[rng.random_range(0..joined.len())])
                };
                let since = ms_of(&users[author].created_at).max(place.map_or(0, |(_, t)| t));
                let created = between(&mut rng, since, ANCHOR_MS);
                let body = paragraph(&mut rng, 1..5);
                let updated = if rng.random_bool(0.1) {
                    soon_after(&mut rng, created)
                } else {
                    created
                };
                let community = place.map(|(c, _)| c);
                let private_community = community
                    .filter(|&c| communities[c].visibility == CommunityVisibility::Private);
                Post {
                    row: post::Model {
                        id: new_id(&mut rng, created),
                        author_id: users[author].id,
                        community_id: community.map(|c| communities[c].id),
                        body,
                        created_at: at(created),
                        updated_at: at(updated),
                        removed_at: None,
                    },
                    private_community,
                }
            })
            .collect()
    }

    /// Comments post by post: about a third reply to an earlier comment on
    /// the same post, and every comment is newer than what it answers.
    pub(crate) fn comments<'a>(
        &self,
        users: &'a [user::Model],
        posts: &'a [Post],
        roster: &'a Roster,
    ) -> impl Iterator<Item = comment::Model> + 'a {
        let mut rng = self.rng(Stream::Comments);
        let mean = self.sizes.comments_per_post;
        posts.iter().flat_map(move |post| {
            let audience = Audience::of(post, users, roster);
            let count = rng.random_range(0..=2 * mean);
            let mut thread: Vec<comment::Model> = Vec::with_capacity(count);
            for _ in 0..count {
                let (author, since) = audience.pick(&mut rng);
                let parent = (!thread.is_empty() && rng.random_bool(REPLY_CHANCE))
                    .then(|| &thread[rng.random_range(0..thread.len())]);
                let after = ms_of(&post.row.created_at)
                    .max(since)
                    .max(parent.map_or(0, |p| ms_of(&p.created_at)));
                let parent_id = parent.map(|p| p.id);
                let created = soon_after(&mut rng, after);
                let body = sentence(&mut rng, 3..16);
                thread.push(comment::Model {
                    id: new_id(&mut rng, created),
                    post_id: post.row.id,
                    author_id: users[author].id,
                    parent_id,
                    body,
                    created_at: at(created),
                    updated_at: at(created),
                    removed_at: None,
                });
            }
            thread
        })
    }

    /// At most one reaction per user per post, from distinct users.
    pub(crate) fn reactions<'a>(
        &self,
        users: &'a [user::Model],
        posts: &'a [Post],
        roster: &'a Roster,
    ) -> impl Iterator<Item = reaction::Model> + 'a {
        let mut rng = self.rng(Stream::Reactions);
        let mean = self.sizes.reactions_per_post;
        posts.iter().flat_map(move |post| {
            let audience = Audience::of(post, users, roster);
            let count = rng.random_range(0..=2 * mean).min(audience.len());
            let posted = ms_of(&post.row.created_at);
            sample(&mut rng, audience.len(), count)
                .into_iter()
                .map(|i| {
                    let (user, since) = audience.get(i);
                    let created = soon_after(&mut rng, posted.max(since));
                    let kind = weighted(&mut rng, REACTION_WEIGHTS);
                    reaction::Model {
                        id: new_id(&mut rng, created),
                        post_id: post.row.id,
                        user_id: users[user].id,
                        kind,
                        created_at: at(created),
                    }
                })
                .collect::<Vec<_>>()
        })
    }

    /// Conversations of two to four people; the demo account is in the
    /// first few. Participants join at creation and have read all, some, or
    /// none of the messages.
    pub(crate) fn conversations(&self, users: &[user::Model]) -> Conversations {
        let mut rng = self.rng(Stream::Conversations);
        let mean = self.sizes.messages_per_conversation;
        let mut out = Conversations::default();
        // A pair has one direct conversation (a unique key); a pair drawn
        // again gets a conversation without the key, as one started before
        // the key existed would.
        let mut pairs = std::collections::HashSet::new();
        for index in 0..self.sizes.conversations {
            let size = weighted(&mut rng, &[(2, 60), (3, 25), (4, 15)]).min(users.len());
            let people = if index < self.sizes.demo_conversations {
                let mut people = vec![DEMO];
                people.extend(sample_except(&mut rng, users.len(), size - 1, DEMO));
                people
            } else {
                sample(&mut rng, users.len(), size).into_vec()
            };
            let since = people
                .iter()
                .map(|&u| ms_of(&users[u].created_at))
                .max()
                .unwrap_or(START_MS);
            let created = between(&mut rng, since, ANCHOR_MS - DAY_MS);
            let id = new_id(&mut rng, created);

            let count = rng.random_range(1..=(2 * mean).max(2) - 1);
            let mut times: Vec<i64> = (0..count)
                .map(|_| between(&mut rng, created, ANCHOR_MS))
                .collect();
            times.sort_unstable();
            for &sent in &times {
                let sender = people[rng.random_range(0..people.len())];
                let body = sentence(&mut rng, 2..14);
                out.messages.push(message::Model {
                    id: new_id(&mut rng, sent),
                    conversation_id: id,
                    sender_id: users[sender].id,
                    body,
                    created_at: at(sent),
                });
            }
            let last_message = times.last().copied().unwrap_or(created);

            for &person in &people {
                let read_up_to = match rng.random_range(0..100) {
                    0..60 => Some(last_message),
                    60..85 => Some(times[rng.random_range(0..times.len())]),
                    _ => None,
                };
                out.participants.push(conversation_participant::Model {
                    id: new_id(&mut rng, created),
                    conversation_id: id,
                    user_id: users[person].id,
                    created_at: at(created),
                    last_read_at: read_up_to.map(at),
                });
            }
            let direct_key = match people[..] {
                [a, b] => Some(conversation::direct_key(users[a].id, users[b].id))
                    .filter(|key| pairs.insert(key.clone())),
                _ => None,
            };
            out.conversations.push(conversation::Model {
                id,
                created_by_id: Some(users[people[0]].id),
                created_at: at(created),
                last_message_at: at(last_message),
                direct_key,
            });
        }
        out
    }
}

/// The users who may comment on or react to a post.
enum Audience<'a> {
    Everyone(&'a [user::Model]),
    /// A private community's members, with the time each joined.
    Members(&'a [(usize, i64)]),
}

impl<'a> Audience<'a> {
    fn of(post: &Post, users: &'a [user::Model], roster: &'a Roster) -> Self {
        match post.private_community {
            Some(c) => Self::Members(&roster.by_community[c]),
            None => Self::Everyone(users),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Everyone(users) => users.len(),
            Self::Members(members) => members.len(),
        }
    }

    /// The `i`th user of the audience and the time from which they may act.
    fn get(&self, i: usize) -> (usize, i64) {
        match self {
            Self::Everyone(users) => (i, ms_of(&users[i].created_at)),
            Self::Members(members) => members[i],
        }
    }

    fn pick(&self, rng: &mut impl Rng) -> (usize, i64) {
        self.get(rng.random_range(0..self.len()))
    }
}

/// Where the user with this id is in `users`.
fn user_index(users: &[user::Model], id: Option<Uuid>) -> Option<usize> {
    users.iter().position(|u| Some(u.id) == id)
}

/// A fresh UUIDv7 for a row created at `ms`: the time comes first, so ids
/// sort by creation; the other 74 bits are from the stream.
fn new_id(rng: &mut impl Rng, ms: i64) -> Uuid {
    let random: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(ms.unsigned_abs(), &random).into_uuid()
}

/// Unix milliseconds as a timestamp. Whole milliseconds survive both
/// backends unchanged (PostgreSQL keeps microseconds, SQLite text more).
fn at(ms: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::milliseconds(ms)
}

fn ms_of(time: &DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// Uniform in `[from, to]`, or `from` when that is already past `to`.
fn between(rng: &mut impl Rng, from: i64, to: i64) -> i64 {
    if from >= to {
        from
    } else {
        rng.random_range(from..=to)
    }
}

/// Between `from` and the anchor, mostly soon after `from`: replies and
/// reactions cluster right after what they answer.
fn soon_after(rng: &mut impl Rng, from: i64) -> i64 {
    if from >= ANCHOR_MS {
        return from;
    }
    let u: f64 = rng.random();
    // Plain multiplications (not `powf`) give the same result everywhere.
    let offset = (ANCHOR_MS - from) as f64 * u * u * u;
    from + offset as i64
}

/// `amount` distinct indices in `0..len`, none equal to `except`, in
/// random order. Asks for at most as many as there are.
fn sample_except(rng: &mut impl Rng, len: usize, amount: usize, except: usize) -> Vec<usize> {
    let others = len.saturating_sub(1);
    sample(rng, others, amount.min(others))
        .into_iter()
        .map(|i| if i >= except { i + 1 } else { i })
        .collect()
}

fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// One of `choices`, each as likely as its weight.
fn weighted<T: Copy>(rng: &mut impl Rng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for &(choice, weight) in choices {
        if roll < weight {
            return choice;
        }
        roll -= weight;
    }
    choices[choices.len() - 1].0
}

/// A lorem sentence of `words` words, starting with a capital.
fn sentence(rng: &mut impl Rng, words: std::ops::Range<usize>) -> String {
    capitalize(Sentence(words).fake_with_rng(rng))
}

/// A few lorem sentences, each starting with a capital.
fn paragraph(rng: &mut impl Rng, sentences: std::ops::Range<usize>) -> String {
    let sentences: Vec<String> = Sentences(sentences).fake_with_rng(rng);
    sentences
        .into_iter()
        .map(capitalize)
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalize(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Letters of the name, lower-case, then the account's index: unique even
/// case-insensitively (the letters never end in a digit), and within the
/// column's 32 characters.
fn username(first: &str, last: &str, index: usize) -> String {
    let suffix = index.to_string();
    let letters: String = first
        .chars()
        .chain(last.chars())
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .take(20)
        .collect();
    let letters = if letters.is_empty() {
        "user".to_owned()
    } else {
        letters
    };
    format!("{letters}{suffix}")
}

/// `"Board Games"` -> `"board-games"`.
fn slugify(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

fn truncate(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn handles_are_unique_ignoring_case_at_bench_scale() {
        let generator = Generator::new(42, Scale::Bench);
        let users = generator.users();
        assert_eq!(users.len(), 10_000);
        let usernames: HashSet<_> = users.iter().map(|u| u.username.to_lowercase()).collect();
        let emails: HashSet<_> = users.iter().map(|u| u.email.to_lowercase()).collect();
        assert_eq!(usernames.len(), users.len());
        assert_eq!(emails.len(), users.len());
        assert!(users.iter().all(|u| u.username.len() <= 32));

        let communities = generator.communities(&users);
        let slugs: HashSet<_> = communities.iter().map(|c| c.slug.as_str()).collect();
        assert_eq!(slugs.len(), communities.len());
        assert!(
            communities
                .iter()
                .all(|c| c.slug == c.slug.to_lowercase() && c.slug.len() <= 64)
        );
    }

    #[test]
    fn relations_respect_the_unique_constraints() {
        let generator = Generator::new(42, Scale::Small);
        let users = generator.users();
        let communities = generator.communities(&users);
        let (memberships, roster) = generator.memberships(&users, &communities);
        for community in &communities {
            let owners = memberships
                .iter()
                .filter(|m| m.community_id == community.id && m.role == MembershipRole::Owner)
                .count();
            assert_eq!(owners, 1, "{}", community.slug);
        }
        let pairs: HashSet<_> = memberships
            .iter()
            .map(|m| (m.community_id, m.user_id))
            .collect();
        assert_eq!(pairs.len(), memberships.len());

        let follows = generator.follows(&users);
        assert!(follows.iter().all(|f| f.follower_id != f.followee_id));
        let pairs: HashSet<_> = follows
            .iter()
            .map(|f| (f.follower_id, f.followee_id))
            .collect();
        assert_eq!(pairs.len(), follows.len());

        let posts = generator.posts(&users, &communities, &roster);
        let reactions: Vec<_> = generator.reactions(&users, &posts, &roster).collect();
        let pairs: HashSet<_> = reactions.iter().map(|r| (r.post_id, r.user_id)).collect();
        assert_eq!(pairs.len(), reactions.len());

        let comments: Vec<_> = generator.comments(&users, &posts, &roster).collect();
        let replies = comments.iter().filter(|c| c.parent_id.is_some()).count();
        assert!(
            (0.25..0.42).contains(&(replies as f64 / comments.len() as f64)),
            "{replies} replies of {}",
            comments.len()
        );

        let dms = generator.conversations(&users);
        let pairs: HashSet<_> = dms
            .participants
            .iter()
            .map(|p| (p.conversation_id, p.user_id))
            .collect();
        assert_eq!(pairs.len(), dms.participants.len());
    }
}
