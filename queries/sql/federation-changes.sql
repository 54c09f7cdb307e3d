-- name: federation-changes
-- question: who federated a domain or changed whom the tenant trusts to sign its users in?
-- description: Changes of a domain's authentication or federation trust in the window: "Set domain
-- description: authentication." (Managed to Federated and back), "Set federation settings on
-- description: domain." (issuer, sign-in addresses, signing certificates) and their MSOnline cmdlets
-- description: (Set-MsolDomainAuthentication, Set-MsolDomainFederationSettings, New-MsolFederatedDomain),
-- description: by account and domain, with what changed and whether the domain was added or verified
-- description: in the window too
-- description: ("Add domain to company.", "Verify domain."). A certificate rollover (only the signing
-- description: certificates change) by an account that rolled the same domain's certificates in the
-- description: baseline_days before is routine and not reported; any other change is.
-- kind: detection
-- chart: timeline
-- history: baseline_days
-- entities: user=user_name ip=ips domain=domain
-- severity: high
-- tactics: TA0004, TA0005, TA0006
-- techniques: T1484.002, T1606.002
-- counterpart: Sentinel ADFSDomainTrustMods.yaml (Microsoft Entra ID); Sigma microsoft365_new_federated_domain_added_audit.yml and azure_federation_modified.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window in which an account's certificate rollovers make the next one routine
-- param: certificate_properties list SigningCertificate,NextSigningCertificate,SigningCertificateUpdateStatus the properties a certificate rollover changes
-- These operations are rare: all of them in the history are read, with what they changed (modified_properties).
WITH f AS (
  SELECT id, ts, user_name, app_name, ip, action, lower(objects[1]) AS domain, modified_props(modified_properties) AS mp FROM events
  WHERE list_contains(['Set domain authentication.', 'Set federation settings on domain.', 'Add domain to company.', 'Verify domain.',
                   'Add unverified domain to company.', 'Verify email verified domain.', 'Set-MsolDomainAuthentication',
                   'Set-MsolDomainFederationSettings', 'New-MsolFederatedDomain'], action)),
t AS (
  SELECT *, list_transform(mp, lambda p: p.Name) AS changed,
         NOT list_contains(['Add domain to company.', 'Verify domain.', 'Add unverified domain to company.', 'Verify email verified domain.'], action) AS trust_change
  FROM f),
c AS (
  SELECT *, trust_change AND len(changed) > 0
            AND len(list_filter(changed, lambda n: NOT list_contains($certificate_properties::VARCHAR[], n))) = 0 AS certificates_only
  FROM t),
rolled AS (SELECT DISTINCT user_name, domain FROM c WHERE ts < $since AND certificates_only AND user_name IS NOT NULL),
w AS (SELECT * FROM c WHERE ts BETWEEN $since AND $until),
reported AS (
  SELECT w.* FROM w LEFT JOIN rolled r ON r.user_name = w.user_name AND r.domain = w.domain
  WHERE w.trust_change AND NOT (w.certificates_only AND r.domain IS NOT NULL)),
added AS (SELECT domain, list({'ts': ts, 'id': id}) AS evs, min(ts) AS first_ts FROM w WHERE NOT trust_change GROUP BY domain)
SELECT r.user_name, r.domain, list(DISTINCT r.action ORDER BY r.action) AS actions,
       list_sort(list_distinct(flatten(list(r.changed)))) AS changed,
       max(list_filter(r.mp, lambda p: p.Name = 'LiveType')[1].NewValue) AS authentication,
       max(list_filter(r.mp, lambda p: p.Name = 'IssuerUri')[1].NewValue) AS issuer,
       any_value(a.domain) IS NOT NULL AS domain_added_in_window,
       least(min(r.ts), any_value(a.first_ts)) AS first_seen, max(r.ts) AS last_seen,
       list(DISTINCT r.ip ORDER BY r.ip) FILTER (WHERE r.ip IS NOT NULL) AS ips, any_value(r.app_name) AS app_name,
       list_transform(list_sort(coalesce(any_value(a.evs), []) || list({'ts': r.ts, 'id': r.id})), lambda e: e.id) AS evidence_ids
FROM reported r LEFT JOIN added a ON a.domain = r.domain
GROUP BY r.user_name, r.domain
ORDER BY first_seen, r.user_name;
