-- name: hosting-provider-sign-in
-- question: who signed in from a hosting provider's servers, or from an ISP no one in the tenant used before?
-- description: Successful sign-ins in the window, by account and ISP, from a hosting provider
-- description: (hosting_isps: rented servers, where stolen sessions and passwords are replayed from)
-- description: that the account had not used in the baseline_days before, or from an ISP no one in
-- description: the tenant had used in them. Addresses of the organisation's own egress
-- description: (trusted_categories) are never reported; the big cloud providers (cloud_categories:
-- description: where SaaS services and proxies sign users in) are not new ISPs, only hosting ones when
-- description: they match hosting_isps. Accounts seen for fewer than learning_days before are not judged.
-- kind: detection
-- chart: map, bar
-- history: baseline_days
-- entities: user=user_name ip=ips
-- severity: medium
-- severity-rises: high when hosting AND new_for_tenant
-- tactics: TA0001, TA0042
-- techniques: T1078.004, T1583.003
-- counterpart: Sentinel "Sign-ins from VPS providers" and Okta/Entra hosting-ASN hunts; Defender for Cloud Apps "Activity from suspicious IP addresses" and its ISP risk factor
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that say which ISPs the account and the tenant use
-- param: learning_days int 7 accounts seen for fewer days than this before the sign-in are not judged
-- param: hosting_isps string "digitalocean|choopa|vultr|the constant company|linode|akamai connected cloud|\bovh|hetzner|m247|contabo|leaseweb|hostinger|scaleway|datacamp|hostroyale|clouvider|psychz|frantech|buyvm|worldstream|quadranet|colocrossing|g-core|hivelocity|servers\.com|tencent cloud|alibaba cloud" hosting providers, a regular expression over the ISP name (lower case)
-- param: trusted_categories list Corporate,VPN IP categories of the organisation's own egress
-- param: cloud_categories list "Cloud provider" IP categories of the big cloud providers, never a new ISP
-- The window's sign-ins name the ISPs; only those ISPs' history is read.
WITH s AS (
  SELECT id, ts, user_name, app_name, ip, isp, country, ip_category FROM events
  WHERE ts BETWEEN $since AND $until AND is_login(event_type, event_type_value, action) AND action_class = 'login'
    AND user_name IS NOT NULL AND coalesce(isp, '') <> ''
    AND NOT list_contains($trusted_categories::VARCHAR[], coalesce(ip_category, ''))),
pairs AS (
  SELECT user_name, isp, min(ts) AS first_ts, any_value(ip_category) AS ip_category,
         regexp_matches(lower(isp), $hosting_isps) AS hosting
  FROM s GROUP BY user_name, isp),
hist AS (
  SELECT user_name, isp, min(ts) AS first_ts FROM events
  WHERE ts < $since AND isp IN (SELECT isp FROM pairs) AND is_not_login_fail(event_type, event_type_value, action, success)
  GROUP BY ALL),
judged AS (
  SELECT p.*, NOT EXISTS (SELECT 1 FROM hist h WHERE h.user_name = p.user_name AND h.isp = p.isp) AS new_for_user,
         NOT EXISTS (SELECT 1 FROM hist h WHERE h.isp = p.isp) AS new_for_tenant
  FROM pairs p),
found AS (
  SELECT * FROM judged
  WHERE (hosting AND new_for_user)
     OR (new_for_tenant AND NOT list_contains($cloud_categories::VARCHAR[], coalesce(ip_category, '')))),
-- (when the accounts were first seen is read for the few accounts found, not for every account:
-- the failed sign-in test is an aggregate's filter, so it runs on their rows alone)
seen AS (
  SELECT e.user_name, min(e.ts) FILTER (WHERE is_not_login_fail(e.event_type, e.event_type_value, e.action, e.success)) AS user_first
  FROM events e JOIN (SELECT DISTINCT user_name FROM found) f ON f.user_name = e.user_name
  GROUP BY ALL),
hits AS (
  SELECT f.* FROM found f JOIN seen u ON u.user_name = f.user_name
  WHERE u.user_first <= f.first_ts - to_days($learning_days)),
-- everything those accounts did from those ISPs in the window: found on narrow columns, then
-- fetched again by a join on (ts, user_name), whose values reach the second scan as a filter
keys AS (
  SELECT DISTINCT e.ts, e.user_name, e.isp FROM events e JOIN hits h ON h.user_name = e.user_name AND h.isp = e.isp
  WHERE e.ts BETWEEN $since AND $until),
r AS (
  SELECT e.id, e.ts, e.user_name, e.isp, e.ip, e.country, e.app_name,
         action_class_of(e.event_type, e.event_type_value, e.action, e.success) AS action_class
  FROM events e JOIN keys k ON k.ts = e.ts AND k.user_name = e.user_name AND k.isp = e.isp
  WHERE e.ts BETWEEN $since AND $until)
SELECT r.user_name, r.isp, any_value(h.hosting) AS hosting, any_value(h.new_for_user) AS new_for_user,
       any_value(h.new_for_tenant) AS new_for_tenant, list(DISTINCT r.country ORDER BY r.country) FILTER (WHERE r.country IS NOT NULL) AS countries,
       count(*) FILTER (WHERE r.action_class = 'login') AS sign_ins, count(*) AS events,
       list(DISTINCT r.app_name ORDER BY r.app_name) AS apps, min(r.ts) AS first_seen, max(r.ts) AS last_seen,
       list(DISTINCT r.ip ORDER BY r.ip) AS ips, list(r.id ORDER BY r.ts, r.id) AS evidence_ids
FROM r JOIN hits h ON h.user_name = r.user_name AND h.isp = r.isp
GROUP BY r.user_name, r.isp
ORDER BY hosting DESC, new_for_tenant DESC, first_seen, r.user_name;
