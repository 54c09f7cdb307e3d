-- name: inbox-manipulation-rules
-- question: who created inbox rules that delete, hide or mark mail read, or filter on alert words?
-- description: Scores new or changed inbox rules: +1 for each hiding action switched on (delete,
-- description: soft delete, mark read, move to a folder) and for each hiding folder (RSS, Junk,
-- description: Deleted Items, Conversation History, Archive), +2 for any of keywords as a whole word
-- description: in the rule's name, conditions or actions, +2 for an obscure name (a name with fewer
-- description: than two letters or digits, e.g. "." or "..."; a rule whose name is not in the record
-- description: is not obscure). Reports rules scoring at least min_score. The rule is read from its
-- description: cmdlet parameters by name (Name, else the rule part of Identity).
-- kind: detection
-- chart: table
-- entities: user=user_name ip=ip rule=rule_name
-- severity: medium
-- severity-rises: high when score >= 4
-- tactics: TA0005
-- techniques: T1564.008
-- counterpart: Sentinel Malicious_Inbox_Rule.yaml; Sigma m365_exchange_bec_behavioral_indicators.yaml; Defender for Cloud Apps "Suspicious inbox manipulation rules"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: min_score int 2 smallest score reported
-- param: keywords list "helpdesk,alert,suspicious,fake,malicious,phishing,spam,do not click,do not open,hijacked,fatal,invoice,payment,wire,payroll,w2,deposit,docusign,wetransfer,postmaster" words in a rule that point to hiding alerts or BEC (comma-separated; matched as whole words)
-- (Read from the narrow parameters column, never from raw: inbox rules are few but spread over
-- every block of rows, so reading raw for them decompresses the whole window's raw.)
WITH r AS (
  SELECT id, ts, user_name, ip, country, isp, action,
         from_json(coalesce(parameters, '[]'), '[{"Name":"VARCHAR","Value":"VARCHAR"}]') AS ps
  FROM events WHERE is_inbox_rule(action) AND ts BETWEEN $since AND $until),
n AS (
  SELECT *,
         coalesce(nullif(list_filter(ps, lambda x: x.Name = 'Name')[1].Value, ''),
                  nullif(regexp_extract(list_filter(ps, lambda x: x.Name = 'Identity')[1].Value, '([^\\]+)$', 1), '')) AS rule_name,
         -- every value but the mailbox's identity (the name, conditions and actions) as words: a run
         -- of anything but letters and digits is one space, and the text starts and ends with one
         ' ' || trim(regexp_replace(lower(array_to_string(list_transform(list_filter(ps, lambda x: x.Name <> 'Identity'), lambda x: x.Value), ' ')),
                                    '[^a-z0-9]+', ' ', 'g')) || ' ' AS words,
         list_transform(list_filter(ps, lambda x: x.Name IN ('DeleteMessage', 'SoftDeleteMessage', 'MarkAsRead')
                                     AND lower(trim(x.Value, '"$ ')) IN ('true', '1')), lambda x: x.Name)
         || list_transform(list_filter(ps, lambda x: x.Name IN ('MoveToFolder', 'CopyToFolder') AND trim(coalesce(x.Value, '')) <> ''),
                           lambda x: x.Name) AS switched_on,
         list_filter(['RSS Feeds', 'RSS Subscriptions', 'Junk Email', 'Deleted Items', 'Conversation History', 'Archive'],
                     lambda f: len(list_filter(ps, lambda x: x.Name IN ('MoveToFolder', 'CopyToFolder') AND contains(x.Value, f))) > 0) AS folders
  FROM r),
s AS (
  SELECT * EXCLUDE (ps, words, switched_on, folders), switched_on || folders AS actions_hit,
         -- a keyword, written as words too, is a whole-word match ("wire" is not in "wireless")
         list_filter($keywords::VARCHAR[], lambda k: contains(words, ' ' || trim(regexp_replace(lower(k), '[^a-z0-9]+', ' ', 'g')) || ' ')) AS keywords_hit,
         rule_name IS NOT NULL AND length(regexp_replace(rule_name, '[^A-Za-z0-9]', '', 'g')) < 2 AS obscure_name
  FROM n)
SELECT ts, user_name, ip, country, isp, action, rule_name, actions_hit, keywords_hit, obscure_name,
       len(actions_hit) + 2 * (len(keywords_hit) > 0)::INT + 2 * obscure_name::INT AS score,
       ts AS first_seen, ts AS last_seen, [id] AS evidence_ids
FROM s
WHERE len(actions_hit) + 2 * (len(keywords_hit) > 0)::INT + 2 * obscure_name::INT >= $min_score
ORDER BY score DESC, ts, user_name;
