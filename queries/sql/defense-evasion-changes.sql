-- name: defense-evasion-changes
-- question: who turned off auditing, removed protection policies, disabled MFA or stopped a trail?
-- description: Every event that disables the admin audit log, removes or disables an anti-phishing,
-- description: Safe Attachments, Safe Links, DLP or audit policy, disables strong authentication,
-- description: stops, deletes or updates a CloudTrail trail, or changes a Conditional Access policy.
-- chart: timeline
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
WITH c AS (
  SELECT id, ts, user_name, app_name, ip, country, ip_category, action, description FROM classified
  WHERE ts BETWEEN $since AND $until AND (
       action = 'Set-AdminAuditLogConfig'
    OR (regexp_matches(action, '^(Remove|Disable)-') AND regexp_matches(action, 'AntiPhish|SafeAttachment|SafeLinks|Dlp|Audit'))
    OR action IN ('Disable Strong Authentication.', 'StopLogging', 'DeleteTrail', 'UpdateTrail')
    OR action ILIKE '%Conditional Access policy%')),
-- raw is read only for the audit-config rows (a filter the scan applies before fetching raw):
-- they count only when they switch the audit log off
audit_off AS (
  SELECT id FROM activities
  WHERE action = 'Set-AdminAuditLogConfig' AND ts BETWEEN $since AND $until
    AND regexp_matches(raw, '"AdminAuditLogEnabled"\s*,\s*"Value"\s*:\s*"?(False|false|\$false)"?'))
SELECT ts, user_name, app_name, ip, country, ip_category, action, description
FROM c
WHERE action <> 'Set-AdminAuditLogConfig' OR id IN (SELECT id FROM audit_off)
ORDER BY ts, user_name;
