-- name: mail-forwarding
-- question: which mailboxes forward or redirect mail outside, and do several forward to one address?
-- description: Forwarding destinations from inbox rules, mailbox settings and transport rules
-- description: (ForwardTo, RedirectTo, ForwardAsAttachmentTo, ForwardingSmtpAddress,
-- description: ForwardingAddress, RedirectMessageTo, BlindCopyTo), grouped by destination. Reports
-- description: addresses outside the tenant's own domains (those of its users' sign-in names, see
-- description: mcasload domains; subdomains included) and internal_domains, and internal
-- description: destinations that min_mailboxes or more mailboxes forward to (collection). A value
-- description: without an address (a recipient's name such as "Shared Finance") is an internal
-- description: recipient.
-- kind: detection
-- chart: bar
-- entities: user=users domain=dest_domain ip=ips object=dest
-- severity: medium
-- severity-rises: high when external AND mailboxes >= 2
-- tactics: TA0009
-- techniques: T1114.003
-- counterpart: Sentinel Office_MailForwarding.yaml and Mail_redirect_via_ExO_transport_rule.yaml; Panther microsoft_exchange_external_forwarding.py; Sigma m365_audit_inbox_rule_external_forward.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: internal_domains list "" more of the organisation's own mail domains, beside those found (comma-separated)
-- param: min_mailboxes int 3 mailboxes forwarding to one internal address that are reported
-- (The destinations are read from the narrow parameters column, the cmdlet's Parameters array,
-- parsed as JSON, never from raw: mail rules are few but spread over every block of rows, so
-- reading raw for them decompresses the whole window's raw.)
WITH r AS (
  SELECT id, ts, user_name, ip, action, from_json(coalesce(parameters, '[]'), '[{"Name":"VARCHAR","Value":"VARCHAR"}]') AS ps
  FROM events WHERE is_mail_rule(action) AND ts BETWEEN $since AND $until),
v AS (
  SELECT r.* EXCLUDE (ps),
         unnest(list_transform(list_filter(ps, lambda x: x.Name IN ('ForwardTo', 'RedirectTo', 'ForwardAsAttachmentTo',
           'ForwardingSmtpAddress', 'ForwardingAddress', 'RedirectMessageTo', 'BlindCopyTo')), lambda x: x.Value)) AS value
  FROM r),
-- every address in a value (one, a list, "smtp:…", quoted, with a display name), or else the value
-- itself: a recipient named, not addressed (each event once per destination, however often its
-- parameters name it)
y AS (
  SELECT DISTINCT v.* EXCLUDE (value),
         lower(unnest(coalesce(nullif(regexp_extract_all(value, '[A-Za-z0-9._%+''-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+'), []),
                               [trim(regexp_replace(value, '^(smtp|SMTP):', ''), ' "[]')]))) AS dest
  FROM v WHERE value IS NOT NULL),
own AS (SELECT coalesce(list(domain), []) || $internal_domains::VARCHAR[] AS domains FROM own_domains),
g AS (
  SELECT dest, nullif(split_part(dest, '@', 2), '') AS dest_domain,
         count(DISTINCT user_name) AS mailboxes, list(DISTINCT user_name ORDER BY user_name) AS users,
         list(DISTINCT action ORDER BY action) AS operations, list(DISTINCT ip ORDER BY ip) AS ips,
         min(ts) AS first_seen, max(ts) AS last_seen, list(id ORDER BY ts, id) AS evidence_ids
  FROM y WHERE dest NOT IN ('', '$null', 'null') GROUP BY dest)
SELECT g.dest, g.dest_domain, g.dest_domain IS NOT NULL AND NOT in_domains(g.dest_domain, own.domains) AS external,
       g.mailboxes, g.users, g.operations, g.ips, g.first_seen, g.last_seen, g.evidence_ids
FROM g, own
WHERE (g.dest_domain IS NOT NULL AND NOT in_domains(g.dest_domain, own.domains)) OR g.mailboxes >= $min_mailboxes
ORDER BY g.mailboxes DESC, external DESC, g.first_seen, g.dest;
