-- The signed-in feed as one statement: a page of :limit posts (own, by
-- followees, in joined communities; readable; newest first), each with its
-- author, reaction counts per kind and first 5 top-level comments with their
-- authors, returned as one JSON document like the GraphQL response.
-- pgbench -M prepared -D viewer=<uuid> -D limit=20
SELECT json_agg(json_build_object(
    'id', p.id, 'body', p.body, 'createdAt', p.created_at,
    'author', json_build_object('username', a.username, 'displayName', a.display_name),
    'reactionCounts', (
      SELECT coalesce(json_agg(json_build_object('kind', r.kind, 'count', r.n) ORDER BY r.n DESC, r.kind), '[]')
      FROM (SELECT kind, count(*) AS n FROM reactions WHERE post_id = p.id GROUP BY kind) r),
    'comments', (
      SELECT coalesce(json_agg(json_build_object(
          'id', c.id, 'body', c.body, 'createdAt', c.created_at,
          'author', json_build_object('username', ca.username, 'displayName', ca.display_name))
        ORDER BY c.created_at, c.id), '[]')
      FROM (SELECT * FROM comments c
            WHERE c.post_id = p.id AND c.parent_id IS NULL
              AND c.author_id NOT IN (SELECT id FROM users WHERE disabled_at IS NOT NULL)
            ORDER BY c.created_at, c.id LIMIT 5) c
      JOIN users ca ON ca.id = c.author_id))
  ORDER BY p.created_at DESC, p.id DESC)
FROM (
  SELECT p.* FROM posts p
  WHERE (p.author_id = (:viewer)::uuid
      OR p.author_id IN (SELECT followee_id FROM follows WHERE follower_id = (:viewer)::uuid)
      OR p.community_id IN (SELECT community_id FROM memberships WHERE user_id = (:viewer)::uuid))
    AND (p.community_id IS NULL
      OR p.community_id NOT IN (SELECT id FROM communities WHERE visibility = 'private')
      OR p.community_id IN (SELECT community_id FROM memberships WHERE user_id = (:viewer)::uuid))
    AND p.author_id NOT IN (SELECT id FROM users WHERE disabled_at IS NOT NULL)
  ORDER BY p.created_at DESC, p.id DESC
  LIMIT (:limit)::int
) p
JOIN users a ON a.id = p.author_id;
