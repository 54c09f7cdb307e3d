-- name: mfa-change-after-risky-sign-in
-- question: whose MFA methods or security info changed within hours of a risky sign-in?
-- description: Changes of a user's security info ("User registered security info", "User deleted
-- description: security info", "Admin deleted security info" …, and "Update user." that changes
-- description: StrongAuthenticationMethod, StrongAuthenticationPhoneAppDetail or
-- description: StrongAuthenticationUserDetails) in the window, within within_hours after a successful
-- description: sign-in of that user that was risky: through an anonymous proxy or a Risky address,
-- description: from a country the user had not used, or from an ISP new for the user outside
-- description: trusted_categories (the organisation's own egress). New is against everything the
-- description: user did successfully in the baseline_days before; users seen for fewer than
-- description: learning_days before the sign-in (new hires setting up MFA) are not judged.
-- kind: detection
-- chart: timeline
-- history: baseline_days
-- entities: user=user_name ip=sign_in_ip,ips
-- severity: high
-- tactics: TA0003, TA0006
-- techniques: T1556.006, T1098.005, T1078.004
-- counterpart: Sentinel SuspiciousSignInFollowedByMFAModification.yaml (Microsoft Entra ID) and hunting riskSignInWithNewMFAMethod.yaml (Business Email Compromise)
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: within_hours int 6 how long after a risky sign-in a change of security info counts
-- param: baseline_days int 30 days of history before the window that say which countries and ISPs a user has used
-- param: learning_days int 7 users seen for fewer days than this before the sign-in are not judged
-- param: trusted_categories list Corporate,VPN IP categories of the organisation's own egress (never a new ISP)
-- param: security_info_ops list "User registered security info,User deleted security info,User changed default security info,User registered all required security info,User updated security info,Admin registered security info,Admin deleted security info,Admin updated security info,Admin changed default security info" Authentication Methods operations that change a user's security info
-- The changes are found first (their subject: the account the record is about); then the
-- sign-ins of those few users before them, and only those users' history.
WITH ch0 AS (
  SELECT id, ts, user_name, app_name, ip, action, objects,
         lower(coalesce(list_filter(objects, lambda o: contains(o, '@'))[1], user_name)) AS subject,
         CASE WHEN action = 'Update user.' THEN modified_properties END AS modified
  FROM events
  WHERE ts BETWEEN $since AND $until AND (list_contains($security_info_ops::VARCHAR[], action) OR action = 'Update user.')),
ch AS (
  SELECT * EXCLUDE (modified) FROM ch0
  WHERE action <> 'Update user.'
     OR list_has_any(list_transform(modified_props(modified), lambda p: p.Name),
                     ['StrongAuthenticationMethod', 'StrongAuthenticationPhoneAppDetail', 'StrongAuthenticationUserDetails'])),
-- the subjects' user names as the rows spell them: the scans below join on the name itself, a
-- hash look-up a row, instead of lowering every row's name
names AS (
  SELECT user_name, lower(user_name) AS subject FROM (SELECT DISTINCT user_name FROM events)
  WHERE lower(user_name) IN (SELECT subject FROM ch)),
si AS (
  SELECT e.id, e.ts, e.user_name, n.subject, e.ip, e.country, e.isp, e.ip_category, e.anonymous_proxy
  FROM events e JOIN names n ON n.user_name = e.user_name
  WHERE e.ts BETWEEN $since - to_hours($within_hours) AND $until
    AND CASE WHEN n.subject IS NOT NULL THEN is_login(e.event_type, e.event_type_value, e.action) AND e.action_class = 'login' END),
pairs AS (
  SELECT s.*, c.id AS change_id, c.ts AS change_ts, c.action AS change, c.ip AS change_ip
  FROM si s JOIN ch c ON c.subject = s.subject AND c.ts BETWEEN s.ts AND s.ts + to_hours($within_hours)),
-- the history of those users: when each country and ISP was first used, and when they were first
-- seen (the CASE keeps the classification above the join, for their rows alone)
hist AS (
  SELECT n.subject, e.country, e.isp, min(e.ts) AS first_ts
  FROM events e JOIN names n ON n.user_name = e.user_name
  WHERE n.subject IN (SELECT subject FROM pairs)
    AND CASE WHEN n.subject IS NOT NULL THEN is_not_login_fail(e.event_type, e.event_type_value, e.action, e.success) END
  GROUP BY ALL),
judged AS (
  SELECT p.*,
         (SELECT min(first_ts) FROM hist h WHERE h.subject = p.subject) AS user_first,
         NOT EXISTS (SELECT 1 FROM hist h WHERE h.subject = p.subject AND h.country = p.country AND h.first_ts < p.ts) AS new_country,
         NOT EXISTS (SELECT 1 FROM hist h WHERE h.subject = p.subject AND h.isp = p.isp AND h.first_ts < p.ts) AS new_isp
  FROM pairs p),
risky AS (
  SELECT *, list_filter([CASE WHEN coalesce(anonymous_proxy, false) THEN 'anonymous proxy' END,
                         CASE WHEN ip_category = 'Risky' THEN 'risky address' END,
                         CASE WHEN new_country AND country IS NOT NULL THEN 'country new for the user' END,
                         CASE WHEN new_isp AND isp IS NOT NULL AND isp <> ''
                                   AND NOT list_contains($trusted_categories::VARCHAR[], coalesce(ip_category, '')) THEN 'ISP new for the user' END],
                        lambda x: x IS NOT NULL) AS reasons
  FROM judged
  WHERE user_first <= ts - to_days($learning_days))
SELECT user_name, ts AS sign_in_at, ip AS sign_in_ip, country, isp, any_value(reasons) AS reasons,
       list(DISTINCT change ORDER BY change) AS changes, min(change_ts) AS changed_at,
       round(date_diff('second', ts, min(change_ts)) / 60.0, 1) AS minutes_after,
       ts AS first_seen, max(change_ts) AS last_seen,
       list_sort(list_distinct(list(change_ip) || [ip])) AS ips,
       [id] || list(change_id ORDER BY change_ts, change_id) AS evidence_ids
FROM risky
WHERE len(reasons) > 0
GROUP BY user_name, ts, ip, country, isp, id
ORDER BY sign_in_at, user_name;
