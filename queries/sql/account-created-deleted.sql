-- name: account-created-deleted
-- question: which accounts were created and deleted again within hours, and what did they do in between?
-- description: Accounts created ("Add user.", EVENT_CATEGORY_CREATE_USER) and deleted ("Delete user.",
-- description: "Hard Delete user." …) within within_hours, the deletion in the window, with what the
-- description: account did in between (successful activity under its name). Reported when the account
-- description: did anything, or when whoever created it created no account in the baseline_days
-- description: before (not one of the usual provisioners): an account an administrator creates by
-- description: mistake and deletes unused is routine, one that signs in and vanishes is not.
-- kind: detection
-- chart: timeline
-- history: baseline_days
-- entities: user=account,created_by,deleted_by ip=ips
-- severity: medium
-- severity-rises: high when account_events > 0
-- tactics: TA0003, TA0005
-- techniques: T1136.003, T1070
-- counterpart: Sentinel AccountCreatedandDeletedinShortTimeframe.yaml (Microsoft Entra ID)
-- sources: activities
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: within_hours int 24 longest time between the creation and the deletion that is reported
-- param: baseline_days int 30 days of history before the window that say who creates accounts routinely
-- The account is the first object of the record that is an address.
WITH u AS (
  SELECT id, ts, user_name, ip, is_user_delete(event_type, event_type_value, action) AS deleted,
         lower(list_filter(objects, lambda o: contains(o, '@'))[1]) AS account
  FROM events
  WHERE list_contains(['Add user.', 'Add user'], action) OR event_type = 'EVENT_CATEGORY_CREATE_USER'
     OR is_user_delete(event_type, event_type_value, action)),
created AS (SELECT account, id, ts, user_name, ip FROM u WHERE NOT deleted AND account IS NOT NULL),
pairs AS (
  SELECT c.account, c.id AS created_id, c.ts AS created_at, c.user_name AS created_by, c.ip AS created_ip,
         d.id AS deleted_id, d.ts AS deleted_at, d.user_name AS deleted_by, d.ip AS deleted_ip
  FROM created c JOIN u d ON d.deleted AND d.account = c.account
   AND d.ts BETWEEN c.ts AND c.ts + to_hours($within_hours)
  WHERE d.ts BETWEEN $since AND $until),
provisioners AS (SELECT DISTINCT user_name FROM created WHERE ts < $since AND user_name IS NOT NULL),
-- what each account did between its creation and its deletion
did AS (
  SELECT p.account, p.created_at, count(e.id) AS n, list(e.id ORDER BY e.ts, e.id) AS ids,
         list(DISTINCT e.ip ORDER BY e.ip) FILTER (WHERE e.ip IS NOT NULL) AS ips,
         list(DISTINCT coalesce(e.action, e.event_type) ORDER BY coalesce(e.action, e.event_type)) AS ops
  FROM pairs p JOIN events e ON lower(e.user_name) = p.account AND e.ts BETWEEN p.created_at AND p.deleted_at
  WHERE e.ts BETWEEN $since - to_hours($within_hours) AND $until
    AND is_not_login_fail(e.event_type, e.event_type_value, e.action, e.success)
  GROUP BY ALL)
SELECT p.account, p.created_by, p.created_at, p.deleted_by, p.deleted_at,
       round(date_diff('second', p.created_at, p.deleted_at) / 60.0, 1) AS lifetime_minutes,
       coalesce(d.n, 0) AS account_events, coalesce(d.ops, []) AS account_operations,
       v.user_name IS NOT NULL AS usual_provisioner,
       p.created_at AS first_seen, p.deleted_at AS last_seen,
       list_sort(list_distinct(list_filter([p.created_ip, p.deleted_ip], lambda x: x IS NOT NULL) || coalesce(d.ips, []))) AS ips,
       [p.created_id] || coalesce(d.ids, []) || [p.deleted_id] AS evidence_ids
FROM pairs p
LEFT JOIN did d ON d.account = p.account AND d.created_at = p.created_at
LEFT JOIN provisioners v ON v.user_name = p.created_by
WHERE coalesce(d.n, 0) > 0 OR v.user_name IS NULL
ORDER BY account_events DESC, p.deleted_at, p.account;
