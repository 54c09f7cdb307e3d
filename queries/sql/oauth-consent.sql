-- name: oauth-consent
-- question: who consented to an app new to the tenant that may read mail or files, or act for everyone?
-- description: Consents to applications ("Consent to application.", "Add delegated permission grant.",
-- description: "Add app role assignment to service principal.") in the window, to an app no one in
-- description: the tenant consented to before (back to baseline_days), that grant permissions in
-- description: high_scopes (mail, files and sites, mailbox settings, directory, app and role writes,
-- description: Exchange full access) or grant for the whole tenant (an admin's consent on behalf of
-- description: all, an application permission). offline_access marks a grant that keeps working with
-- description: no one signed in; users_in_window counts who consented to the app in the window (many
-- description: users and one new app: a consent-phishing campaign). The permissions are read from the
-- description: record's ModifiedProperties (ConsentAction.Permissions "Scope:",
-- description: DelegatedPermissionGrant.Scope, AppRole.Value); the app is the first object that is not
-- description: the consenting account.
-- kind: detection
-- chart: table
-- history: baseline_days
-- entities: user=user_name ip=ips app=app
-- severity: medium
-- severity-rises: high when tenant_wide; high when offline_access; high when users_in_window >= 3
-- tactics: TA0006, TA0005
-- techniques: T1528, T1550.001
-- counterpart: Sentinel RareApplicationConsent.yaml and MailPermissionsAddedToApplication.yaml (Microsoft Entra ID); Defender for Cloud Apps OAuth app policies (app governance)
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window in which an app consented to is known
-- param: high_scopes list "Mail.Read,Mail.ReadBasic,Mail.ReadWrite,Mail.Send,Mail.Read.Shared,Mail.ReadWrite.Shared,Mail.Send.Shared,MailboxSettings.ReadWrite,Files.Read.All,Files.ReadWrite.All,Sites.Read.All,Sites.ReadWrite.All,Sites.Manage.All,Sites.FullControl.All,Notes.Read.All,EWS.AccessAsUser.All,full_access_as_user,full_access_as_app,Directory.ReadWrite.All,Directory.AccessAsUser.All,Application.ReadWrite.All,AppRoleAssignment.ReadWrite.All,RoleManagement.ReadWrite.Directory,User.ReadWrite.All" permissions that let an app read mail or files or take over the tenant (comma-separated)
-- Consents are rare: every one in the history is read, with what it changed (modified_properties).
WITH c AS (
  SELECT id, ts, user_name, app_name, ip, action, objects, modified_props(modified_properties) AS mp FROM events
  WHERE list_contains(['Consent to application.', 'Add delegated permission grant.', 'Add app role assignment to service principal.'], action)),
s AS (
  SELECT id, ts, user_name, app_name, ip,
         list_filter(objects, lambda o: lower(o) <> lower(coalesce(user_name, '')))[1] AS app,
         -- the permissions granted, however the operation words them
         list_distinct(list_filter(string_split(regexp_replace(trim(concat_ws(' ',
             regexp_extract(coalesce(list_filter(mp, lambda p: p.Name = 'ConsentAction.Permissions')[1].NewValue, ''), 'Scope:\s*([^,\]]*)', 1),
             list_filter(mp, lambda p: p.Name = 'DelegatedPermissionGrant.Scope')[1].NewValue,
             list_filter(mp, lambda p: p.Name = 'AppRole.Value')[1].NewValue)), '\s+', ' ', 'g'), ' '), lambda x: x <> '')) AS scopes,
         coalesce(lower(list_filter(mp, lambda p: p.Name = 'ConsentContext.OnBehalfOfAll')[1].NewValue) = 'true', false)
           OR action = 'Add app role assignment to service principal.' AS tenant_wide
  FROM c),
k AS (SELECT *, lower(coalesce(app, '')) AS app_key FROM s),
known AS (SELECT DISTINCT app_key FROM k WHERE ts < $since),
win AS (SELECT * FROM k WHERE ts BETWEEN $since AND $until AND app_key <> '' AND app_key NOT IN (SELECT app_key FROM known)),
users AS (SELECT app_key, count(DISTINCT user_name) AS users_in_window FROM win GROUP BY app_key),
f AS (
  SELECT w.*, list_filter(w.scopes, lambda x: list_contains(list_transform($high_scopes::VARCHAR[], lambda h: lower(h)), lower(x))) AS high,
         u.users_in_window
  FROM win w JOIN users u ON u.app_key = w.app_key)
SELECT user_name, any_value(app) AS app, app_name,
       list_distinct(flatten(list(scopes))) AS scopes, list_distinct(flatten(list(high))) AS high_scopes,
       bool_or(tenant_wide) AS tenant_wide,
       list_contains(list_transform(flatten(list(scopes)), lambda x: lower(x)), 'offline_access') AS offline_access,
       count(*) AS consents, any_value(users_in_window) AS users_in_window, min(ts) AS first_seen, max(ts) AS last_seen,
       list(DISTINCT ip ORDER BY ip) FILTER (WHERE ip IS NOT NULL) AS ips, list(id ORDER BY ts, id) AS evidence_ids
FROM f
WHERE len(high) > 0 OR tenant_wide
GROUP BY user_name, app_key, app_name
ORDER BY tenant_wide DESC, first_seen, user_name;
