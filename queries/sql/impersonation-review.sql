-- name: impersonation-review
-- question: who acted on another person's mailbox for the first time?
-- description: New actor-to-mailbox pairs of impersonated activity (someone other than the owner
-- description: acting on a mailbox: delegate or admin logons): pairs first seen in the window and
-- description: absent from the actor's history before it (at most baseline_days), for actors seen for
-- description: at least learning_days before. Known delegates are not reported; impersonation-list
-- description: lists every pair.
-- kind: detection
-- chart: bar
-- history: baseline_days
-- entities: user=actor ip=ips
-- severity: medium
-- severity-rises: high when events >= 50
-- tactics: TA0009, TA0003
-- techniques: T1114.002, T1098.002
-- counterpart: Sentinel hunting AnomolousUserAccessingOtherUsersMailbox.yaml and nonowner_MailboxLogin.yaml; Defender for Cloud Apps "Unusual impersonated activities (by user)"
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that define the known pairs
-- param: learning_days int 7 actors seen for fewer days than this before the pair are not judged
WITH i AS (
  SELECT id, ts, user_name AS actor, ip, action AS op, coalesce(mailbox_owner, lower(objects[1])) AS target
  FROM impersonations
  WHERE user_name IS NOT NULL),
pairs AS (
  SELECT actor, target, min(ts) AS first_ts FROM i
  WHERE lower(actor) IS DISTINCT FROM target GROUP BY ALL),
in_window AS (SELECT * FROM pairs WHERE first_ts BETWEEN $since AND $until),
-- when each of their actors was first seen (any successful activity): the start of the learning
-- period. Only those actors' rows are read (their few names reach the scan as a filter).
first_seen AS (
  SELECT user_name, min(ts) AS first_ts FROM events
  WHERE user_name IN (SELECT actor FROM in_window) AND is_not_login_fail(event_type, event_type_value, action, success)
  GROUP BY ALL),
new_pairs AS (
  SELECT p.actor, p.target FROM in_window p JOIN first_seen k ON k.user_name = p.actor
  WHERE p.first_ts >= k.first_ts + to_days($learning_days))
SELECT i.actor, i.target, count(*) AS events, list(DISTINCT i.op ORDER BY i.op) AS operations,
       list(DISTINCT i.ip ORDER BY i.ip) AS ips, min(i.ts) AS first_seen, max(i.ts) AS last_seen,
       list(i.id ORDER BY i.ts, i.id) AS evidence_ids
FROM i JOIN new_pairs n ON n.actor = i.actor AND n.target = i.target
WHERE i.ts BETWEEN $since AND $until
GROUP BY ALL
ORDER BY events DESC, i.actor, i.target;
