-- name: password-spray
-- question: which IP failed to sign in as many different users?
-- description: IPs with failed sign-ins against at least min_users distinct users in one
-- description: window_min-minute bucket, keeping IPs whose failed users outnumber their successful
-- description: ones (a busy shared egress has many successes). Users who then signed in from the IP
-- description: are compromise candidates; targeted lists the users it failed as.
-- kind: detection
-- chart: bar, timeline
-- history: 1h
-- entities: ip=ip
-- severity: medium
-- severity-rises: high when success_users > 0
-- tactics: TA0006
-- techniques: T1110.003
-- counterpart: Sentinel SigninPasswordSpray.yaml; Defender for Cloud Apps "Multiple failed login attempts"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: min_users int 5 distinct users failing from one IP in one bucket
-- param: window_min int 20 bucket length in minutes
WITH w AS (
  SELECT ip, time_bucket(to_minutes($window_min), ts) AS win, count(DISTINCT user_name) AS users
  FROM events WHERE is_login_fail(event_type, event_type_value, action, success) AND action_class = 'login_fail' AND ip IS NOT NULL
  GROUP BY ALL),
-- buckets that end inside the window (one may start in the hour of history before it)
hit AS (
  SELECT ip, count(*) AS breach_windows, max(users) AS peak_users FROM w
  WHERE users >= $min_users AND win + to_minutes($window_min) > $since AND win <= $until GROUP BY ip)
SELECT h.ip, any_value(x.country) AS country, any_value(x.isp) AS isp, h.breach_windows, h.peak_users,
       count(DISTINCT x.user_name) FILTER (WHERE x.action_class = 'login_fail') AS failed_users,
       count(DISTINCT x.user_name) FILTER (WHERE x.action_class = 'login') AS success_users,
       coalesce(list(DISTINCT x.user_name ORDER BY x.user_name) FILTER (WHERE x.action_class = 'login'), []) AS succeeded,
       coalesce(list(DISTINCT x.user_name ORDER BY x.user_name) FILTER (WHERE x.action_class = 'login_fail'), []) AS targeted,
       -- the evidence: the address's failed and successful sign-ins
       min(x.ts) FILTER (WHERE list_contains(['login_fail', 'login'], x.action_class)) AS first_seen,
       max(x.ts) FILTER (WHERE list_contains(['login_fail', 'login'], x.action_class)) AS last_seen,
       list(x.id ORDER BY x.ts, x.id) FILTER (WHERE list_contains(['login_fail', 'login'], x.action_class)) AS evidence_ids
FROM hit h JOIN events x ON x.ip = h.ip
GROUP BY h.ip, h.breach_windows, h.peak_users
HAVING count(DISTINCT x.user_name) FILTER (WHERE x.action_class = 'login_fail')
     > count(DISTINCT x.user_name) FILTER (WHERE x.action_class = 'login')
ORDER BY failed_users DESC, h.ip;
