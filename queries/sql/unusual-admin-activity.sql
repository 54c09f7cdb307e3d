-- name: unusual-admin-activity
-- question: who ran admin operations new for them, or became an admin for the first time?
-- description: Admin operations a user never ran in the baseline_days before the window;
-- description: first_time_admin marks users with no admin activity at all in the baseline, and
-- description: high_risk marks operations in high_risk_ops (role, permission, rule and credential
-- description: changes).
-- chart: bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the user's usual operations
-- param: high_risk_ops list "Add-MailboxPermission,Add-MailboxFolderPermission,Set-Mailbox,New-ManagementRoleAssignment,New-InboxRule,Set-InboxRule,New-TransportRule,Set-TransportRule,Add member to role.,Reset user password.,Add service principal credentials.,Set-AdminAuditLogConfig" operations that are high risk (comma-separated)
WITH hist AS (
  SELECT DISTINCT user_name, coalesce(action, event_type) AS op FROM classified
  WHERE admin AND ts >= $since - to_days($baseline_days) AND ts < $since),
admins AS (SELECT DISTINCT user_name FROM hist),
cur AS (
  SELECT user_name, coalesce(action, event_type) AS op, app_name, ts, ip, country FROM classified
  WHERE admin AND ts BETWEEN $since AND $until)
SELECT c.user_name, c.op AS operation, c.app_name, count(*) AS n, min(c.ts) AS first_ts,
       list(DISTINCT c.ip ORDER BY c.ip) AS ips, list(DISTINCT c.country ORDER BY c.country) AS countries,
       a.user_name IS NULL AS first_time_admin,
       list_contains($high_risk_ops::VARCHAR[], c.op) AS high_risk
FROM cur c
LEFT JOIN hist h ON h.user_name = c.user_name AND h.op = c.op
LEFT JOIN admins a ON a.user_name = c.user_name
WHERE h.op IS NULL
GROUP BY ALL
ORDER BY high_risk DESC, first_time_admin DESC, first_ts, c.user_name;
