-- name: privileged-role-assignment
-- question: who made someone Global Administrator, or granted a privileged role without being one of those who do?
-- description: Entra ID role assignments ("Add member to role.", "Add eligible member to role.",
-- description: "Add scoped member to role.", and assignments made through Privileged Identity
-- description: Management, "Add member to role in PIM completed …"; not the activation of an eligible
-- description: role, "Add member to role completed (PIM activation)", nor what pim_actors do on its
-- description: behalf) in the window. Every assignment of a critical_roles role is reported; one of
-- description: the other privileged_roles when whoever made it had made no privileged assignment in
-- description: the baseline_days before the window (not one of the usual administrators), or gave it
-- description: to themself. The role is the object that names one; when the objects name the account
-- description: but no role, the record's Role.DisplayName (ModifiedProperties).
-- kind: detection
-- chart: timeline
-- history: baseline_days
-- entities: user=user_name,target ip=ips app=app_name
-- severity: medium
-- severity-rises: high when critical; high when self_assigned
-- tactics: TA0003, TA0004
-- techniques: T1098.003, T1078.004
-- counterpart: Sentinel UserAssignedPrivilegedRole.yaml and PrivlegedRoleAssignedOutsidePIM.yaml (Microsoft Entra ID); Defender for Cloud Apps "Unusual administrative activity (by user)"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that say who assigns privileged roles as a routine
-- param: critical_roles list "Global Administrator,Company Administrator,Privileged Role Administrator,Privileged Authentication Administrator" roles reported whoever assigns them (comma-separated)
-- param: privileged_roles list "Security Administrator,Exchange Administrator,SharePoint Administrator,Application Administrator,Cloud Application Administrator,User Administrator,Authentication Administrator,Authentication Policy Administrator,Helpdesk Administrator,Password Administrator,Conditional Access Administrator,Hybrid Identity Administrator,Intune Administrator,Compliance Administrator,Teams Administrator,Exchange Recipient Administrator,Groups Administrator,Billing Administrator,Domain Name Administrator,External Identity Provider Administrator,Directory Writers,Security Operator,Partner Tier2 Support" roles reported when assigned outside the usual administrators (comma-separated)
-- param: pim_actors list MS-PIM accounts that assign roles on Privileged Identity Management's behalf
-- The role is read from the objects (where the service names it); ModifiedProperties
-- (Role.DisplayName, the narrow modified_properties column) only for the window's assignments
-- whose objects name an account but none of the roles, fetched again by a join on
-- (ts, user_name, action) whose few values reach the second scan as a filter.
WITH roles AS (
  SELECT list_transform($critical_roles::VARCHAR[], lambda r: lower(r)) AS critical,
         list_transform($critical_roles::VARCHAR[] || $privileged_roles::VARCHAR[], lambda r: lower(r)) AS privileged),
a AS (
  SELECT a.id, a.ts, a.user_name, a.app_name, a.ip, a.action, a.objects,
         list_filter(a.objects, lambda o: list_contains(roles.privileged, lower(o)))[1] AS object_role,
         list_filter(a.objects, lambda o: contains(o, '@'))[1] AS target, roles.critical, roles.privileged
  FROM events a, roles
  WHERE (list_contains(['Add member to role.', 'Add eligible member to role.', 'Add scoped member to role.'], a.action)
         OR starts_with(a.action, 'Add member to role in PIM completed') OR starts_with(a.action, 'Add eligible member to role in PIM completed'))
    AND NOT list_contains($pim_actors::VARCHAR[], coalesce(a.user_name, ''))),
unnamed AS (SELECT DISTINCT ts, user_name, action FROM a WHERE object_role IS NULL AND target IS NOT NULL AND ts BETWEEN $since AND $until),
named AS (
  SELECT e.ts, e.user_name, e.action, e.objects, modified_value(e.modified_properties, 'Role.DisplayName') AS role_property
  FROM events e JOIN unnamed u ON e.ts = u.ts AND e.user_name = u.user_name AND e.action = u.action
  WHERE e.ts BETWEEN $since AND $until),
r AS (
  SELECT a.* EXCLUDE (object_role), coalesce(a.object_role, nullif(n.role_property, '')) AS role
  FROM a LEFT JOIN named n ON n.ts = a.ts AND n.user_name = a.user_name AND n.action = a.action AND n.objects = a.objects),
p AS (
  SELECT *, list_contains(critical, lower(role)) AS is_critical,
         lower(coalesce(target, '')) = lower(coalesce(user_name, '')) AS is_self
  FROM r WHERE list_contains(privileged, lower(role))),
usual AS (SELECT DISTINCT user_name FROM p WHERE ts < $since AND user_name IS NOT NULL)
SELECT p.user_name, p.target, p.role, bool_or(p.is_critical) AS critical, bool_or(p.is_self) AS self_assigned,
       u.user_name IS NOT NULL AS usual_assigner, count(*) AS assignments, list(DISTINCT p.action ORDER BY p.action) AS actions,
       min(p.ts) AS first_seen, max(p.ts) AS last_seen, list(DISTINCT p.ip ORDER BY p.ip) FILTER (WHERE p.ip IS NOT NULL) AS ips,
       any_value(p.app_name) AS app_name, list(p.id ORDER BY p.ts, p.id) AS evidence_ids
FROM p LEFT JOIN usual u ON u.user_name = p.user_name
WHERE p.ts BETWEEN $since AND $until AND (p.is_critical OR p.is_self OR u.user_name IS NULL)
GROUP BY p.user_name, p.target, p.role, u.user_name
ORDER BY critical DESC, self_assigned DESC, first_seen, p.user_name;
