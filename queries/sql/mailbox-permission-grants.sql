-- name: mailbox-permission-grants
-- question: who gave someone full access to, or send-as on, a person's mailbox, or gave an app every mailbox?
-- description: Grants in the window of FullAccess (Add-MailboxPermission), SendAs
-- description: (Add-RecipientPermission), send on behalf (Set-Mailbox -GrantSendOnBehalfTo) and
-- description: delegate rights on a mail folder other than the calendar or contacts
-- description: (Add-/Set-MailboxFolderPermission), on the mailbox of a person (an account that signs
-- description: in, matched by address or alias; shared mailboxes are nobody's), by an account that
-- description: made no such grant on a person's mailbox in the baseline_days before (the messaging
-- description: administrators who set up assistants' delegation do so routinely) or to itself. Always
-- description: reported: ApplicationImpersonation granted (New-ManagementRoleAssignment), and an app
-- description: given mail permissions over every mailbox ("Add app role assignment to service
-- description: principal." with full_access_as_app or a Mail.* application permission).
-- kind: detection
-- chart: table
-- history: baseline_days
-- entities: user=user_name,grantee ip=ips
-- severity: medium
-- severity-rises: high when self_granted; high when list_has_any(kinds, ['ApplicationImpersonation', 'AppMailAccess'])
-- tactics: TA0003, TA0009
-- techniques: T1098.002, T1114.002
-- counterpart: Sigma m365_exchange_bec_behavioral_indicators.yaml (selection_mailbox_delegate); Sentinel ExchangeFullAccessGrantedToApp.yaml (Microsoft Entra ID) and the Exchange "Mail delegation" hunting queries
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that say who grants access to people's mailboxes routinely
-- param: folder_rights list Owner,PublishingEditor,Editor,PublishingAuthor,Author,NonEditingAuthor,Reviewer,FullDetails folder rights that let a delegate read or change mail
-- Grants are rare; their arguments come from the narrow parameters column. Who is a person is read
-- from the sign-ins of the granted mailboxes alone. The history's grants say only who grants
-- routinely: their ids are not read (an id is a random 64-character text, and reading it for rows
-- spread over the whole history cost more than the rest of the investigation).
WITH g AS (
  SELECT NULL::VARCHAR AS id, ts, user_name, app_name, ip, action, parameters FROM events
  WHERE ts < $since AND list_contains(['Add-MailboxPermission', 'Add-RecipientPermission', 'Set-Mailbox', 'Add-MailboxFolderPermission',
                   'Set-MailboxFolderPermission', 'New-ManagementRoleAssignment'], action)
  UNION ALL
  SELECT id, ts, user_name, app_name, ip, action, parameters FROM events
  WHERE ts >= $since AND list_contains(['Add-MailboxPermission', 'Add-RecipientPermission', 'Set-Mailbox', 'Add-MailboxFolderPermission',
                   'Set-MailboxFolderPermission', 'New-ManagementRoleAssignment'], action)),
v AS (
  SELECT *, lower(cmdlet_param(parameters, 'Identity')) AS identity,
         coalesce(cmdlet_param(parameters, 'User'), cmdlet_param(parameters, 'Trustee'),
                  cmdlet_param(parameters, 'GrantSendOnBehalfTo'), cmdlet_param(parameters, 'App')) AS grantee_text,
         lower(coalesce(cmdlet_param(parameters, 'AccessRights'), '')) AS rights,
         cmdlet_param(parameters, 'Role') AS role
  FROM g),
k AS (
  SELECT *, split_part(identity, ':', 1) AS mailbox,
         lower(coalesce(nullif(regexp_extract(grantee_text, '([A-Za-z0-9._%+''-]+@[A-Za-z0-9.-]+)', 1), ''), grantee_text)) AS grantee,
         CASE
           WHEN action = 'Add-MailboxPermission' AND contains(rights, 'fullaccess') THEN 'FullAccess'
           WHEN action = 'Add-RecipientPermission' AND contains(rights, 'sendas') THEN 'SendAs'
           WHEN action = 'Set-MailboxFolderPermission' OR action = 'Add-MailboxFolderPermission' THEN
             CASE WHEN NOT regexp_matches(identity, ':\\?(calendar|kalender|calendrier|calendario|contacts|kontakte)')
                       AND list_has_any(list_transform($folder_rights::VARCHAR[], lambda r: lower(r)), string_split(replace(rights, ' ', ''), ','))
                  THEN 'FolderDelegate' END
           WHEN action = 'Set-Mailbox' AND coalesce(grantee_text, '') <> '' THEN 'SendOnBehalf'
           WHEN action = 'New-ManagementRoleAssignment' AND lower(coalesce(role, '')) = 'applicationimpersonation' THEN 'ApplicationImpersonation'
         END AS kind
  FROM v),
grants AS (
  SELECT id, ts, user_name, app_name, ip, action, coalesce(nullif(mailbox, ''), 'all mailboxes') AS mailbox, grantee, rights, kind
  FROM k WHERE kind IS NOT NULL
  UNION ALL
  -- an application given mail permissions over every mailbox (application permissions)
  SELECT id, ts, user_name, app_name, ip, action, 'all mailboxes', lower(list_filter(objects, lambda o: lower(o) <> lower(coalesce(user_name, '')))[1]),
         lower(modified_value(modified_properties, 'AppRole.Value')), 'AppMailAccess'
  FROM events
  WHERE action = 'Add app role assignment to service principal.'
    AND regexp_matches(lower(coalesce(modified_value(modified_properties, 'AppRole.Value'), '')), '^(full_access_as_app|mail\.|mailboxsettings\.|ews\.)')),
-- the people among the mailboxes: accounts that signed in, by address or by alias. Their user
-- names as the rows spell them come first (few), so the sign-ins are found by a join on the name
-- and classified for those rows alone (the CASE keeps the classification above the join).
mailbox_names AS (
  SELECT user_name FROM (SELECT DISTINCT user_name FROM events)
  WHERE lower(user_name) IN (SELECT mailbox FROM grants) OR split_part(lower(user_name), '@', 1) IN (SELECT mailbox FROM grants)),
people AS (
  SELECT DISTINCT lower(e.user_name) AS upn FROM events e JOIN mailbox_names n ON n.user_name = e.user_name
  WHERE CASE WHEN n.user_name IS NOT NULL THEN is_login(e.event_type, e.event_type_value, e.action) AND e.action_class = 'login' END),
p AS (
  SELECT g.*, EXISTS (SELECT 1 FROM people x WHERE x.upn = g.mailbox OR split_part(x.upn, '@', 1) = g.mailbox) AS person FROM grants g),
usual AS (SELECT DISTINCT user_name FROM p WHERE ts < $since AND person AND user_name IS NOT NULL),
r AS (
  SELECT p.*, coalesce(p.grantee IN (lower(p.user_name), split_part(lower(p.user_name), '@', 1)), false) AS self,
         u.user_name IS NOT NULL AS usual
  FROM p LEFT JOIN usual u ON u.user_name = p.user_name
  WHERE p.ts BETWEEN $since AND $until)
SELECT user_name, mailbox, grantee, list(DISTINCT kind ORDER BY kind) AS kinds, list(DISTINCT action ORDER BY action) AS actions,
       bool_or(self) AS self_granted, count(*) AS grants, min(ts) AS first_seen, max(ts) AS last_seen,
       list(DISTINCT ip ORDER BY ip) FILTER (WHERE ip IS NOT NULL) AS ips, any_value(app_name) AS app_name,
       list(id ORDER BY ts, id) AS evidence_ids
FROM r
WHERE kind IN ('ApplicationImpersonation', 'AppMailAccess') OR (person AND (NOT usual OR self))
GROUP BY user_name, mailbox, grantee
ORDER BY self_granted DESC, first_seen, user_name;
