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
WITH hist AS (
  SELECT user_name, country, count(*) AS n FROM classified
  WHERE ts >= $since - to_days($baseline_days) AND ts < $since AND country IS NOT NULL
  GROUP BY ALL),
org AS (SELECT country, count(DISTINCT user_name) AS org_users FROM hist GROUP BY country),
known AS (SELECT DISTINCT user_name FROM classified WHERE ts <= $since - to_days($learning_days))
SELECT r.user_name, r.country, min(r.ts) AS first_seen, max(r.ts) AS last_seen, count(*) AS events,
       list(DISTINCT r.ip ORDER BY r.ip) AS ips, list(DISTINCT r.op_class ORDER BY r.op_class) AS classes,
       coalesce(any_value(o.org_users), 0) AS org_users_seen
FROM classified r
JOIN known k ON k.user_name = r.user_name
LEFT JOIN hist h ON h.user_name = r.user_name AND h.country = r.country
LEFT JOIN org o ON o.country = r.country
WHERE r.ts BETWEEN $since AND $until AND r.country IS NOT NULL AND h.country IS NULL
  AND r.op_class <> 'login_fail'
GROUP BY r.user_name, r.country
ORDER BY org_users_seen, first_seen, r.user_name;
