-- name: new-country
-- question: who acted from a country new for them (or for the whole organisation)?
-- description: (user, country) pairs in the window absent from the user's baseline_days of history
-- description: before the window. Failed sign-ins are skipped, and so are users seen for less than
-- description: learning_days before the window (the learning period). org_users_seen = 0 means no
-- description: one in the organisation used that country in the baseline.
-- chart: map, bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the known countries
-- param: learning_days int 7 users first seen less than this many days before the window are skipped
-- One pass over the history groups it by (user, country) and answers the three questions asked
-- of it (was the pair seen in the baseline, when was the user first seen, was the pair active in
-- the window); only the new pairs' rows in the window are then read again for their details.
WITH per AS (
  SELECT user_name, country, min(ts) AS first_ts,
         bool_or(ts >= $since - to_days($baseline_days) AND ts < $since) AS in_hist,
         count(*) FILTER (WHERE ts BETWEEN $since AND $until) AS in_window
  FROM classified
  WHERE ts <= greatest($until, $since - to_days($learning_days))
  GROUP BY ALL),
org AS (
  SELECT country, count(DISTINCT user_name) AS org_users FROM per
  WHERE in_hist AND country IS NOT NULL GROUP BY country),
known AS (
  SELECT user_name FROM per WHERE user_name IS NOT NULL
  GROUP BY user_name HAVING min(first_ts) <= $since - to_days($learning_days)),
new_pairs AS (
  SELECT p.user_name, p.country FROM per p JOIN known k ON k.user_name = p.user_name
  WHERE p.country IS NOT NULL AND NOT p.in_hist AND p.in_window > 0)
SELECT r.user_name, r.country, min(r.ts) AS first_seen, max(r.ts) AS last_seen, count(*) AS events,
       list(DISTINCT r.ip ORDER BY r.ip) AS ips,
       list(DISTINCT op_class_of(r.event_type, r.action, r.success) ORDER BY op_class_of(r.event_type, r.action, r.success)) AS classes,
       coalesce(any_value(o.org_users), 0) AS org_users_seen
FROM classified r
JOIN new_pairs n ON n.user_name = r.user_name AND n.country = r.country
LEFT JOIN org o ON o.country = r.country
WHERE r.ts BETWEEN $since AND $until AND is_not_login_fail(r.event_type, r.action, r.success)
GROUP BY r.user_name, r.country
ORDER BY org_users_seen, first_seen, r.user_name;
