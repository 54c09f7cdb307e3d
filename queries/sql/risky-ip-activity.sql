-- name: risky-ip-activity
-- question: who acted from anonymous-proxy, Tor or other Risky IP addresses?
-- description: Activity whose IP is an anonymous proxy or in the Risky category (anonymous proxy,
-- description: Tor, botnet), grouped by user and IP with sign-ins and failures apart. users_on_ip
-- description: counts everyone who used the IP in the window: a mis-tagged address shared by many
-- description: users sorts last.
-- kind: detection
-- chart: map, bar
-- entities: user=user_name ip=ip
-- severity: low
-- severity-rises: medium when logins > 0 AND users_on_ip <= 3
-- tactics: TA0011, TA0001
-- techniques: T1090.003, T1078.004
-- counterpart: Defender for Cloud Apps "Activity from anonymous IP addresses"; Sigma microsoft365_activity_from_anonymous_ip_addresses.yml and microsoft365_logon_from_risky_ip_address.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
WITH r AS (
  SELECT * FROM events
  WHERE ts BETWEEN $since AND $until AND (anonymous_proxy OR ip_category = 'Risky')),
pop AS (
  SELECT ip, count(DISTINCT user_name) AS users_on_ip FROM events
  WHERE ip IN (SELECT ip FROM r) GROUP BY ip)
SELECT r.user_name, r.ip, any_value(r.country) AS country, any_value(r.isp) AS isp,
       any_value(r.ip_category) AS ip_category, min(r.ts) AS first_seen, max(r.ts) AS last_seen,
       count(*) AS events, count(*) FILTER (WHERE r.action_class = 'login') AS logins,
       count(*) FILTER (WHERE r.action_class = 'login_fail') AS failed_logins,
       list(DISTINCT coalesce(r.action, r.event_type) ORDER BY coalesce(r.action, r.event_type)) AS actions,
       any_value(p.users_on_ip) AS users_on_ip, list(r.id ORDER BY r.ts, r.id) AS evidence_ids
FROM r JOIN pop p USING (ip)
GROUP BY r.user_name, r.ip
ORDER BY users_on_ip, events DESC, r.user_name, r.ip;
