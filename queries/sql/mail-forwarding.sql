-- name: mail-forwarding
-- question: which mailboxes forward or redirect mail outside, and do several forward to one address?
-- description: Forwarding destinations from inbox rules, mailbox settings and transport rules
-- description: (ForwardTo, RedirectTo, ForwardAsAttachmentTo, ForwardingSmtpAddress,
-- description: ForwardingAddress, RedirectMessageTo, BlindCopyTo), grouped by destination. Reports
-- description: destinations outside internal_domains, and internal ones that min_mailboxes or more
-- description: mailboxes forward to (collection).
-- (The destinations are read from the narrow parameters column, the cmdlet's Parameters array,
-- never from raw: mail rules are few but spread over every block of rows, so reading raw for
-- them decompresses the whole window's raw.)
-- chart: bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: internal_domains list contoso.com the organisation's own mail domains (comma-separated)
-- param: min_mailboxes int 3 mailboxes forwarding to one internal address that are reported
WITH r AS (
  SELECT ts, user_name, ip, action,
         regexp_extract_all(parameters,
           '"Name"\s*:\s*"(?:ForwardTo|RedirectTo|ForwardAsAttachmentTo|ForwardingSmtpAddress|ForwardingAddress|RedirectMessageTo|BlindCopyTo)"\s*,\s*"Value"\s*:\s*"(?:smtp:|SMTP:)?([^"]+)"',
           1) AS dests
  FROM classified WHERE is_mail_rule(action) AND ts BETWEEN $since AND $until),
x AS (
  SELECT r.* EXCLUDE (dests),
         lower(trim(unnest(string_split(array_to_string(dests, ';'), ';')))) AS dest
  FROM r),
y AS (
  SELECT x.*, regexp_replace(dest, '^smtp:', '') AS addr FROM x WHERE dest <> ''),
g AS (
  SELECT addr AS dest, split_part(addr, '@', 2) AS dest_domain,
         NOT list_contains($internal_domains::VARCHAR[], split_part(addr, '@', 2)) AS external,
         count(DISTINCT user_name) AS mailboxes, list(DISTINCT user_name ORDER BY user_name) AS users,
         list(DISTINCT action ORDER BY action) AS operations, list(DISTINCT ip ORDER BY ip) AS ips,
         min(ts) AS first_ts, max(ts) AS last_ts
  FROM y GROUP BY addr)
SELECT * FROM g WHERE external OR mailboxes >= $min_mailboxes
ORDER BY mailboxes DESC, external DESC, first_ts, dest;
