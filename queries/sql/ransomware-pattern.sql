-- name: ransomware-pattern
-- question: who churned uploads and deletes like ransomware, or uploaded encrypted-looking files?
-- description: Per user and 10 minutes: uploads with an extension in ransom_exts; "rewritten" files,
-- description: uploads whose stem matches a file deleted within 10 minutes (x.docx to x.docx.locked
-- description: or x.enc); and uploads and deletes both at least min_ops.
-- chart: timeline
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: min_ops int 20 uploads and deletes (or rewritten files) in 10 minutes that are reported
-- param: ransom_exts list locked,encrypted,crypt,enc,crypted,locky extensions that mark an encrypted file
WITH f AS (
  SELECT id, user_name, app_name, ts, op_class, unnest(objects) AS obj FROM classified
  WHERE (is_upload(event_type, action) OR is_delete(action)) AND list_contains(['upload', 'delete'], op_class) AND ts BETWEEN $since AND $until),
g AS (
  SELECT *, lower(regexp_extract(obj, '\.([^./\\]+)$', 1)) AS ext,
         regexp_replace(obj, '\.[^./\\]+$', '') AS stem,
         time_bucket(INTERVAL 10 MINUTE, ts) AS win
  FROM f),
-- x.docx deleted, x.docx.locked uploaded (the upload's stem is the deleted name), or x.docx
-- deleted and x.enc uploaded (same stem): two equi-joins rather than one OR join.
pairs AS (
  SELECT u.user_name, u.win, u.obj FROM g u JOIN g d
    ON d.user_name = u.user_name AND d.obj = u.stem
  WHERE u.op_class = 'upload' AND d.op_class = 'delete' AND d.obj <> u.obj AND abs(epoch(d.ts - u.ts)) <= 600
  UNION ALL
  SELECT u.user_name, u.win, u.obj FROM g u JOIN g d
    ON d.user_name = u.user_name AND d.stem = u.stem
  WHERE u.op_class = 'upload' AND d.op_class = 'delete' AND d.obj <> u.obj AND abs(epoch(d.ts - u.ts)) <= 600),
rw AS (SELECT user_name, win, count(DISTINCT obj) AS rewritten FROM pairs GROUP BY ALL),
s AS (
  SELECT g.user_name, g.app_name, g.win,
         -- counts are of activities, not of their objects (a file and its folder are two objects)
         count(DISTINCT id) FILTER (WHERE op_class = 'upload') AS uploads,
         count(DISTINCT id) FILTER (WHERE op_class = 'delete') AS deletes,
         count(DISTINCT id) FILTER (WHERE op_class = 'upload' AND list_contains($ransom_exts::VARCHAR[], ext)) AS known_ext_uploads,
         coalesce(any_value(rw.rewritten), 0) AS rewritten,
         list(DISTINCT ext ORDER BY ext) FILTER (WHERE op_class = 'upload' AND ext <> '') AS upload_exts
  FROM g LEFT JOIN rw ON rw.user_name = g.user_name AND rw.win = g.win
  GROUP BY ALL)
SELECT * FROM s
WHERE known_ext_uploads > 0 OR rewritten >= $min_ops OR (uploads >= $min_ops AND deletes >= $min_ops)
ORDER BY known_ext_uploads DESC, rewritten DESC, user_name, win;
