-- name: admin-untrusted-ip
-- question: who did administrative work from a non-corporate or risky IP address?
-- description: Admin activity whose IP category is not in trusted_categories and whose address
-- description: starts with none of trusted_prefixes, grouped by user, app and IP; risky_ip marks
-- description: anonymous proxies and Risky addresses.
-- chart: map, bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: trusted_categories list Corporate,Administrative,VPN IP categories where admin work is expected
-- param: trusted_prefixes list 10. address prefixes of the organisation's own networks (comma-separated)
SELECT user_name, app_name, ip, any_value(country) AS country, any_value(isp) AS isp,
       any_value(ip_category) AS ip_category, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS admin_events,
       list(DISTINCT coalesce(action, event_type) ORDER BY coalesce(action, event_type)) AS operations,
       bool_or(coalesce(anonymous_proxy, false) OR ip_category = 'Risky') AS risky_ip
FROM classified
WHERE admin AND ts BETWEEN $since AND $until
  AND NOT list_contains($trusted_categories::VARCHAR[], coalesce(ip_category, 'Other'))
  AND len(list_filter($trusted_prefixes::VARCHAR[], lambda p: starts_with(coalesce(ip, ''), p))) = 0
GROUP BY user_name, app_name, ip
ORDER BY risky_ip DESC, admin_events DESC, user_name, ip;
