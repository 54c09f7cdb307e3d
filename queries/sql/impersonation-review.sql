-- name: impersonation-review
-- question: who acted as whom, and which actor-to-mailbox pairs are new?
-- description: Impersonated activity (someone other than the owner acting on a mailbox: delegate
-- description: or admin logons), actor to target; pairs absent from the baseline_days before the
-- description: window (new_pair) sort first. Apps such as Teams impersonate legitimately.
-- chart: bar
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the known pairs
WITH i AS (
  SELECT ts, user_name AS actor, ip, action AS op, coalesce(mailbox_owner, lower(objects[1])) AS target
  FROM impersonations
  WHERE ts >= $since - to_days($baseline_days) AND ts <= $until),
base AS (SELECT DISTINCT actor, target FROM i WHERE ts < $since)
SELECT i.actor, i.target, b.actor IS NULL AS new_pair, count(*) AS events,
       list(DISTINCT i.op ORDER BY i.op) AS operations, list(DISTINCT i.ip ORDER BY i.ip) AS ips,
       min(i.ts) AS first_ts, max(i.ts) AS last_ts
FROM i LEFT JOIN base b ON b.actor = i.actor AND b.target = i.target
WHERE i.ts >= $since AND lower(i.actor) IS DISTINCT FROM i.target
GROUP BY ALL
ORDER BY new_pair DESC, events DESC, i.actor, i.target;
