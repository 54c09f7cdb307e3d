-- name: ransomware-pattern
-- question: who churned uploads and deletes like ransomware, or uploaded many encrypted-looking files?
-- description: Per user and 10 minutes: uploads with an extension in ransom_exts (at least
-- description: min_ext_uploads of them: one encrypted backup is not an attack); "rewritten" files,
-- description: uploads whose stem matches a file deleted within 10 minutes (x.docx to x.docx.locked or
-- description: x.enc) unless the new extension is an ordinary document format in document_exts (x.docx
-- description: to x.pdf is a conversion); and uploads and deletes both at least min_ops, conversions
-- description: not counted.
-- kind: detection
-- chart: timeline
-- entities: user=user_name app=app_name
-- severity: high
-- tactics: TA0040
-- techniques: T1486
-- counterpart: Defender for Cloud Apps "Ransomware activity"; Sigma microsoft365_potential_ransomware_activity.yml
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: min_ops int 20 uploads and deletes (or rewritten files) in 10 minutes that are reported
-- param: min_ext_uploads int 5 uploads with a ransom extension in 10 minutes that are reported
-- param: ransom_exts list locked,encrypted,crypt,enc,crypted,locky extensions that mark an encrypted file
-- param: document_exts list pdf,doc,docx,xls,xlsx,xlsm,ppt,pptx,odt,ods,odp,rtf,txt,csv,md,html,xml,json,jpg,jpeg,png,gif,tif,tiff,heic,mp4,mov,zip,msg,eml,vsdx ordinary formats a file is converted to (comma-separated)
WITH f AS (
  SELECT id, user_name, app_name, ts, action_class, unnest(objects) AS obj FROM events
  WHERE (is_upload(event_type, event_type_value, action) OR is_delete(event_type, event_type_value, action))
    AND list_contains(['upload', 'delete'], action_class) AND ts BETWEEN $since AND $until),
g AS (
  SELECT *, lower(regexp_extract(obj, '\.([^./\\]+)$', 1)) AS ext,
         regexp_replace(obj, '\.[^./\\]+$', '') AS stem,
         time_bucket(INTERVAL 10 MINUTE, ts) AS win
  FROM f),
-- x.docx deleted, x.docx.locked uploaded (the upload's stem is the deleted name), or x.docx
-- deleted and x.enc uploaded (same stem): two equi-joins rather than one OR join.
pairs AS (
  SELECT u.user_name, u.win, u.obj, u.ext FROM g u JOIN g d
    ON d.user_name = u.user_name AND d.obj = u.stem
  WHERE u.action_class = 'upload' AND d.action_class = 'delete' AND d.obj <> u.obj AND abs(epoch(d.ts - u.ts)) <= 600
  UNION ALL
  SELECT u.user_name, u.win, u.obj, u.ext FROM g u JOIN g d
    ON d.user_name = u.user_name AND d.stem = u.stem
  WHERE u.action_class = 'upload' AND d.action_class = 'delete' AND d.obj <> u.obj AND abs(epoch(d.ts - u.ts)) <= 600),
rw AS (
  SELECT user_name, win, count(DISTINCT obj) FILTER (WHERE NOT list_contains($document_exts::VARCHAR[], ext)) AS rewritten,
         count(DISTINCT obj) FILTER (WHERE list_contains($document_exts::VARCHAR[], ext)) AS conversions
  FROM pairs GROUP BY ALL),
s AS (
  SELECT g.user_name, g.app_name, g.win,
         -- counts are of activities, not of their objects (a file and its folder are two objects)
         count(DISTINCT id) FILTER (WHERE action_class = 'upload') AS uploads,
         count(DISTINCT id) FILTER (WHERE action_class = 'delete') AS deletes,
         count(DISTINCT id) FILTER (WHERE action_class = 'upload' AND list_contains($ransom_exts::VARCHAR[], ext)) AS known_ext_uploads,
         coalesce(any_value(rw.rewritten), 0) AS rewritten, coalesce(any_value(rw.conversions), 0) AS conversions,
         list(DISTINCT ext ORDER BY ext) FILTER (WHERE action_class = 'upload' AND ext <> '') AS upload_exts
  FROM g LEFT JOIN rw ON rw.user_name = g.user_name AND rw.win = g.win
  GROUP BY ALL),
r AS (
  SELECT * FROM s
  WHERE known_ext_uploads >= $min_ext_uploads OR rewritten >= $min_ops
     OR (uploads - conversions >= $min_ops AND deletes - conversions >= $min_ops)),
-- the evidence: the uploads and deletes of the ten minutes (g holds each once per object)
ev AS (
  SELECT r.user_name, r.app_name, r.win, min(g.ts) AS first_seen, max(g.ts) AS last_seen,
         list_transform(list_sort(list(DISTINCT struct_pack(ts := g.ts, id := g.id))), lambda x: x.id) AS evidence_ids
  FROM r JOIN g ON g.user_name IS NOT DISTINCT FROM r.user_name AND g.app_name IS NOT DISTINCT FROM r.app_name AND g.win = r.win
  GROUP BY ALL)
SELECT r.*, ev.first_seen, ev.last_seen, ev.evidence_ids
FROM r LEFT JOIN ev ON ev.user_name IS NOT DISTINCT FROM r.user_name AND ev.app_name IS NOT DISTINCT FROM r.app_name AND ev.win = r.win
ORDER BY r.known_ext_uploads DESC, r.rewritten DESC, r.user_name, r.win;
