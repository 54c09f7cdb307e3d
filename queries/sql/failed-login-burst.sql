-- name: failed-login-burst
-- question: who failed to sign in to an app more than threshold times within window_min minutes, and then succeeded?
-- description: Counts failed sign-ins per user and app in a sliding window and reports users whose
-- description: count exceeds threshold, with the first successful sign-in up to success_within_min
-- description: minutes after the last failure (brute force followed by success sorts first).
-- chart: timeline
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: threshold int 10 failures in one window above which a burst is reported
-- param: window_min int 5 length of the sliding window in minutes
-- param: success_within_min int 30 how long after the last failure a success still counts
WITH f AS (
  SELECT user_name, app_name, ts, ip,
         count(*) OVER (PARTITION BY user_name, app_name ORDER BY ts
                        RANGE BETWEEN to_minutes($window_min) PRECEDING AND CURRENT ROW) AS n_win
  FROM classified WHERE is_login_fail(event_type, action, success) AND op_class = 'login_fail' AND ts BETWEEN $since AND $until),
b AS (
  SELECT user_name, app_name, max(n_win) AS peak_fails_in_window, count(*) AS fails,
         min(ts) FILTER (WHERE n_win > $threshold) AS burst_at, max(ts) AS last_fail,
         list(DISTINCT ip ORDER BY ip) AS ips
  FROM f GROUP BY ALL HAVING max(n_win) > $threshold)
SELECT b.user_name, b.app_name, b.peak_fails_in_window, b.fails, b.burst_at, b.last_fail, b.ips,
       min(s.ts) AS success_at
FROM b LEFT JOIN classified s ON is_login(s.event_type, s.action) AND s.op_class = 'login' AND s.user_name = b.user_name
  AND s.ts BETWEEN b.burst_at AND b.last_fail + to_minutes($success_within_min)
GROUP BY ALL
ORDER BY success_at IS NULL, peak_fails_in_window DESC, b.user_name;
