-- name: mass-delete
-- question: who deleted files in sustained bursts?
-- description: File deletions per user and app in bucket_min-minute buckets; reports users with at
-- description: least min_buckets buckets above per_bucket deletions, i.e. sustained deletion rather
-- description: than one clean-up.
-- kind: detection
-- chart: timeline
-- entities: user=user_name app=app_name
-- severity: medium
-- severity-rises: high when deletes >= 1000
-- tactics: TA0040
-- techniques: T1485
-- counterpart: Defender for Cloud Apps "Unusual file deletion activities (by user)"; Sigma microsoft365_unusual_volume_of_file_deletion.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: per_bucket int 50 deletions in one bucket above which the bucket is hot
-- param: min_buckets int 3 hot buckets needed to report a user
-- param: bucket_min int 5 bucket length in minutes
WITH b AS (
  SELECT user_name, app_name, time_bucket(to_minutes($bucket_min), ts) AS win, count(*) AS n
  FROM events
  WHERE is_delete(event_type, event_type_value, action) AND action_class = 'delete' AND ts BETWEEN $since AND $until
  GROUP BY ALL),
r AS (
  SELECT user_name, app_name, count(*) FILTER (WHERE n > $per_bucket) AS hot_buckets, sum(n)::BIGINT AS deletes,
         max(n) AS peak, min(win) FILTER (WHERE n > $per_bucket) AS first_hot,
         max(win) FILTER (WHERE n > $per_bucket) AS last_hot, list(win) FILTER (WHERE n > $per_bucket) AS hot
  FROM b GROUP BY ALL
  HAVING count(*) FILTER (WHERE n > $per_bucket) >= $min_buckets),
-- the evidence: the deletions of the hot buckets, read again with their ids for the reported users
-- alone (reading the id of every deletion of the window would cost more than the count)
ev AS (
  SELECT r.user_name, r.app_name, min(e.ts) AS first_seen, max(e.ts) AS last_seen, list(e.id ORDER BY e.ts, e.id) AS evidence_ids
  FROM r JOIN events e ON e.user_name = r.user_name AND e.app_name IS NOT DISTINCT FROM r.app_name
  WHERE is_delete(e.event_type, e.event_type_value, e.action) AND e.action_class = 'delete' AND e.ts BETWEEN $since AND $until
    AND list_contains(r.hot, time_bucket(to_minutes($bucket_min), e.ts))
  GROUP BY ALL)
SELECT r.* EXCLUDE (hot), ev.first_seen, ev.last_seen, ev.evidence_ids
FROM r LEFT JOIN ev ON ev.user_name = r.user_name AND ev.app_name IS NOT DISTINCT FROM r.app_name
ORDER BY deletes DESC, r.user_name;
