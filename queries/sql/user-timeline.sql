-- name: user-timeline
-- question: what did this user do, hour by hour: which apps, places, devices and kinds of activity?
-- description: One user's activity per time bucket and class, with apps, countries, IPs, user agents
-- description: and flags for anonymous IPs, admin and impersonated activity.
-- kind: pivot
-- chart: timeline, map
-- counterpart: the Defender for Cloud Apps user page; the Sentinel user entity page
-- sources: activities, stream
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: user string required the user name (UPN) to follow
-- param: bucket choice(minute|hour|day|week) hour bucket length
WITH imp AS (
  SELECT id FROM impersonations WHERE lower(user_name) = lower($user) AND ts BETWEEN $since AND $until)
SELECT date_trunc($bucket, ts) AS bucket, action_class, count(*) AS events,
       list(DISTINCT app_name ORDER BY app_name) AS apps, list(DISTINCT country ORDER BY country) AS countries,
       list(DISTINCT ip ORDER BY ip) AS ips, list(DISTINCT user_agent ORDER BY user_agent) AS user_agents,
       bool_or(coalesce(anonymous_proxy, false)) AS anonymous_ip, bool_or(coalesce(admin, false)) AS admin,
       bool_or(i.id IS NOT NULL) AS impersonated
FROM events c LEFT JOIN imp i USING (id)
WHERE lower(user_name) = lower($user) AND ts BETWEEN $since AND $until
GROUP BY ALL
ORDER BY bucket, action_class;
