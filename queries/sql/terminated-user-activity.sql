-- name: terminated-user-activity
-- question: who was active after their account was deleted?
-- description: Targets of "Delete user" events (in the window or up to 30 days before it), then later
-- description: non-failed activity in the window by the same account, or by an account named by the
-- description: address's local part alone (the person's account in an app without domains, e.g. an
-- description: AWS IAM user); an address in another domain is another person. A "Restore user" of the
-- description: account after its deletion ends it: activity after the restore is not reported.
-- kind: detection
-- chart: timeline
-- history: 30d
-- entities: user=user_name ip=ips app=app_name
-- severity: high
-- tactics: TA0001, TA0003
-- techniques: T1078.004
-- counterpart: Defender for Cloud Apps "Activity performed by terminated user"; Sigma microsoft365_activity_by_terminated_user.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- The deletions and restores are rare, but is_user_delete spans several columns, which a scan
-- cannot filter on by itself: found on narrow columns first, their objects are then fetched by a
-- join on (ts, user_name), whose few user names DuckDB pushes into the second scan as a filter,
-- rather than read for every row. Those without a user name are filtered by the scan on
-- user_name IS NULL.
WITH life_keys AS (
  SELECT DISTINCT ts, user_name FROM events
  WHERE is_user_change(event_type, event_type_value, action) AND list_contains(['user_delete', 'user_restore'], action_class)
    AND user_name IS NOT NULL),
life AS (
  SELECT a.id, a.ts, a.user_name, a.action_class, a.objects
  FROM events a JOIN life_keys k ON a.ts = k.ts AND a.user_name = k.user_name
  WHERE is_user_change(a.event_type, a.event_type_value, a.action) AND list_contains(['user_delete', 'user_restore'], a.action_class)
  UNION ALL
  SELECT id, ts, user_name, action_class, objects FROM events
  WHERE user_name IS NULL AND is_user_change(event_type, event_type_value, action)
    AND list_contains(['user_delete', 'user_restore'], action_class)),
-- each deletion or restore of an address, under the account names it covers
targets AS (
  SELECT id, ts, user_name AS changed_by, action_class, lower(unnest(list_filter(objects, lambda o: contains(o, '@')))) AS target
  FROM life),
accounts AS (
  SELECT id, ts, changed_by, action_class, target, target AS account FROM targets
  UNION ALL
  SELECT id, ts, changed_by, action_class, target, split_part(target, '@', 1) AS account FROM targets),
-- the window's activity of those accounts alone (filtered before the ASOF join, which sorts its
-- input): the user names spelt as the window spells them, found among its distinct names, reach
-- the scan as a filter
names AS (
  SELECT user_name FROM (SELECT DISTINCT user_name FROM events WHERE ts BETWEEN $since AND $until AND user_name IS NOT NULL)
  WHERE lower(user_name) IN (SELECT account FROM accounts)),
x AS (
  SELECT id, ts, user_name, lower(user_name) AS account, app_name, action, event_type, ip FROM events
  WHERE ts BETWEEN $since AND $until AND user_name IN (SELECT user_name FROM names)
    AND is_not_login_fail(event_type, event_type_value, action, success)),
-- each activity with the account's last deletion or restore before it
m AS (
  SELECT x.*, a.target, a.ts AS changed_at, a.changed_by, a.action_class AS change, a.id AS change_id
  FROM x ASOF JOIN accounts a ON a.account = x.account AND x.ts > a.ts)
SELECT target, changed_at AS deleted_at, changed_by AS deleted_by, user_name, app_name, count(*) AS events_after,
       min(ts) AS first_after, max(ts) AS last_after,
       list(DISTINCT coalesce(action, event_type) ORDER BY coalesce(action, event_type)) AS operations,
       list(DISTINCT ip ORDER BY ip) AS ips,
       -- the evidence: the deletion, then the activity after it
       changed_at AS first_seen, max(ts) AS last_seen, [any_value(change_id)] || list(id ORDER BY ts, id) AS evidence_ids
FROM m
WHERE change = 'user_delete'
GROUP BY target, changed_at, changed_by, user_name, app_name
ORDER BY first_after, target, user_name;
