-- name: executable-uploads
-- question: who uploaded programs disguised as documents, or programs for the first time?
-- description: Uploads (any app: SharePoint, OneDrive, Box, Google Drive …) in the window of files
-- description: whose extension is in executable_exts. Always reported: a program with a second,
-- description: document extension before its own ("invoice.pdf.exe", "scan.jpg.scr") or a
-- description: right-to-left override in its name (U+202E, which shows "…exe.pdf" as "…fdp.exe"):
-- description: masquerading. Other programs when the user uploaded no program in the baseline_days
-- description: before (IT staff who share installers do so routinely). The file is the record's first
-- description: object.
-- kind: detection
-- chart: table
-- history: baseline_days
-- entities: user=user_name ip=ips object=files
-- severity: medium
-- severity-rises: high when masquerading
-- tactics: TA0005, TA0002, TA0011
-- techniques: T1036.007, T1204.002, T1105
-- counterpart: Sentinel Office_Uploaded_Executables.yaml and hunting double_file_ext_exes.yaml (Microsoft 365); Defender for Cloud Apps malware detection file policy
-- sources: activities
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window in which a user's program uploads make the next one routine
-- param: executable_exts list "exe,scr,com,pif,bat,cmd,msi,msix,msp,dll,cpl,ps1,psm1,vbs,vbe,js,jse,wsf,wsh,hta,jar,lnk,reg,iso,img,vhd,vhdx,appx,application,gadget" extensions of programs and scripts that run when opened (comma-separated, no dot)
-- param: document_exts list "pdf,doc,docx,docm,xls,xlsx,xlsm,ppt,pptx,pptm,txt,rtf,odt,csv,jpg,jpeg,png,gif,bmp,tif,tiff,zip,rar,7z,htm,html,mp3,mp4,wav,eml,msg" extensions a disguised program pretends to have
-- Uploads are read with their first object only; the history is read for the users with a
-- program upload in the window alone.
WITH up AS (
  SELECT id, ts, user_name, app_name, ip, objects[1] AS file FROM events
  WHERE is_upload(event_type, event_type_value, action) AND user_name IS NOT NULL AND objects[1] IS NOT NULL),
x AS (
  SELECT *, lower(regexp_extract(file, '\.([A-Za-z0-9]{1,12})\s*$', 1)) AS ext FROM up),
p AS (SELECT * FROM x WHERE list_contains($executable_exts::VARCHAR[], ext)),
win AS (
  SELECT *, list_contains($document_exts::VARCHAR[], lower(regexp_extract(file, '\.([A-Za-z0-9]{1,12})\s*\.[A-Za-z0-9]{1,12}\s*$', 1)))
            OR contains(file, chr(8238)) AS masked
  FROM p WHERE ts BETWEEN $since AND $until),
routine AS (
  SELECT DISTINCT user_name FROM p WHERE ts < $since AND user_name IN (SELECT user_name FROM win))
SELECT w.user_name, list(DISTINCT w.file ORDER BY w.file) AS files, list(DISTINCT w.ext ORDER BY w.ext) AS extensions,
       bool_or(w.masked) AS masquerading, count(*) AS uploads, r.user_name IS NOT NULL AS uploads_programs_routinely,
       list(DISTINCT w.app_name ORDER BY w.app_name) AS apps, min(w.ts) AS first_seen, max(w.ts) AS last_seen,
       list(DISTINCT w.ip ORDER BY w.ip) FILTER (WHERE w.ip IS NOT NULL) AS ips, list(w.id ORDER BY w.ts, w.id) AS evidence_ids
FROM win w LEFT JOIN routine r ON r.user_name = w.user_name
WHERE w.masked OR r.user_name IS NULL
GROUP BY w.user_name, r.user_name
ORDER BY masquerading DESC, first_seen, w.user_name;
