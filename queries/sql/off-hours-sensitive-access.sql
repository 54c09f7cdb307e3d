-- name: off-hours-sensitive-access
-- question: who opened sensitive files (payroll, salaries, personnel records …) at hours they never work?
-- description: Downloads, views and previews in the window of files whose name or location matches
-- description: sensitive_regex, outside the user's own working hours: at an hour of the day (UTC)
-- description: more than slack_hours away from every hour at which the user did anything in the
-- description: baseline_days before, and not inside a lull of at most gap_hours between two such
-- description: hours (a lunch break, a quiet afternoon). A night-shift worker's nights and a
-- description: traveller's time zones are theirs. Reported per user and day with at least min_files
-- description: such accesses. Users seen for fewer than learning_days before are not judged.
-- kind: detection
-- chart: timeline
-- history: baseline_days
-- entities: user=user_name ip=ips object=files
-- severity: medium
-- severity-rises: high when accesses >= 10
-- tactics: TA0009
-- techniques: T1530, T1213.002
-- counterpart: Defender for Cloud Apps "Unusual file access (by user)" and its time-of-activity risk factor; Microsoft Purview Insider Risk Management indicators of activity outside a user's usual hours
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the user's working hours
-- param: learning_days int 7 users seen for fewer days than this before are not judged
-- param: slack_hours int 1 how far from the user's usual hours an hour still counts as usual
-- param: gap_hours int 4 longest lull between two of the user's usual hours that counts as usual too
-- param: min_files int 3 smallest number of sensitive accesses in a day at unusual hours worth reporting
-- param: sensitive_regex string "payroll|salar|compensation|\bbonus|personnel file|performance review|termination|severance|passport|social security|\bssn\b|tax return|\bw-?2\b|\bp60\b|confidential|\bm&a\b|merger|acquisition|due diligence|board minutes|medical|health record|disciplinary" sensitive file names and locations, a regular expression over their lower-case text
-- param: access_ops list "FileAccessed,FilePreviewed,FileAccessedExtended,FileSyncDownloadedFull,view,PREVIEW,DOWNLOAD" operations that open a file, besides downloads
-- The window's sensitive accesses name the users; only their history is read, for their hours.
-- (The accesses are tested again in a CASE around the test of the names: alone, the regular
-- expression would run over the objects of every row of the window, before the operation filter.)
WITH a AS (
  SELECT id, ts, day, user_name, app_name, ip, objects, event_type, event_type_value, action FROM events
  WHERE ts BETWEEN $since AND $until AND user_name IS NOT NULL
    AND (is_download(event_type, event_type_value, action) OR list_contains($access_ops::VARCHAR[], action))),
s AS (
  SELECT * EXCLUDE (event_type, event_type_value, action),
         list_filter(objects, lambda o: regexp_matches(lower(o), $sensitive_regex)) AS sensitive,
         CASE WHEN is_download(event_type, event_type_value, action) OR list_contains($access_ops::VARCHAR[], action)
              THEN len(list_filter(objects, lambda o: regexp_matches(lower(o), $sensitive_regex))) > 0 END AS is_hit
  FROM a),
hits AS (SELECT * EXCLUDE (is_hit) FROM s WHERE is_hit),
usual AS (
  SELECT user_name, list_sort(list(DISTINCT hour(ts))) AS hours, min(ts) AS user_first FROM events
  WHERE ts < $since AND user_name IN (SELECT user_name FROM hits)
    AND is_not_login_fail(event_type, event_type_value, action, success)
  GROUP BY user_name),
-- each usual hour with the lull after it (hours to the next usual hour, round the clock)
lulls AS (
  SELECT user_name, hours, user_first,
         list_transform(hours, lambda x, i: {'from': x, 'length': (hours[i % len(hours) + 1] - x + 24) % 24}) AS lulls
  FROM usual),
off AS (
  SELECT h.*, u.hours AS usual_hours,
         list_min(list_transform(u.hours, lambda x: least(abs(hour(h.ts) - x), 24 - abs(hour(h.ts) - x)))) AS hours_off,
         len(list_filter(u.lulls, lambda l: l.length <= $gap_hours AND (hour(h.ts) - l.from + 24) % 24 < l.length)) > 0 AS in_lull
  FROM hits h JOIN lulls u ON u.user_name = h.user_name
  WHERE u.user_first <= h.ts - to_days($learning_days))
SELECT user_name, day, list_sort(list_distinct(flatten(list(sensitive)))) AS files, count(*) AS accesses,
       list(DISTINCT hour(ts) ORDER BY hour(ts)) AS hours_utc, list_sort(any_value(usual_hours)) AS usual_hours_utc,
       max(hours_off) AS hours_from_usual, list(DISTINCT app_name ORDER BY app_name) AS apps,
       min(ts) AS first_seen, max(ts) AS last_seen, list(DISTINCT ip ORDER BY ip) FILTER (WHERE ip IS NOT NULL) AS ips,
       list(id ORDER BY ts, id) AS evidence_ids
FROM off
WHERE hours_off > $slack_hours AND NOT in_lull
GROUP BY user_name, day
HAVING count(*) >= $min_files
ORDER BY accesses DESC, first_seen, user_name;
