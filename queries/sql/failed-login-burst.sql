-- name: failed-login-burst
-- question: who failed to sign in to an app more than threshold times within window_min minutes, and then succeeded?
-- description: Counts failed sign-ins per user and app in a sliding window_min-minute window and
-- description: reports users whose count exceeds threshold, with the first successful sign-in (any
-- description: app) within success_within_min minutes after one of the burst's failures, and its IP
-- description: (brute force followed by success sorts first). A burst that starts before the window
-- description: still counts when its failures or its success fall inside it.
-- kind: detection
-- chart: timeline
-- history: 1h
-- entities: user=user_name ip=ips,success_ip
-- severity: medium
-- severity-rises: high when success_at IS NOT NULL
-- tactics: TA0006
-- techniques: T1110.001
-- counterpart: Sentinel SigninBruteForce-AzurePortal.yaml; Panther microsoft365_brute_force_login_by_user.yml; Defender for Cloud Apps "Multiple failed login attempts"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: threshold int 10 failures in one window above which a burst is reported
-- param: window_min int 5 length of the sliding window in minutes
-- param: success_within_min int 30 how long after a failure of the burst a success still counts
WITH f AS (
  SELECT user_name, app_name, ts, ip,
         count(*) OVER (PARTITION BY user_name, app_name ORDER BY ts
                        RANGE BETWEEN to_minutes($window_min) PRECEDING AND CURRENT ROW) AS n_win
  FROM events WHERE is_login_fail(event_type, event_type_value, action, success) AND action_class = 'login_fail' AND user_name IS NOT NULL),
-- the failures that end a window above the threshold: the burst's
hot AS (SELECT user_name, app_name, ts, n_win FROM f WHERE n_win > $threshold),
b AS (
  SELECT user_name, app_name, max(n_win) AS peak_fails_in_window, min(ts) AS burst_at, max(ts) AS last_burst_fail
  FROM hot GROUP BY ALL),
-- the failures counted in the window, and the addresses of the burst's own
agg AS (
  SELECT b.*, count(*) FILTER (WHERE f.ts >= $since) AS fails,
         list(DISTINCT f.ip ORDER BY f.ip) FILTER (WHERE f.ts BETWEEN b.burst_at - to_minutes($window_min) AND b.last_burst_fail) AS ips
  FROM b JOIN f ON f.user_name = b.user_name AND f.app_name IS NOT DISTINCT FROM b.app_name
  GROUP BY ALL),
-- each success within success_within_min after a failure of a burst (never days later); the
-- burst failures are few, so this is a hash join on the user with a range condition
s AS (
  SELECT DISTINCT l.user_name, h.app_name, l.ts, l.ip, l.id
  FROM (SELECT user_name, ts, ip, id FROM events
        WHERE is_login(event_type, event_type_value, action) AND action_class = 'login' AND user_name IS NOT NULL) l
  JOIN hot h ON h.user_name = l.user_name AND l.ts >= h.ts AND l.ts <= h.ts + to_minutes($success_within_min)),
first_s AS (
  SELECT user_name, app_name, min(ts) AS success_at, arg_min(ip, (ts, id)) AS success_ip, arg_min(id, (ts, id)) AS success_id
  FROM s GROUP BY ALL),
-- the evidence: the failures counted in the windows above the threshold, read again with their ids
-- for the few users of a burst (reading the id of every failure in the sliding window would cost
-- more than the count), and the success after them. As for the success, the join is on the user
-- and the time alone, which reach the scan as a filter; the app is matched in the aggregate.
ev AS (
  SELECT DISTINCT h.user_name, h.app_name, e.app_name AS ev_app, e.id, e.ts
  FROM (SELECT id, ts, user_name, app_name FROM events
        WHERE is_login_fail(event_type, event_type_value, action, success) AND action_class = 'login_fail') e
  JOIN hot h ON h.user_name = e.user_name AND e.ts >= h.ts - to_minutes($window_min) AND e.ts <= h.ts
  UNION ALL
  SELECT user_name, app_name, app_name, success_id, success_at FROM first_s),
evidence AS (
  SELECT user_name, app_name, min(ts) FILTER (WHERE ev_app IS NOT DISTINCT FROM app_name) AS first_seen,
         max(ts) FILTER (WHERE ev_app IS NOT DISTINCT FROM app_name) AS last_seen,
         list(id ORDER BY ts, id) FILTER (WHERE ev_app IS NOT DISTINCT FROM app_name) AS evidence_ids
  FROM ev GROUP BY user_name, app_name)
SELECT b.user_name, b.app_name, b.peak_fails_in_window, b.fails, b.burst_at, b.last_burst_fail, b.ips,
       s.success_at, s.success_ip, v.first_seen, v.last_seen, v.evidence_ids
FROM agg b LEFT JOIN first_s s ON s.user_name = b.user_name AND s.app_name IS NOT DISTINCT FROM b.app_name
JOIN evidence v ON v.user_name = b.user_name AND v.app_name IS NOT DISTINCT FROM b.app_name
WHERE b.last_burst_fail >= $since OR s.success_at >= $since
ORDER BY s.success_at IS NULL, b.peak_fails_in_window DESC, b.user_name;
