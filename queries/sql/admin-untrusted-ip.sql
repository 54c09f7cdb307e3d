-- name: admin-untrusted-ip
-- question: who did administrative work from a non-corporate or risky IP address?
-- description: Admin activity whose IP category is not in trusted_categories and whose address lies
-- description: in none of trusted_prefixes (networks in CIDR notation), grouped by user, app and IP;
-- description: risky_ip marks anonymous proxies and Risky addresses.
-- kind: detection
-- chart: map, bar
-- entities: user=user_name ip=ip app=app_name
-- severity: medium
-- severity-rises: high when risky_ip
-- tactics: TA0001, TA0004
-- techniques: T1078.004
-- counterpart: Defender for Cloud Apps risk factors "Administrative activity" and "Risky IP address" (anomaly detection policies)
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: trusted_categories list Corporate,Administrative,VPN IP categories where admin work is expected
-- param: trusted_prefixes cidrs 10.0.0.0/8 the organisation's own networks in CIDR notation (comma-separated; 192.168.1.0/24, 2001:db8::/32)
SELECT user_name, app_name, ip, any_value(country) AS country, any_value(isp) AS isp,
       any_value(ip_category) AS ip_category, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS admin_events,
       list(DISTINCT coalesce(action, event_type) ORDER BY coalesce(action, event_type)) AS operations,
       bool_or(coalesce(anonymous_proxy, false) OR coalesce(ip_category = 'Risky', false)) AS risky_ip,
       list(id ORDER BY ts, id) AS evidence_ids
FROM events
WHERE admin AND ts BETWEEN $since AND $until
  AND NOT list_contains($trusted_categories::VARCHAR[], coalesce(ip_category, 'Other'))
  AND NOT ip_in_ranges(ip, $trusted_prefixes::VARCHAR[])
GROUP BY user_name, app_name, ip
ORDER BY risky_ip DESC, admin_events DESC, user_name, ip;
