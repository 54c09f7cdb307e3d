-- name: activity-spike
-- question: whose daily downloads, shares, deletes, uploads, admin or impersonated actions are far above their own baseline?
-- description: Daily counts per user of download, share, delete, upload, admin and impersonated
-- description: activity; z = (n - mean) / max(sd, 1) against the user's own days before that day (at
-- description: most baseline_days of them; idle days count as 0, days before the user was first seen
-- description: do not). Users seen for fewer than learning_days days before a day are still learning
-- description: and not judged on it. Reports days with z >= z and n >= min_count.
-- kind: detection
-- chart: timeline, bar
-- history: baseline_days
-- entities: user=user_name
-- severity: low
-- severity-rises: medium when z >= 6; high when z >= 10 AND n >= 500
-- tactics: TA0009, TA0010, TA0040
-- techniques: T1530, T1485, T1537
-- counterpart: Defender for Cloud Apps "Unusual activities (by user)" (anomaly detection policy)
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days before each day that define the user's normal
-- param: learning_days int 7 users seen for fewer days than this before a day are not judged on it
-- param: z float 3 standard deviations above the user's mean that count as a spike
-- param: min_count int 20 smallest daily count worth reporting
-- Every row counts by class (admin, or action_class), except impersonations, which count as
-- impersonated instead. Rather than join every row to the impersonations by id (reading the
-- random 64-character id of millions of rows costs seconds), the rows are counted by class, and
-- each impersonation is then moved: -1 under its class if it was counted there, +1 under
-- impersonated. The baseline of a day is a window over the user's earlier days (a rolling
-- baseline), so a window of any width is judged day by day against what came before.
-- Two passes keep the history cheap: the window's days find the users with a day of at least
-- min_count (few), and only their history is then counted (their names reach the scans as a
-- filter; the history of everyone else is never read). The impersonations are few: they are found
-- once (materialized), for the counts and for the evidence.
WITH imp AS MATERIALIZED (
  SELECT id, ts, user_name, day, CASE WHEN admin THEN 'admin' ELSE action_class_of(event_type, event_type_value, action, success) END AS by_class,
         (admin OR is_file_op(event_type, event_type_value, action))
         AND (admin OR list_contains(['download', 'share', 'delete', 'upload'], action_class_of(event_type, event_type_value, action, success)))
           AS counted_by_class
  FROM impersonations
  WHERE user_name IS NOT NULL),
-- the is_* filters first: action_class is then computed only for the rows they keep. (is_file_op
-- holds exactly when action_class is download, upload, delete or share: the file classes come
-- first in it, so no test of action_class is needed.)
m AS NOT MATERIALIZED (
  SELECT user_name, day, CASE WHEN admin THEN 'admin' ELSE action_class END AS metric, 1 AS w
  FROM events
  WHERE user_name IS NOT NULL
    AND (admin OR is_file_op(event_type, event_type_value, action))
  UNION ALL SELECT user_name, day, by_class, -1 FROM imp WHERE counted_by_class
  UNION ALL SELECT user_name, day, 'impersonated', 1 FROM imp),
-- every branch yields only download, share, delete, upload, admin or impersonated (a filter on
-- metric here would be pushed below the branches' own filters and classify every row)
busy AS (
  SELECT DISTINCT user_name FROM (
    SELECT user_name FROM m WHERE day >= CAST($since AS DATE)
    GROUP BY user_name, metric, day HAVING sum(w) >= $min_count)),
daily AS (
  SELECT user_name, metric, day, sum(w)::BIGINT AS n FROM m
  WHERE user_name IN (SELECT user_name FROM busy)
  GROUP BY ALL HAVING sum(w) > 0),
rolled AS (
  SELECT d.*, coalesce(sum(n) OVER w, 0) AS s1, coalesce(sum(n * n) OVER w, 0) AS s2
  FROM daily d
  WINDOW w AS (PARTITION BY user_name, metric ORDER BY day
               RANGE BETWEEN to_days($baseline_days) PRECEDING AND INTERVAL 1 DAY PRECEDING)),
candidates AS (
  SELECT * FROM rolled WHERE day >= CAST($since AS DATE) AND day <= CAST($until AS DATE) AND n >= $min_count),
-- when each candidate was first seen (any successful activity): the start of their learning
-- period. Only the candidates' rows are read (their few names reach the scan as a filter).
first_seen AS (
  SELECT e.user_name, min(e.ts) FILTER (WHERE is_not_login_fail(e.event_type, e.event_type_value, e.action, e.success)) AS first_ts
  FROM events e JOIN (SELECT DISTINCT user_name FROM candidates) c ON c.user_name = e.user_name
  GROUP BY ALL),
-- the days the baseline covers: since the user was first seen, at most baseline_days
scored AS (
  SELECT c.*, least($baseline_days, date_diff('day', CAST(f.first_ts AS DATE), c.day)) AS base_days
  FROM candidates c JOIN first_seen f ON f.user_name = c.user_name),
stats AS (
  SELECT *, s1 / base_days AS mu, sqrt(greatest(s2 / base_days - (s1 / base_days) ^ 2, 0)) AS sd
  FROM scored WHERE base_days >= $learning_days),
hits AS (
  SELECT user_name, metric, day, n, round(mu, 1) AS baseline_mean, round(sd, 1) AS baseline_sd,
         base_days AS baseline_days, round((n - mu) / greatest(sd, 1), 1) AS z
  FROM stats
  WHERE (n - mu) / greatest(sd, 1) >= $z),
-- the evidence: the activities counted on each reported day, read again with their ids for the
-- reported users and days alone; an impersonation counts as impersonated, not under its class
hit_days AS (SELECT DISTINCT user_name, day FROM hits),
hit_imp AS (SELECT i.id, i.ts, i.user_name, i.day FROM imp i JOIN hit_days h ON h.user_name = i.user_name AND h.day = i.day),
ev AS (
  SELECT e.user_name, e.day, CASE WHEN e.admin THEN 'admin' ELSE e.action_class END AS metric, e.id, e.ts
  FROM events e JOIN hit_days h ON h.user_name = e.user_name AND h.day = e.day
  WHERE e.user_name IN (SELECT user_name FROM hits) AND e.day >= CAST($since AS DATE) AND e.day <= CAST($until AS DATE)
    AND (e.admin OR is_file_op(e.event_type, e.event_type_value, e.action))
    AND e.id NOT IN (SELECT id FROM hit_imp)
  UNION ALL
  SELECT user_name, day, 'impersonated', id, ts FROM hit_imp),
evidence AS (
  SELECT user_name, metric, day, min(ts) AS first_seen, max(ts) AS last_seen, list(id ORDER BY ts, id) AS evidence_ids
  FROM ev GROUP BY ALL)
SELECT h.*, v.first_seen, v.last_seen, v.evidence_ids
FROM hits h JOIN evidence v ON v.user_name = h.user_name AND v.metric = h.metric AND v.day = h.day
ORDER BY h.z DESC, h.user_name, h.metric, h.day;
