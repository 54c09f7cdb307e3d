-- name: unusual-admin-activity
-- question: who ran admin operations new for them, or became an admin for the first time?
-- description: Admin operations a user first ran in the window, never before (back to baseline_days
-- description: before the window), for users seen for at least learning_days before; first_time_admin
-- description: marks users with no admin activity at all before the window, and high_risk marks
-- description: operations in high_risk_ops (role, permission, rule and credential changes).
-- kind: detection
-- chart: bar
-- history: baseline_days
-- entities: user=user_name ip=ips app=app_name
-- severity: medium
-- severity-rises: high when high_risk AND first_time_admin
-- tactics: TA0003, TA0004
-- techniques: T1098, T1098.003
-- counterpart: Sentinel RareOfficeOperations.yaml; Defender for Cloud Apps "Unusual administrative activities (by user)"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the user's usual operations
-- param: learning_days int 7 users seen for fewer days than this before the operation are not judged
-- param: high_risk_ops list "Add-MailboxPermission,Add-MailboxFolderPermission,Set-Mailbox,New-ManagementRoleAssignment,New-InboxRule,Set-InboxRule,New-TransportRule,Set-TransportRule,Add member to role.,Reset user password.,Add service principal credentials.,Set-AdminAuditLogConfig" operations that are high risk (comma-separated)
WITH adm AS (
  SELECT user_name, coalesce(action, event_type) AS op, app_name, ts, ip, country FROM events
  WHERE admin AND user_name IS NOT NULL),
per AS (SELECT user_name, op, min(ts) AS first_ts FROM adm GROUP BY ALL),
admins AS (SELECT user_name, min(first_ts) AS first_admin FROM per GROUP BY ALL),
in_window AS (SELECT * FROM per WHERE first_ts BETWEEN $since AND $until),
-- when each of their users was first seen (any successful activity): the start of the learning
-- period, from event_firsts (the warehouse's first times per day where it has them).
first_seen AS (
  SELECT user_name, min(first_ts) AS first_ts FROM event_firsts
  WHERE user_name IN (SELECT user_name FROM in_window)
  GROUP BY ALL),
new_ops AS (
  SELECT p.user_name, p.op, a.first_admin FROM in_window p
  JOIN admins a ON a.user_name = p.user_name
  JOIN first_seen k ON k.user_name = p.user_name
  WHERE p.first_ts >= k.first_ts + to_days($learning_days)),
r AS (
  SELECT c.user_name, c.op AS operation, c.app_name, count(*) AS n, min(c.ts) AS first_seen, max(c.ts) AS last_seen,
         list(DISTINCT c.ip ORDER BY c.ip) AS ips, list(DISTINCT c.country ORDER BY c.country) AS countries,
         n.first_admin >= $since AS first_time_admin,
         list_contains($high_risk_ops::VARCHAR[], c.op) AS high_risk
  FROM adm c JOIN new_ops n ON n.user_name = c.user_name AND n.op = c.op
  WHERE c.ts BETWEEN $since AND $until
  GROUP BY ALL),
-- the evidence: the new operations, read again with their ids for the reported users alone
-- (reading the id of every admin activity of the history would cost more than the rest)
ev AS (
  SELECT r.user_name, r.operation, r.app_name, list(e.id ORDER BY e.ts, e.id) AS evidence_ids
  FROM r JOIN events e ON e.user_name = r.user_name AND coalesce(e.action, e.event_type) = r.operation
    AND e.app_name IS NOT DISTINCT FROM r.app_name
  WHERE e.admin AND e.ts BETWEEN $since AND $until
  GROUP BY ALL)
SELECT r.*, ev.evidence_ids
FROM r JOIN ev ON ev.user_name = r.user_name AND ev.operation = r.operation AND ev.app_name IS NOT DISTINCT FROM r.app_name
ORDER BY r.high_risk DESC, r.first_time_admin DESC, r.first_seen, r.user_name;
