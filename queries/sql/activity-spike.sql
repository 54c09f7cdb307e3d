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
WITH imp AS (
  SELECT id FROM impersonations WHERE ts >= $since - to_days($baseline_days) AND ts < $until),
m AS (
  SELECT c.user_name, c.day,
         CASE WHEN i.id IS NOT NULL THEN 'impersonated' WHEN c.admin THEN 'admin' ELSE c.op_class END AS metric
  FROM classified c LEFT JOIN imp i ON i.id = c.id
  WHERE c.ts >= $since - to_days($baseline_days) AND c.ts < $until AND c.user_name IS NOT NULL
    -- the is_* filters first: op_class is then computed only for the rows they keep
    AND (is_download(c.event_type, c.action) OR is_upload(c.event_type, c.action) OR is_delete(c.action)
         OR is_share(c.action) OR c.admin OR is_mailbox_access(c.app_id, c.action))
    AND (c.op_class IN ('download', 'share', 'delete', 'upload') OR c.admin OR i.id IS NOT NULL)),
daily AS (
  SELECT user_name, metric, day, count(*) AS n FROM m
  WHERE metric IN ('download', 'share', 'delete', 'upload', 'admin', 'impersonated') GROUP BY ALL),
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
