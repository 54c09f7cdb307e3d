-- name: new-client-fingerprint
-- question: who used a client or ISP new for them, especially a scripting tool, and then touched files?
-- description: Clients (a user agent's family and major version: "chrome 131", "python-requests 2")
-- description: and ISPs a user had not used before, in the window, for users seen for at least
-- description: learning_days before (their history reaches back baseline_days before the window). A
-- description: client that rollout_users or more users took up is a tenant-wide update, not new. Keeps
-- description: new scripting-tool clients (tool_ua_regex) with any successful activity, and any new
-- description: client or ISP with at least min_file_ops downloads, uploads, shares, deletes or mail-rule
-- description: changes.
-- kind: detection
-- chart: bar
-- history: baseline_days
-- entities: user=user_name ip=ips
-- severity: low
-- severity-rises: medium when tool_ua OR sensitive_ops >= 20
-- tactics: TA0001, TA0009
-- techniques: T1078.004, T1530
-- counterpart: Sentinel SharePoint_Downloads_byNewUserAgent.yaml and SharePoint_Downloads_byNewIP.yaml; Sentinel hunting powershell_or_nonbrowser_MailboxLogin.yaml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the user's usual clients
-- param: learning_days int 7 users seen for fewer days than this before a new client are not judged
-- param: rollout_users int 5 users taking up one client that make it a tenant-wide rollout rather than new
-- param: min_file_ops int 5 sensitive operations from a new fingerprint that are reported
-- param: tool_ua_regex string python|curl|wget|azurehound|powershell|go-http-client|okhttp|postman|rclone|headless user agents of scripting tools (regular expression, lower case)
-- The first time of each (user, user agent, ISP) in the successful activity comes from
-- event_firsts (the warehouse's first times per day where it has them); the client of each
-- distinct user agent is named once, not once a row.
WITH ok AS (
  SELECT user_name, user_agent, isp, min(first_ts) AS first_ts FROM event_firsts
  GROUP BY ALL),
cl AS (SELECT user_agent, client_of(user_agent) AS client FROM (SELECT DISTINCT user_agent FROM ok WHERE user_agent IS NOT NULL)),
-- (each user's first time as a window over ok, not a join of ok with its own group-by, which
-- DuckDB would estimate far above the window's events and build its hash tables on those)
okw AS (SELECT *, min(first_ts) OVER (PARTITION BY user_name) AS user_first FROM ok),
per_client AS (
  SELECT o.user_name, c.client, min(o.first_ts) AS first_ts, any_value(o.user_first) AS user_first
  FROM okw o JOIN cl c ON c.user_agent = o.user_agent GROUP BY o.user_name, c.client),
rollouts AS (SELECT client FROM per_client GROUP BY client HAVING count(DISTINCT user_name) >= $rollout_users),
new_clients AS (
  SELECT user_name, client FROM per_client
  WHERE first_ts BETWEEN $since AND $until AND first_ts >= user_first + to_days($learning_days)
    AND client NOT IN (SELECT client FROM rollouts)),
new_isps AS (
  SELECT user_name, isp FROM okw
  WHERE isp IS NOT NULL GROUP BY user_name, isp, user_first
  HAVING min(first_ts) BETWEEN $since AND $until AND min(first_ts) >= user_first + to_days($learning_days)),
cur AS (
  SELECT e.id, e.user_name, c.client, e.user_agent, e.device_type, e.isp, e.ts, e.ip, e.event_type, e.event_type_value, e.action, e.success,
         nc.user_name IS NOT NULL AS new_client, ni.user_name IS NOT NULL AS new_isp
  FROM events e
  LEFT JOIN cl c ON c.user_agent = e.user_agent
  LEFT JOIN new_clients nc ON nc.user_name = e.user_name AND nc.client = c.client
  LEFT JOIN new_isps ni ON ni.user_name = e.user_name AND ni.isp = e.isp
  WHERE e.ts BETWEEN $since AND $until
    AND e.user_name IN (SELECT user_name FROM new_clients UNION SELECT user_name FROM new_isps)),
-- A pair is a scripting tool's when any of its agents is one; its device type is the first by
-- name (never an arbitrary pick, so the answer does not change with the plan).
-- The counts that decide which (user, client) pairs are reported come first; the lists
-- (agents, ISPs, addresses, evidence), sorted per pair, are built for the reported pairs only.
-- The evidence is every event of a pair, up to hundreds of thousands in all at 20M rows: sorted
-- as a list after the aggregate, not by an ordered aggregate (DuckDB sorts each group's rows
-- for one: 1.1 s of this query's 3 s there, against 0.2 s).
g AS (
  SELECT user_name, client, min(device_type) AS device_type, bool_or(new_client) AS new_client,
         min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS events,
         count(*) FILTER (WHERE list_contains(['download', 'upload', 'share', 'delete', 'mail_rule'],
                                             action_class_of(event_type, event_type_value, action, success))) AS sensitive_ops,
         count(*) FILTER (WHERE is_not_login_fail(event_type, event_type_value, action, success)) AS successful,
         coalesce(bool_or(regexp_matches(lower(user_agent), $tool_ua_regex)), false) AS tool_ua
  FROM cur WHERE new_client OR new_isp
  GROUP BY user_name, client),
kept AS (SELECT * FROM g WHERE (tool_ua AND new_client AND successful > 0) OR sensitive_ops >= $min_file_ops),
lists AS (
  SELECT c.user_name, c.client, list(DISTINCT c.user_agent ORDER BY c.user_agent) AS user_agents,
         coalesce(list(DISTINCT c.isp ORDER BY c.isp) FILTER (WHERE c.new_isp), []) AS new_isps,
         list(DISTINCT c.ip ORDER BY c.ip) AS ips, list_transform(list_sort(list({'ts': c.ts, 'id': c.id})), lambda x: x.id) AS evidence_ids
  FROM cur c SEMI JOIN kept k ON k.user_name = c.user_name AND k.client IS NOT DISTINCT FROM c.client
  WHERE c.new_client OR c.new_isp
  GROUP BY c.user_name, c.client)
SELECT k.user_name, k.client, l.user_agents, k.device_type, k.new_client, l.new_isps, k.first_seen, k.last_seen,
       k.events, k.sensitive_ops, k.tool_ua, l.ips, l.evidence_ids
FROM kept k JOIN lists l ON l.user_name = k.user_name AND l.client IS NOT DISTINCT FROM k.client
ORDER BY k.tool_ua DESC, k.sensitive_ops DESC, k.user_name, k.client;
