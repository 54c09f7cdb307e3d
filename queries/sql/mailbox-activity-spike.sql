-- name: mailbox-activity-spike
-- question: whose mail reading (MailItemsAccessed) or mail deletion in a day is far above their own baseline?
-- description: Daily counts per account of Exchange MailItemsAccessed records (accessed) and of
-- description: deletions (HardDelete, SoftDelete, MoveToDeletedItems: deleted); z = (n - mean) /
-- description: max(sd, 1) against the account's own days before that day (at most baseline_days of
-- description: them; idle days count as 0, days before the account was first seen do not). Accounts
-- description: seen for fewer than learning_days days before a day are not judged on it. Reports days
-- description: with z >= z and at least min_accessed records read or min_deleted deleted; a weekly
-- description: clean-out of the mailbox is part of its owner's days, so it is no spike.
-- kind: detection
-- chart: timeline, bar
-- history: baseline_days
-- entities: user=user_name ip=ips
-- severity: medium
-- severity-rises: high when z >= 10
-- tactics: TA0009, TA0005
-- techniques: T1114.002, T1070.008
-- counterpart: Sentinel MailItemsAccessedTimeSeries.yaml (Microsoft 365); Defender for Cloud Apps "Suspicious email deletion activity"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days before each day that define the account's normal
-- param: learning_days int 7 accounts seen for fewer days than this before a day are not judged on it
-- param: z float 4 standard deviations above the account's mean that count as a spike
-- param: min_accessed int 200 smallest daily count of MailItemsAccessed worth reporting
-- param: min_deleted int 50 smallest daily count of deletions worth reporting
-- Two passes, as activity-spike: the window's days find the accounts with a day at the minimum
-- (few), and only their history is counted.
WITH m AS NOT MATERIALIZED (
  SELECT user_name, day, CASE WHEN action = 'MailItemsAccessed' THEN 'accessed' ELSE 'deleted' END AS metric FROM events
  WHERE app_id = 20893 AND list_contains(['MailItemsAccessed', 'HardDelete', 'SoftDelete', 'MoveToDeletedItems'], action) AND user_name IS NOT NULL),
busy AS (
  SELECT DISTINCT user_name FROM (
    SELECT user_name, metric FROM m WHERE day >= CAST($since AS DATE)
    GROUP BY user_name, metric, day
    HAVING count(*) >= CASE WHEN metric = 'accessed' THEN $min_accessed ELSE $min_deleted END)),
daily AS (
  SELECT user_name, metric, day, count(*) AS n FROM m
  WHERE user_name IN (SELECT user_name FROM busy) GROUP BY ALL),
rolled AS (
  SELECT d.*, coalesce(sum(n) OVER w, 0) AS s1, coalesce(sum(n * n) OVER w, 0) AS s2
  FROM daily d
  WINDOW w AS (PARTITION BY user_name, metric ORDER BY day
               RANGE BETWEEN to_days($baseline_days) PRECEDING AND INTERVAL 1 DAY PRECEDING)),
candidates AS (
  SELECT * FROM rolled
  WHERE day >= CAST($since AS DATE) AND day <= CAST($until AS DATE)
    AND n >= CASE WHEN metric = 'accessed' THEN $min_accessed ELSE $min_deleted END),
first_seen AS (
  SELECT e.user_name, min(e.ts) FILTER (WHERE is_not_login_fail(e.event_type, e.event_type_value, e.action, e.success)) AS first_ts
  FROM events e JOIN (SELECT DISTINCT user_name FROM candidates) c ON c.user_name = e.user_name
  GROUP BY ALL),
stats AS (
  SELECT c.*, least($baseline_days, date_diff('day', CAST(f.first_ts AS DATE), c.day)) AS base_days
  FROM candidates c JOIN first_seen f ON f.user_name = c.user_name),
scored AS (
  SELECT *, s1 / base_days AS mu, sqrt(greatest(s2 / base_days - (s1 / base_days) ^ 2, 0)) AS sd
  FROM stats WHERE base_days >= $learning_days),
spikes AS (SELECT * FROM scored WHERE (n - mu) / greatest(sd, 1) >= $z),
-- the records of the reported days, for the evidence
ev AS (
  SELECT e.user_name, e.day, CASE WHEN e.action = 'MailItemsAccessed' THEN 'accessed' ELSE 'deleted' END AS metric,
         min(e.ts) AS first_seen, max(e.ts) AS last_seen, list(DISTINCT e.ip ORDER BY e.ip) FILTER (WHERE e.ip IS NOT NULL) AS ips,
         list(e.id ORDER BY e.ts, e.id) AS evidence_ids
  FROM events e JOIN (SELECT DISTINCT user_name, day FROM spikes) s ON s.user_name = e.user_name AND s.day = e.day
  WHERE e.app_id = 20893 AND list_contains(['MailItemsAccessed', 'HardDelete', 'SoftDelete', 'MoveToDeletedItems'], e.action)
  GROUP BY ALL)
SELECT s.user_name, s.metric, s.day, s.n, round(s.mu, 1) AS baseline_mean, round(s.sd, 1) AS baseline_sd,
       s.base_days AS baseline_days, round((s.n - s.mu) / greatest(s.sd, 1), 1) AS z,
       e.first_seen, e.last_seen, e.ips, e.evidence_ids
FROM spikes s JOIN ev e ON e.user_name = s.user_name AND e.day = s.day AND e.metric = s.metric
ORDER BY z DESC, s.user_name, s.metric, s.day;
