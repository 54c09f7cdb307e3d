-- name: defense-evasion-changes
-- question: who turned off auditing, weakened or removed mail protection, disabled MFA or stopped a trail?
-- description: Every event that turns the admin or unified audit log off, switches mailbox auditing
-- description: off (for a mailbox, or for the organisation: Set-OrganizationConfig -AuditDisabled)
-- description: or exempts an account from it, removes or disables an anti-phishing, anti-malware,
-- description: anti-spam, connection filter, Safe Attachments, Safe Links, DLP, audit or alert policy
-- description: or rule (or sets one's Enabled switch to false or its Disabled switch to true), adds
-- description: senders, domains or addresses to a filter's allow list (AllowedSenders,
-- description: AllowedSenderDomains, IPAllowList, ExcludedSenders, ExcludedDomains) or an allow entry
-- description: to the Tenant Allow/Block List, disables strong authentication, stops, deletes or
-- description: updates a CloudTrail trail, deletes Azure diagnostic settings, or changes a Conditional
-- description: Access policy. The cmdlet's parameters are read by name, whatever their order.
-- kind: detection
-- chart: timeline
-- entities: user=user_name ip=ip app=app_name
-- severity: high
-- tactics: TA0005, TA0006
-- techniques: T1562.008, T1562.001, T1556.006
-- counterpart: Sentinel office_policytampering.yaml and exchange_auditlogdisabled.yaml; Sigma microsoft365_email_protection_policy_disabled.yml and microsoft365_disabling_mfa.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- (Parameters come from the narrow parameters column, the cmdlet's Parameters array, never from
-- raw: these cmdlets are few but spread over every block of rows.)
-- The changes are found on the narrow action column first; their wide columns (description,
-- parameters, id) are then fetched by a join on their times, which reaches the second scan as a
-- filter, rather than read for every row of the window.
WITH k AS (
  SELECT DISTINCT ts, action
  FROM events
  WHERE ts BETWEEN $since AND $until AND (
       action IN ('Set-AdminAuditLogConfig', 'Set-Mailbox', 'Set-MailboxAuditBypassAssociation', 'Set-OrganizationConfig',
                  'New-TenantAllowBlockListItems', 'New-TenantAllowBlockListSpoofItems',
                  'Disable Strong Authentication.', 'StopLogging', 'DeleteTrail', 'UpdateTrail')
    OR regexp_matches(action, '^(Remove|Disable|Set)-\w*(AntiPhish|SafeAttachment|SafeLinks|Dlp|Audit|MalwareFilter|HostedContentFilter|HostedConnectionFilter|HostedOutboundSpamFilter|AtpPolicy|ProtectionAlert|ActivityAlert)')
    OR action ILIKE '%Conditional Access policy%'
    OR ends_with(lower(action), 'diagnosticsettings/delete'))),
c AS (
  SELECT e.id, e.ts, e.user_name, e.app_name, e.ip, e.country, e.ip_category, e.action, e.description, e.parameters
  FROM events e JOIN k ON e.ts = k.ts AND e.action = k.action),
p AS (
  SELECT *, from_json(coalesce(parameters, '[]'), '[{"Name":"VARCHAR","Value":"VARCHAR"}]') AS ps FROM c),
-- the names of the switches each event sets off, and on
s AS (
  SELECT *,
         list_transform(list_filter(ps, lambda x: lower(trim(x.Value, '"$ ')) IN ('false', '0')), lambda x: x.Name) AS off,
         list_transform(list_filter(ps, lambda x: lower(trim(x.Value, '"$ ')) IN ('true', '1')), lambda x: x.Name) AS on_,
         -- allow lists given entries (not emptied: $null, @())
         list_transform(list_filter(ps, lambda x: list_contains(['IPAllowList', 'AllowedSenders', 'AllowedSenderDomains', 'ExcludedSenders', 'ExcludedDomains'], x.Name)
                                                 AND lower(trim(coalesce(x.Value, ''), '"$@() ')) NOT IN ('', 'null')), lambda x: x.Name) AS allowed
  FROM p)
SELECT ts, user_name, app_name, ip, country, ip_category, action, description, parameters,
       ts AS first_seen, ts AS last_seen, [id] AS evidence_ids
FROM s
WHERE CASE
  WHEN action = 'Set-AdminAuditLogConfig' THEN list_has_any(off, ['AdminAuditLogEnabled', 'UnifiedAuditLogIngestionEnabled'])
  WHEN action = 'Set-Mailbox' THEN list_contains(off, 'AuditEnabled')
  WHEN action = 'Set-MailboxAuditBypassAssociation' THEN list_contains(on_, 'AuditBypassEnabled')
  WHEN action = 'Set-OrganizationConfig' THEN list_contains(on_, 'AuditDisabled')
  WHEN action IN ('New-TenantAllowBlockListItems', 'New-TenantAllowBlockListSpoofItems') THEN
    list_contains(on_, 'Allow') OR len(list_filter(ps, lambda x: x.Name = 'Action' AND lower(trim(x.Value, '"$ ')) = 'allow')) > 0
  WHEN starts_with(action, 'Set-') THEN len(list_filter(off, lambda n: n = 'Enabled' OR ends_with(n, 'Enabled') OR starts_with(n, 'Enable'))) > 0
    OR len(list_filter(on_, lambda n: ends_with(n, 'Disabled'))) > 0 OR len(allowed) > 0
  ELSE true END
ORDER BY ts, user_name;
