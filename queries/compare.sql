-- The comparison of the two sources (mcasload compare-sources, docs/sources.md). Placeholders:
-- ${from} and ${to} are the window widened by ${window} seconds on each side (so a pair across
-- its edge is still found); ${since} and ${until} the window itself. Each record is counted on
-- the day of its activity (of its stream row when the API lacks it).

-- The records of each source in the widened window, with what a pair is found by: the
-- account keys are every identifier of the account a source gives, in lower case (the API: the
-- sign-in name and resolvedActor.id, the Entra object id; the stream: AccountObjectId,
-- AccountId and the sign-in name of its raw event).
CREATE OR REPLACE TEMP TABLE cmp_api AS
SELECT tenant, id, ts, day, app_id, app_name, user_name, action, ip, action_key,
       list_distinct(list_filter([user_key, lower(json_extract_string(raw, '$.resolvedActor.id'))],
                                 lambda k: coalesce(k, '') <> '')) AS account_keys
FROM activity_rows WHERE ts >= ${from} AND ts <= ${to};
CREATE OR REPLACE TEMP TABLE cmp_stream AS
SELECT tenant, id AS report_id, id_base, ts, day, app_id, app_name, user_name, account_object_id, action, ip, action_key,
       list_distinct(list_filter([lower(account_object_id), lower(account_id), user_key],
                                 lambda k: coalesce(k, '') <> '')) AS account_keys
FROM stream_rows WHERE ts >= ${from} AND ts <= ${to};

-- Pairs by id: ReportId is the _id, or the _id and _<appId>. A ReportId stored at two times
-- pairs with its activity once, at the nearer time.
CREATE OR REPLACE TEMP TABLE cmp_pairs AS
SELECT a.tenant, a.id, s.report_id, s.ts AS s_ts, CASE WHEN s.report_id = a.id THEN 'id' ELSE 'id_app' END AS mapping
FROM cmp_api a JOIN cmp_stream s ON a.tenant = s.tenant AND a.id = s.id_base
WHERE s.report_id = a.id OR s.report_id = a.id || '_' || a.app_id
QUALIFY row_number() OVER (PARTITION BY a.tenant, a.id ORDER BY abs(epoch(s.ts) - epoch(a.ts)), s.ts) = 1;

-- Candidates by fingerprint, among the records not paired by id: the same app, action_key and
-- an account key in common, times at most ${window} seconds apart, the same IP or one missing.
CREATE OR REPLACE TEMP TABLE cmp_candidates AS
WITH a AS (
  SELECT x.tenant, x.id, x.ts, x.app_id, x.action_key, x.ip, unnest(x.account_keys) AS k FROM cmp_api x
  WHERE NOT EXISTS (SELECT 1 FROM cmp_pairs p WHERE p.tenant = x.tenant AND p.id = x.id)),
s AS (
  SELECT y.tenant, y.report_id, y.ts, y.app_id, y.action_key, y.ip, unnest(y.account_keys) AS k FROM cmp_stream y
  WHERE NOT EXISTS (SELECT 1 FROM cmp_pairs p WHERE p.tenant = y.tenant AND p.report_id = y.report_id AND p.s_ts = y.ts))
SELECT DISTINCT a.tenant, a.id, s.report_id, s.ts AS s_ts, abs(epoch(s.ts) - epoch(a.ts)) AS dt,
       (a.ip IS NOT NULL AND s.ip IS NOT NULL) AS with_ip
FROM a JOIN s ON a.tenant = s.tenant AND a.app_id = s.app_id AND a.action_key = s.action_key AND a.k = s.k
  AND s.ts >= a.ts - to_seconds(${window}) AND s.ts <= a.ts + to_seconds(${window})
  AND (a.ip = s.ip OR a.ip IS NULL OR s.ip IS NULL);
