-- name: ip-pivot
-- question: what else did these IP addresses do, and which other users share them?
-- description: Seeds with the given ip list, plus the untrusted or anonymous IPs user used in the
-- description: window when user is given, and summarises everything those IPs did from 7 days before
-- description: the window to its end (a seed used only before the window still counts): users, apps,
-- description: failed sign-ins and exfiltration-type operations.
-- kind: pivot
-- chart: bar, map
-- counterpart: the Sentinel IP entity page; the Defender for Cloud Apps activity log filtered on IP address
-- sources: activities, stream
-- history: 7d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: ip list required IP addresses to pivot on (comma-separated)
-- param: user string "" also pivot on this user's untrusted and anonymous IPs in the window
WITH seed AS (
  SELECT DISTINCT ip FROM events
  WHERE ip IS NOT NULL
    AND (list_contains($ip::VARCHAR[], ip)
         OR (lower(user_name) = lower($user) AND ts BETWEEN $since AND $until
             AND (coalesce(anonymous_proxy, false) OR coalesce(ip_category, 'Other') NOT IN ('Corporate', 'VPN'))))),
x AS (
  SELECT * FROM events WHERE ip IN (SELECT ip FROM seed))
SELECT ip, any_value(country) AS country, any_value(isp) AS isp, any_value(ip_category) AS ip_category,
       count(DISTINCT user_name) AS users, list(DISTINCT user_name ORDER BY user_name) AS user_list,
       list(DISTINCT app_name ORDER BY app_name) AS apps, count(*) AS events,
       count(*) FILTER (WHERE action_class = 'login_fail') AS failed_logins,
       count(*) FILTER (WHERE list_contains(['download', 'share', 'mail_rule'], action_class)) AS exfil_ops,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM x GROUP BY ip
ORDER BY users DESC, events DESC, ip;
