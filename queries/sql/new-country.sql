-- name: new-country
-- question: who acted from a country new for them (or for the whole organisation)?
-- description: (user, country) pairs first seen in the window: absent from everything the user did
-- description: successfully before (back to baseline_days before the window), for users seen for at
-- description: least learning_days before the pair. Failed sign-ins neither count as history nor as
-- description: new; a country first reached from a trusted_categories address (the organisation's own
-- description: egress, e.g. a VPN exit abroad) is not new. org_users_seen = 0 means no one in the
-- description: organisation had used that country before.
-- kind: detection
-- chart: map, bar
-- history: baseline_days
-- entities: user=user_name ip=ips
-- severity: low
-- severity-rises: medium when org_users_seen = 0
-- tactics: TA0001
-- techniques: T1078.004
-- counterpart: Defender for Cloud Apps "Activity from infrequent country"; Sigma microsoft365_activity_from_infrequent_country.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the known countries
-- param: learning_days int 7 users seen for fewer days than this before the pair are not judged
-- param: trusted_categories list Corporate,VPN IP categories of the organisation's own egress
-- The history's first time of each (user, country) comes from event_firsts (the warehouse's first
-- times per day where it has them); only the pairs first seen in the window have their rows in
-- the window read again: how the first one came (from a trusted address or not) and their details.
WITH per AS (
  SELECT user_name, country, min(first_ts) AS first_ts FROM event_firsts
  WHERE country IS NOT NULL
  GROUP BY ALL),
-- (the user's first time as a window over per, not a join of per with its own group-by, which
-- DuckDB would estimate far above the window's events and build its hash table on those)
candidates AS (
  SELECT user_name, country, first_ts FROM (SELECT *, min(first_ts) OVER (PARTITION BY user_name) AS user_first FROM per)
  WHERE first_ts BETWEEN $since AND $until AND first_ts >= user_first + to_days($learning_days)),
-- (the rows' class is named after the join, for the rows kept: events' action_class would be
-- computed for every row of the window first)
r AS (
  SELECT e.id, e.user_name, e.country, e.ts, e.ip, e.ip_category, e.event_type, e.event_type_value, e.action, e.success FROM events e
  JOIN candidates c ON c.user_name = e.user_name AND c.country = e.country
  WHERE e.ts BETWEEN $since AND $until AND is_not_login_fail(e.event_type, e.event_type_value, e.action, e.success)),
new_pairs AS (
  SELECT c.* FROM candidates c
  JOIN (SELECT user_name, country, arg_min(ip_category, ts) AS first_category FROM r GROUP BY ALL) f
    ON f.user_name = c.user_name AND f.country = c.country
  WHERE NOT list_contains($trusted_categories::VARCHAR[], coalesce(f.first_category, ''))),
org AS (
  SELECT n.user_name, n.country, count(DISTINCT p.user_name) AS org_users FROM new_pairs n
  JOIN per p ON p.country = n.country AND p.first_ts < n.first_ts AND p.user_name <> n.user_name
  GROUP BY ALL)
SELECT r.user_name, r.country, min(r.ts) AS first_seen, max(r.ts) AS last_seen, count(*) AS events,
       list(DISTINCT r.ip ORDER BY r.ip) AS ips,
       list(DISTINCT r.action_class ORDER BY r.action_class) AS classes,
       coalesce(any_value(o.org_users), 0) AS org_users_seen, list(r.id ORDER BY r.ts, r.id) AS evidence_ids
FROM (SELECT r.*, action_class_of(r.event_type, r.event_type_value, r.action, r.success) AS action_class FROM r
      JOIN new_pairs n ON n.user_name = r.user_name AND n.country = r.country) r
LEFT JOIN org o ON o.user_name = r.user_name AND o.country = r.country
GROUP BY r.user_name, r.country
ORDER BY org_users_seen, first_seen, r.user_name;
