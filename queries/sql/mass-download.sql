-- name: mass-download
-- question: who downloaded more than per_min files in a minute, or a huge number of distinct files in 15 minutes?
-- description: A sliding one-minute download count per user and app, summarised per 15-minute
-- description: window; reports windows whose peak exceeds per_min or whose distinct objects reach
-- description: per_15min_distinct.
-- kind: detection
-- chart: timeline
-- entities: user=user_name ip=ips app=app_name
-- severity: medium
-- severity-rises: high when downloads >= 1000
-- tactics: TA0009
-- techniques: T1530, T1213.002
-- counterpart: Sentinel sharepoint_file_transfer_above_threshold.yaml; Defender for Cloud Apps "Unusual file download (by user)"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: per_min int 50 downloads in one minute above which a burst is reported
-- param: per_15min_distinct int 5000 distinct objects in 15 minutes that are reported whatever the rate
WITH d AS (
  SELECT user_name, app_name, ts, ip, objects,
         count(*) OVER (PARTITION BY user_name, app_name ORDER BY ts
                        RANGE BETWEEN INTERVAL 1 MINUTE PRECEDING AND CURRENT ROW) AS n_1m
  FROM events
  WHERE is_download(event_type, event_type_value, action) AND action_class = 'download' AND ts BETWEEN $since AND $until),
s AS (
  SELECT user_name, app_name, time_bucket(INTERVAL 15 MINUTE, ts) AS win, max(n_1m) AS peak_per_min,
         count(*) AS downloads, len(list_distinct(flatten(list(objects)))) AS distinct_objects,
         list(DISTINCT ip ORDER BY ip) AS ips
  FROM d GROUP BY ALL),
r AS (SELECT * FROM s WHERE peak_per_min > $per_min OR distinct_objects >= $per_15min_distinct),
-- the evidence: the window's downloads, read again with their ids for the reported users alone
-- (reading the id of every download in the sliding count would cost more than the count)
ev AS (
  SELECT r.user_name, r.app_name, r.win, min(e.ts) AS first_seen, max(e.ts) AS last_seen,
         list(e.id ORDER BY e.ts, e.id) AS evidence_ids
  FROM r JOIN events e ON e.user_name = r.user_name AND e.app_name IS NOT DISTINCT FROM r.app_name
    AND e.ts >= r.win AND e.ts < r.win + INTERVAL 15 MINUTE
  WHERE is_download(e.event_type, e.event_type_value, e.action) AND e.action_class = 'download' AND e.ts BETWEEN $since AND $until
  GROUP BY ALL)
SELECT r.*, ev.first_seen, ev.last_seen, ev.evidence_ids
FROM r LEFT JOIN ev ON ev.user_name = r.user_name AND ev.app_name IS NOT DISTINCT FROM r.app_name AND ev.win = r.win
ORDER BY peak_per_min DESC, r.user_name, r.win;
