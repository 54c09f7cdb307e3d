-- name: mass-delete
-- question: who deleted files in sustained bursts?
-- description: File deletions per user and app in bucket_min-minute buckets; reports users with at
-- description: least min_buckets buckets above per_bucket deletions, i.e. sustained deletion rather
-- description: than one clean-up.
-- kind: detection
-- chart: timeline
-- entities: user=user_name app=app_name
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: per_bucket int 50 deletions in one bucket above which the bucket is hot
-- param: min_buckets int 3 hot buckets needed to report a user
-- param: bucket_min int 5 bucket length in minutes
WITH b AS (
  SELECT user_name, app_name, time_bucket(to_minutes($bucket_min), ts) AS win, count(*) AS n
  FROM events
  WHERE is_delete(event_type, event_type_value, action) AND action_class = 'delete' AND ts BETWEEN $since AND $until
  GROUP BY ALL)
SELECT user_name, app_name, count(*) FILTER (WHERE n > $per_bucket) AS hot_buckets, sum(n)::BIGINT AS deletes,
       max(n) AS peak, min(win) FILTER (WHERE n > $per_bucket) AS first_hot,
       max(win) FILTER (WHERE n > $per_bucket) AS last_hot
FROM b GROUP BY ALL
HAVING count(*) FILTER (WHERE n > $per_bucket) >= $min_buckets
ORDER BY deletes DESC, user_name;
