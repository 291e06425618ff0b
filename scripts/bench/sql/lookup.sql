-- A user by id, drawn at random from bench.user_ids (sql/setup.sql).
-- pgbench -M prepared -D users=<count>
\set n random(1, :users)
SELECT u.id, u.username, u.display_name, u.bio, u.created_at
FROM users u
WHERE u.id = (SELECT id FROM bench.user_ids WHERE n = :n);
