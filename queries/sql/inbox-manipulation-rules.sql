-- name: inbox-manipulation-rules
-- question: who created inbox rules that delete, hide or mark mail read, or filter on alert words?
-- description: Scores new or changed inbox rules: +1 for each hiding action (delete, move, mark
-- description: read; RSS, Junk, Deleted Items, Conversation History or Archive folders), +2 for any
-- description: of keywords, +2 for an obscure name (fewer than two letters or digits, e.g. "." or
-- description: "..."). Reports rules scoring at least min_score. The rule is read from its
-- description: cmdlet parameters (name, conditions, actions).
-- (Read from the narrow parameters column, never from raw: inbox rules are few but spread over
-- every block of rows, so reading raw for them decompresses the whole window's raw.)
-- chart: table
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: min_score int 2 smallest score reported
-- param: keywords list "helpdesk,alert,suspicious,fake,malicious,phishing,spam,do not click,do not open,hijacked,fatal,invoice,payment,wire,payroll,w2,deposit,docusign,wetransfer,postmaster" words in a rule that point to hiding alerts or BEC (comma-separated)
WITH r AS (
  SELECT ts, user_name, ip, country, isp, action, coalesce(parameters, '') AS params,
         lower(coalesce(parameters, '')) AS lower_params,
         regexp_extract(coalesce(parameters, ''), '"Name"\s*:\s*"Name"\s*,\s*"Value"\s*:\s*"([^"]*)"', 1) AS rule_name
  FROM classified WHERE is_inbox_rule(action) AND ts BETWEEN $since AND $until),
s AS (
  SELECT * EXCLUDE (params, lower_params),
         list_filter(['DeleteMessage', 'SoftDeleteMessage', 'MoveToFolder', 'MarkAsRead', 'RSS Feeds',
                      'RSS Subscriptions', 'Junk Email', 'Deleted Items', 'Conversation History', 'Archive'],
                     lambda k: contains(params, k)) AS actions_hit,
         list_filter($keywords::VARCHAR[], lambda k: contains(lower_params, lower(k))) AS keywords_hit,
         length(regexp_replace(rule_name, '[^A-Za-z0-9]', '', 'g')) < 2 AS obscure_name
  FROM r)
SELECT ts, user_name, ip, country, isp, action, rule_name, actions_hit, keywords_hit, obscure_name,
       len(actions_hit) + 2 * (len(keywords_hit) > 0)::INT + 2 * obscure_name::INT AS score
FROM s
WHERE len(actions_hit) + 2 * (len(keywords_hit) > 0)::INT + 2 * obscure_name::INT >= $min_score
ORDER BY score DESC, ts, user_name;
