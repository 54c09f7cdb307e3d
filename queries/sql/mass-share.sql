-- name: mass-share
-- question: who shared files in bursts, with anonymous links or to outside recipients?
-- description: Share events per user and app in window_min-minute buckets, with anonymous links
-- description: and recipients outside the tenant's own domains (and internal_domains); reports users
-- description: with at least min_windows buckets above per_window shares.
-- kind: detection
-- chart: timeline, bar
-- entities: user=user_name app=app_name
-- severity: medium
-- severity-rises: high when anonymous_links >= 10 OR external_recipients >= 10
-- tactics: TA0010
-- techniques: T1537, T1567
-- counterpart: Panther microsoft365_external_sharing.py; Defender for Cloud Apps "Unusual file share activities (by user)"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: per_window int 10 shares in one bucket above which the bucket is hot
-- param: min_windows int 2 hot buckets needed to report a user
-- param: window_min int 10 bucket length in minutes
-- param: internal_domains list "" more of the organisation's own mail domains, beside those found (comma-separated)
WITH sh AS (
  SELECT user_name, app_name, action, objects, time_bucket(to_minutes($window_min), ts) AS win
  FROM events
  WHERE is_share(event_type, event_type_value, action) AND action_class = 'share' AND ts BETWEEN $since AND $until),
own AS (SELECT coalesce(list(domain), []) || $internal_domains::VARCHAR[] AS domains FROM own_domains),
rcpt AS (
  SELECT user_name, app_name, win, lower(unnest(list_filter(objects, lambda o: contains(o, '@')))) AS recipient FROM sh),
ext AS (
  SELECT r.user_name, r.app_name, r.win,
         count(DISTINCT r.recipient) FILTER (WHERE NOT in_domains(split_part(r.recipient, '@', 2), own.domains)) AS external_recipients
  FROM rcpt r, own GROUP BY ALL),
s AS (
  SELECT user_name, app_name, win, count(*) AS shares,
         count(*) FILTER (WHERE action = 'AnonymousLinkCreated') AS anonymous_links
  FROM sh GROUP BY ALL),
r AS (
  SELECT s.user_name, s.app_name, count(*) FILTER (WHERE s.shares > $per_window) AS hot_windows,
         sum(s.shares)::BIGINT AS shares, sum(s.anonymous_links)::BIGINT AS anonymous_links,
         coalesce(sum(e.external_recipients), 0)::BIGINT AS external_recipients,
         min(s.win) FILTER (WHERE s.shares > $per_window) AS first_hot, max(s.win) FILTER (WHERE s.shares > $per_window) AS last_hot,
         list(s.win) FILTER (WHERE s.shares > $per_window) AS hot
  FROM s LEFT JOIN ext e ON e.user_name IS NOT DISTINCT FROM s.user_name AND e.app_name IS NOT DISTINCT FROM s.app_name AND e.win = s.win
  GROUP BY s.user_name, s.app_name
  HAVING count(*) FILTER (WHERE s.shares > $per_window) >= $min_windows),
-- the evidence: the shares of the hot buckets, read again with their ids for the reported users
-- alone
ev AS (
  SELECT r.user_name, r.app_name, min(e.ts) AS first_seen, max(e.ts) AS last_seen, list(e.id ORDER BY e.ts, e.id) AS evidence_ids
  FROM r JOIN events e ON e.user_name = r.user_name
  WHERE e.app_name IS NOT DISTINCT FROM r.app_name AND is_share(e.event_type, e.event_type_value, e.action) AND e.action_class = 'share' AND e.ts BETWEEN $since AND $until
    AND list_contains(r.hot, time_bucket(to_minutes($window_min), e.ts))
  GROUP BY ALL)
SELECT r.* EXCLUDE (hot), ev.first_seen, ev.last_seen, ev.evidence_ids
FROM r LEFT JOIN ev ON ev.user_name = r.user_name AND ev.app_name IS NOT DISTINCT FROM r.app_name
ORDER BY shares DESC, r.user_name;
