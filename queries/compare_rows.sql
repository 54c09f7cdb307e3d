-- Every record of the window once: a pair (status both, with the mapping that matched it), or a
-- record only one source has.
CREATE OR REPLACE TEMP TABLE cmp_rows AS
SELECT * FROM (
  SELECT coalesce(a.tenant, s.tenant) AS tenant, coalesce(a.day, s.day) AS day, coalesce(a.app_name, s.app_name) AS app,
         CASE WHEN a.id IS NULL THEN 'only_stream' WHEN s.report_id IS NULL THEN 'only_api' ELSE 'both' END AS status,
         p.mapping, a.id AS api_id, s.report_id, a.ts AS api_ts, s.ts AS stream_ts,
         a.user_name AS api_user, coalesce(s.account_object_id, s.user_name) AS stream_account,
         a.action AS api_action, s.action AS stream_action, a.ip AS api_ip, s.ip AS stream_ip
  FROM cmp_api a
  FULL JOIN cmp_pairs p ON p.tenant = a.tenant AND p.id = a.id
  FULL JOIN cmp_stream s ON s.tenant = p.tenant AND s.report_id = p.report_id AND s.ts = p.s_ts)
WHERE coalesce(api_ts, stream_ts) >= ${since} AND coalesce(api_ts, stream_ts) <= ${until};
