-- name: terminated-user-activity
-- question: who was active after their account was deleted?
-- description: Targets of "Delete user" events, then later non-failed activity by the same account
-- description: or by an account with the same local part (the person's other accounts, e.g. AWS or
-- description: Salesforce), in the window.
-- chart: timeline
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- The deletions are rare, but is_user_delete spans two columns, which a scan cannot filter on by
-- itself: found on narrow columns first, their objects are then fetched by a join on (ts,
-- user_name), whose few user names DuckDB pushes into the second scan as a filter, rather than
-- read for every row. Deletions without a user name are filtered by the scan on user_name IS NULL.
WITH del_keys AS (
  SELECT DISTINCT ts, user_name FROM classified
  WHERE is_user_delete(event_type, action) AND op_class = 'user_delete' AND ts <= $until
    AND user_name IS NOT NULL),
deletions AS (
  SELECT a.ts, a.user_name, a.objects
  FROM classified a JOIN del_keys k ON a.ts = k.ts AND a.user_name = k.user_name
  WHERE is_user_delete(a.event_type, a.action) AND a.op_class = 'user_delete'
  UNION ALL
  SELECT ts, user_name, objects FROM classified
  WHERE user_name IS NULL AND is_user_delete(event_type, action) AND op_class = 'user_delete' AND ts <= $until),
del AS (
  SELECT lower(target) AS target, min(ts) AS deleted_at,
         arg_min(user_name, ts) AS deleted_by
  FROM (SELECT ts, user_name, unnest(objects) AS target FROM deletions)
  WHERE target IS NOT NULL AND target <> ''
  GROUP BY 1),
-- the local part matches both the same account and the person's other accounts: one equi-join
x AS (
  SELECT *, split_part(lower(user_name), '@', 1) AS local_part FROM classified
  WHERE ts BETWEEN $since AND $until AND is_not_login_fail(event_type, action, success) AND user_name IS NOT NULL)
SELECT d.target, d.deleted_at, d.deleted_by, x.user_name, x.app_name, count(*) AS events_after,
       min(x.ts) AS first_after, max(x.ts) AS last_after,
       list(DISTINCT coalesce(x.action, x.event_type) ORDER BY coalesce(x.action, x.event_type)) AS operations,
       list(DISTINCT x.ip ORDER BY x.ip) AS ips
FROM del d JOIN x ON x.local_part = split_part(d.target, '@', 1) AND x.ts > d.deleted_at
GROUP BY ALL
ORDER BY first_after, d.target, x.user_name;
