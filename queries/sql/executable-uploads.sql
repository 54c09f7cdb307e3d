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
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window in which a user's program uploads make the next one routine
-- param: executable_exts list "exe,scr,com,pif,bat,cmd,msi,msix,msp,dll,cpl,ps1,psm1,vbs,vbe,js,jse,wsf,wsh,hta,jar,lnk,reg,iso,img,vhd,vhdx,appx,application,gadget" extensions of programs and scripts that run when opened (comma-separated, no dot)
-- param: document_exts list "pdf,doc,docx,docm,xls,xlsx,xlsm,ppt,pptx,pptm,txt,rtf,odt,csv,jpg,jpeg,png,gif,bmp,tif,tiff,zip,rar,7z,htm,html,mp3,mp4,wav,eml,msg" extensions a disguised program pretends to have
-- The window's uploads are read on narrow columns first, with their first object only; the few
-- programs among them are then fetched again by a join on (ts, user_name), whose values reach
-- the second scan as a filter, for their id, app and address (reading the id of every upload
-- costs more than the rest of the scan). The history is read only for the users with a program
-- upload in the window. The extension is the text after the name's last dot, tested in the same
-- CASE as the upload classes: a test on the file name alone would be pushed into the scan and run
-- on every row's objects before the upload filter.
WITH k AS (
  SELECT DISTINCT ts, user_name, objects[1] AS file FROM events
  WHERE ts BETWEEN $since AND $until AND user_name IS NOT NULL
    AND CASE WHEN is_upload(event_type, event_type_value, action)
             THEN contains(objects[1], '.') AND list_contains($executable_exts::VARCHAR[], lower(trim(string_split(objects[1], '.')[-1])))
        END),
win AS (
  SELECT e.id, e.ts, e.user_name, e.app_name, e.ip, k.file, lower(trim(string_split(k.file, '.')[-1])) AS ext,
         list_contains($document_exts::VARCHAR[], lower(regexp_extract(k.file, '\.([A-Za-z0-9]{1,12})\s*\.[A-Za-z0-9]{1,12}\s*$', 1)))
           OR contains(k.file, chr(8238)) AS masked
  FROM events e JOIN k ON e.ts = k.ts AND e.user_name = k.user_name AND e.objects[1] = k.file
  WHERE e.ts BETWEEN $since AND $until AND is_upload(e.event_type, e.event_type_value, e.action)),
-- (the history on narrow columns first too: the users' uploads, then their file names)
users AS (SELECT DISTINCT user_name FROM k),
hist AS (
  SELECT DISTINCT e.ts, e.user_name FROM events e JOIN users u ON u.user_name = e.user_name
  WHERE e.ts < $since AND is_upload(e.event_type, e.event_type_value, e.action)),
routine AS (
  SELECT DISTINCT e.user_name FROM events e JOIN hist h ON h.ts = e.ts AND h.user_name = e.user_name
  WHERE e.ts < $since
    AND CASE WHEN is_upload(e.event_type, e.event_type_value, e.action)
             THEN contains(e.objects[1], '.') AND list_contains($executable_exts::VARCHAR[], lower(trim(string_split(e.objects[1], '.')[-1])))
        END)
SELECT w.user_name, list(DISTINCT w.file ORDER BY w.file) AS files, list(DISTINCT w.ext ORDER BY w.ext) AS extensions,
       bool_or(w.masked) AS masquerading, count(*) AS uploads, r.user_name IS NOT NULL AS uploads_programs_routinely,
       list(DISTINCT w.app_name ORDER BY w.app_name) AS apps, min(w.ts) AS first_seen, max(w.ts) AS last_seen,
       list(DISTINCT w.ip ORDER BY w.ip) FILTER (WHERE w.ip IS NOT NULL) AS ips, list(w.id ORDER BY w.ts, w.id) AS evidence_ids
FROM win w LEFT JOIN routine r ON r.user_name = w.user_name
WHERE w.masked OR r.user_name IS NULL
GROUP BY w.user_name, r.user_name
ORDER BY masquerading DESC, first_seen, w.user_name;
