-- name: mass-share
-- question: who shared files in bursts, with anonymous links or to outside recipients?
-- description: Share events per user and app in window_min-minute buckets, with anonymous links
-- description: and recipients outside internal_domains; reports users with at least min_windows
-- description: buckets above per_window shares.
-- chart: timeline, bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: per_window int 10 shares in one bucket above which the bucket is hot
-- param: min_windows int 2 hot buckets needed to report a user
-- param: window_min int 10 bucket length in minutes
-- param: internal_domains list contoso.com the organisation's own mail domains (comma-separated)
WITH s AS (
  SELECT user_name, app_name, time_bucket(to_minutes($window_min), ts) AS win, count(*) AS shares,
         count(*) FILTER (WHERE action = 'AnonymousLinkCreated') AS anonymous_links,
         len(list_distinct(flatten(list(list_filter(objects, lambda o: o LIKE '%@%'
             AND NOT list_contains($internal_domains::VARCHAR[], split_part(lower(o), '@', 2))))))) AS external_recipients
  FROM classified WHERE is_share(action) AND op_class = 'share' AND ts BETWEEN $since AND $until
  GROUP BY ALL)
SELECT user_name, app_name, count(*) FILTER (WHERE shares > $per_window) AS hot_windows,
       sum(shares)::BIGINT AS shares, sum(anonymous_links)::BIGINT AS anonymous_links,
       sum(external_recipients)::BIGINT AS external_recipients,
       min(win) FILTER (WHERE shares > $per_window) AS first_hot, max(win) FILTER (WHERE shares > $per_window) AS last_hot
FROM s GROUP BY ALL
HAVING count(*) FILTER (WHERE shares > $per_window) >= $min_windows
ORDER BY shares DESC, user_name;
