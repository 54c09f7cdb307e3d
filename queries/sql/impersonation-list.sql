-- name: impersonation-list
-- question: who acted as whom: every actor-to-mailbox pair, known delegates included?
-- description: Every pair of impersonated activity in the window (someone other than the owner
-- description: acting on a mailbox: delegate or admin logons), actor to target, optionally for one
-- description: user as actor or target; pairs absent from the baseline_days before the window
-- description: (new_pair) sort first. Apps such as Teams impersonate legitimately. A pivot: it lists
-- description: benign delegation too; impersonation-review reports the new pairs alone.
-- kind: pivot
-- chart: bar
-- counterpart: the Defender for Cloud Apps activity log filtered on impersonated activity
-- sources: activities, stream
-- history: baseline_days
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the known pairs
-- param: user string "" only pairs where this user (UPN) is the actor or the target
WITH i AS (
  SELECT ts, user_name AS actor, ip, action AS op, coalesce(mailbox_owner, lower(objects[1])) AS target
  FROM impersonations),
base AS (SELECT DISTINCT actor, target FROM i WHERE ts < $since)
SELECT i.actor, i.target, b.actor IS NULL AS new_pair, count(*) AS events,
       list(DISTINCT i.op ORDER BY i.op) AS operations, list(DISTINCT i.ip ORDER BY i.ip) AS ips,
       min(i.ts) AS first_ts, max(i.ts) AS last_ts
FROM i LEFT JOIN base b ON b.actor = i.actor AND b.target = i.target
WHERE i.ts BETWEEN $since AND $until AND lower(i.actor) IS DISTINCT FROM i.target
  AND ($user = '' OR lower(i.actor) = lower($user) OR i.target = lower($user))
GROUP BY ALL
ORDER BY new_pair DESC, events DESC, i.actor, i.target;
