-- Run once on the bench database after seeding, with psql -v viewer=<uuid>.
-- Everything here exists only in the throw-away bench database.

-- 1. Tables of ids for pgbench (`\set n random(1, :count)` then a lookup by n)
--    and for the load scripts' random choices.
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.user_ids (n serial PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.user_ids (id)
  SELECT id FROM users WHERE disabled_at IS NULL ORDER BY id;
-- Posts the viewer may read and comment on: on a profile or in a public
-- community or one the viewer belongs to, by an author in good standing.
CREATE TABLE bench.post_ids (n serial PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.post_ids (id)
  SELECT p.id FROM posts p
  LEFT JOIN communities c ON c.id = p.community_id
  JOIN users a ON a.id = p.author_id AND a.disabled_at IS NULL
  WHERE c.id IS NULL OR c.visibility = 'public'
     OR EXISTS (SELECT 1 FROM memberships m WHERE m.community_id = c.id AND m.user_id = :'viewer')
  ORDER BY p.id;

-- 2. PostGraphile's side. Its generated schema has no "OR of followees and
--    joined communities" filter and no grouped counts, so the feed and the
--    reaction counts are SQL functions in their own schema, which PostGraphile
--    exposes as a root field and a computed column. The rest (authors,
--    comments, lookups, the createComment mutation) is PostGraphile's own
--    generated CRUD.
DROP SCHEMA IF EXISTS postgraphile_bench CASCADE;
CREATE SCHEMA postgraphile_bench;

CREATE FUNCTION postgraphile_bench.feed(viewer uuid) RETURNS SETOF posts
LANGUAGE sql STABLE AS $$
  SELECT p.* FROM posts p
  WHERE (p.author_id = viewer
      OR p.author_id IN (SELECT followee_id FROM follows WHERE follower_id = viewer)
      OR p.community_id IN (SELECT community_id FROM memberships WHERE user_id = viewer))
    AND (p.community_id IS NULL
      OR p.community_id NOT IN (SELECT id FROM communities WHERE visibility = 'private')
      OR p.community_id IN (SELECT community_id FROM memberships WHERE user_id = viewer))
    AND p.author_id NOT IN (SELECT id FROM users WHERE disabled_at IS NOT NULL)
  ORDER BY p.created_at DESC, p.id DESC
$$;

CREATE TYPE postgraphile_bench.reaction_count AS (kind text, count integer);
CREATE FUNCTION postgraphile_bench.posts_reaction_counts(p posts)
RETURNS SETOF postgraphile_bench.reaction_count
LANGUAGE sql STABLE AS $$
  SELECT kind::text, count(*)::integer FROM reactions WHERE post_id = p.id
  GROUP BY kind ORDER BY count(*) DESC, kind
$$;

-- PostGraphile's generated createComment leaves out what the client does
-- not send; Hearth's service sets these itself, so defaults change nothing
-- for it.
ALTER TABLE comments
  ALTER COLUMN id SET DEFAULT gen_random_uuid(),
  ALTER COLUMN created_at SET DEFAULT now(),
  ALTER COLUMN updated_at SET DEFAULT now();

ANALYZE bench.user_ids;
ANALYZE bench.post_ids;
