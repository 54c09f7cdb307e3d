-- name: new-client-fingerprint
-- question: who used a user agent or ISP new for them, especially a scripting tool, and then touched files?
-- description: User agents and ISPs a user had not used in the baseline_days before the window.
-- description: Keeps scripting-tool user agents (tool_ua_regex) with any successful activity, and
-- description: any new fingerprint with at least min_file_ops downloads, uploads, shares, deletes or
-- description: mail-rule changes.
-- chart: bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the user's usual clients
-- param: min_file_ops int 5 sensitive operations from a new fingerprint that are reported
-- param: tool_ua_regex string python|curl|wget|azurehound|powershell|go-http-client|okhttp|postman|rclone|headless user agents of scripting tools (regular expression, lower case)
WITH hist_ua AS (
  SELECT DISTINCT user_name, user_agent FROM classified
  WHERE ts >= $since - to_days($baseline_days) AND ts < $since AND user_agent IS NOT NULL),
hist_isp AS (
  SELECT DISTINCT user_name, isp FROM classified
  WHERE ts >= $since - to_days($baseline_days) AND ts < $since AND isp IS NOT NULL),
cur AS (
  SELECT c.user_name, c.user_agent, c.device_type, c.isp, c.ts, c.ip, c.event_type, c.action, c.success,
         c.user_agent IS NOT NULL AND hu.user_name IS NULL AS new_ua,
         c.isp IS NOT NULL AND hi.user_name IS NULL AS new_isp
  FROM classified c
  LEFT JOIN hist_ua hu ON hu.user_name = c.user_name AND hu.user_agent = c.user_agent
  LEFT JOIN hist_isp hi ON hi.user_name = c.user_name AND hi.isp = c.isp
  WHERE c.ts BETWEEN $since AND $until AND c.user_name IS NOT NULL),
g AS (
  SELECT user_name, user_agent, any_value(device_type) AS device_type, bool_or(new_ua) AS new_ua,
         coalesce(list(DISTINCT isp ORDER BY isp) FILTER (WHERE new_isp), []) AS new_isps,
         min(ts) AS first_seen, count(*) AS events,
         count(*) FILTER (WHERE list_contains(['download', 'upload', 'share', 'delete', 'mail_rule'],
                                             op_class_of(event_type, action, success))) AS sensitive_ops,
         count(*) FILTER (WHERE is_not_login_fail(event_type, action, success)) AS successful,
         coalesce(regexp_matches(lower(user_agent), $tool_ua_regex), false) AS tool_ua,
         list(DISTINCT ip ORDER BY ip) AS ips
  FROM cur WHERE new_ua OR new_isp
  GROUP BY user_name, user_agent)
SELECT * EXCLUDE (successful) FROM g
WHERE (tool_ua AND successful > 0) OR sensitive_ops >= $min_file_ops
ORDER BY tool_ua DESC, sensitive_ops DESC, user_name, user_agent;
