-- A top-level comment by the viewer on a post drawn at random from the posts
-- the viewer may read (bench.post_ids, sql/setup.sql), returning the row.
-- pgbench -M prepared -D viewer=<uuid> -D posts=<count>
\set n random(1, :posts)
INSERT INTO comments (id, post_id, author_id, body, created_at, updated_at)
SELECT gen_random_uuid(), id, (:viewer)::uuid, 'bench comment', now(), now()
FROM bench.post_ids WHERE n = :n
RETURNING id, body, created_at;
