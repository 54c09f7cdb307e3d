-- name: activity-spike
-- question: whose daily downloads, shares, deletes, uploads, admin or impersonated actions are far above their own baseline?
-- description: Daily counts per user of download, share, delete, upload, admin and impersonated
-- description: activity; z = (n - mean) / max(sd, 1) against the user's baseline_days before the
-- description: window (idle days count as 0). Reports days with z >= z and n >= min_count.
-- chart: timeline, bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the user's normal
-- param: z float 3 standard deviations above the user's mean that count as a spike
-- param: min_count int 20 smallest daily count worth reporting
-- Every row counts by class (admin, or op_class), except impersonations, which count as
-- impersonated instead. Rather than join every row to the impersonations by id (reading the
-- random 64-character id of millions of rows costs seconds), the rows are counted by class, and
-- each impersonation is then moved: -1 under its class if it was counted there, +1 under
-- impersonated.
WITH imp AS (
  SELECT user_name, day, CASE WHEN admin THEN 'admin' ELSE op_class_of(event_type, action, success) END AS by_class,
         (is_download(event_type, action) OR is_upload(event_type, action) OR is_delete(action)
          OR is_share(action) OR admin)
         AND (list_contains(['download', 'share', 'delete', 'upload'], op_class_of(event_type, action, success)) OR admin)
           AS counted_by_class
  FROM impersonations
  WHERE ts >= $since - to_days($baseline_days) AND ts < $until AND user_name IS NOT NULL),
-- the is_* filters first: op_class is then computed only for the rows they keep
m AS (
  SELECT user_name, day, CASE WHEN admin THEN 'admin' ELSE op_class END AS metric, 1 AS w
  FROM classified
  WHERE ts >= $since - to_days($baseline_days) AND ts < $until AND user_name IS NOT NULL
    AND (is_download(event_type, action) OR is_upload(event_type, action) OR is_delete(action)
         OR is_share(action) OR admin)
    AND (list_contains(['download', 'share', 'delete', 'upload'], op_class) OR admin)
  UNION ALL SELECT user_name, day, by_class, -1 FROM imp WHERE counted_by_class
  UNION ALL SELECT user_name, day, 'impersonated', 1 FROM imp),
-- every branch yields only download, share, delete, upload, admin or impersonated (a filter on
-- metric here would be pushed below the branches' own filters and classify every row)
daily AS (SELECT user_name, metric, day, sum(w)::BIGINT AS n FROM m GROUP BY ALL HAVING sum(w) > 0),
base AS (
  SELECT user_name, metric, sum(n) / $baseline_days AS mu,
         sqrt(greatest(sum(n * n) / $baseline_days - (sum(n) / $baseline_days) ^ 2, 0)) AS sd
  FROM daily WHERE day < CAST($since AS DATE) GROUP BY ALL)
SELECT d.user_name, d.metric, d.day, d.n, round(coalesce(b.mu, 0), 1) AS baseline_mean,
       round(coalesce(b.sd, 0), 1) AS baseline_sd,
       round((d.n - coalesce(b.mu, 0)) / greatest(coalesce(b.sd, 0), 1), 1) AS z
FROM daily d LEFT JOIN base b ON b.user_name = d.user_name AND b.metric = d.metric
WHERE d.day >= CAST($since AS DATE) AND d.n >= $min_count
  AND (d.n - coalesce(b.mu, 0)) / greatest(coalesce(b.sd, 0), 1) >= $z
ORDER BY z DESC, d.user_name, d.metric, d.day;
