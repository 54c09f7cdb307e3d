-- name: cloud-resource-abuse
-- question: who created or deleted many VMs in an hour, in a region never used, or listed many storage keys?
-- description: Hours in the window in which one account created VMs or instances (RunInstances,
-- description: Microsoft.Compute/virtualMachines/write, compute.instances.insert), deleted them
-- description: (TerminateInstances, …/virtualMachines/delete) or listed or made access keys
-- description: (…/storageAccounts/listKeys/action, regenerateKey, CreateAccessKey, GetSecretValue):
-- description: at least min_creates, min_deletes or min_key_lists of a kind and more than factor
-- description: times the account's busiest hour of that kind in the baseline_days before (a build
-- description: pipeline that launches dozens every morning is its own normal); or creations in a
-- description: cloud region (the AWS record's awsRegion) the tenant did not use in the baseline_days
-- description: before, when it used any.
-- kind: detection
-- chart: timeline
-- history: baseline_days
-- entities: user=user_name ip=ips app=app_name
-- severity: medium
-- severity-rises: high when len(new_regions) > 0; high when creates >= 50 OR deletes >= 50
-- tactics: TA0005, TA0040, TA0006
-- techniques: T1578.002, T1578.003, T1496, T1555.006
-- counterpart: Defender for Cloud Apps "Multiple VM creation activities", "Multiple delete VM activities" and "Unusual region for cloud resource" anomaly policies
-- sources: activities, stream
-- bucket: 1h
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window that give each account's busiest hour and the tenant's regions
-- param: min_creates int 10 VMs created in an hour that are worth reporting
-- param: min_deletes int 10 VMs deleted in an hour that are worth reporting
-- param: min_key_lists int 5 key listings in an hour that are worth reporting
-- param: factor float 2 how many times the account's busiest hour before it an hour must exceed
-- param: create_ops list "RunInstances,Microsoft.Compute/virtualMachines/write,Microsoft.Compute/virtualMachineScaleSets/write,compute.instances.insert" operations that create a VM
-- param: delete_ops list "TerminateInstances,Microsoft.Compute/virtualMachines/delete,Microsoft.Compute/virtualMachineScaleSets/delete,compute.instances.delete" operations that delete a VM
-- param: key_ops list "Microsoft.Storage/storageAccounts/listKeys/action,Microsoft.Storage/storageAccounts/regenerateKey/action,CreateAccessKey,GetSecretValue" operations that list or make access keys
-- The operations are few: all of them in the history are read, with the region of an AWS creation
-- (the narrow aws_region column: the region must be a name such as us-east-1).
WITH c AS (
  SELECT id, ts, user_name, app_name, ip,
         CASE WHEN list_contains($create_ops::VARCHAR[], action) THEN 'create'
              WHEN list_contains($delete_ops::VARCHAR[], action) THEN 'delete'
              ELSE 'keys' END AS kind,
         CASE WHEN list_contains($create_ops::VARCHAR[], action) AND regexp_full_match(aws_region, '[A-Za-z0-9-]+') THEN aws_region END AS region
  FROM events
  WHERE list_contains($create_ops::VARCHAR[] || $delete_ops::VARCHAR[] || $key_ops::VARCHAR[], action) AND user_name IS NOT NULL),
h AS (
  SELECT user_name, app_name, time_bucket(INTERVAL 1 HOUR, ts) AS hour,
         count(*) FILTER (WHERE kind = 'create') AS creates, count(*) FILTER (WHERE kind = 'delete') AS deletes,
         count(*) FILTER (WHERE kind = 'keys') AS key_lists,
         list(DISTINCT region ORDER BY region) FILTER (WHERE region IS NOT NULL) AS regions,
         min(ts) AS first_seen, max(ts) AS last_seen, list(DISTINCT ip ORDER BY ip) FILTER (WHERE ip IS NOT NULL) AS ips,
         list(id ORDER BY ts, id) AS evidence_ids
  FROM c GROUP BY ALL),
busiest AS (
  SELECT user_name, app_name, max(creates) AS creates, max(deletes) AS deletes, max(key_lists) AS key_lists
  FROM h WHERE hour < $since GROUP BY ALL),
known AS (SELECT coalesce(list(DISTINCT region), []) AS regions FROM c WHERE ts < $since AND region IS NOT NULL),
w AS (
  SELECT h.*, coalesce(b.creates, 0) AS busiest_creates, coalesce(b.deletes, 0) AS busiest_deletes,
         coalesce(b.key_lists, 0) AS busiest_key_lists,
         CASE WHEN len(k.regions) > 0 THEN list_filter(h.regions, lambda r: NOT list_contains(k.regions, r)) ELSE [] END AS new_regions
  FROM h CROSS JOIN known k LEFT JOIN busiest b ON b.user_name = h.user_name AND b.app_name IS NOT DISTINCT FROM h.app_name
  WHERE h.hour >= time_bucket(INTERVAL 1 HOUR, $since) AND h.first_seen <= $until AND h.last_seen >= $since)
SELECT user_name, app_name, hour, creates, deletes, key_lists, regions, new_regions,
       busiest_creates, busiest_deletes, busiest_key_lists, first_seen, last_seen, ips, evidence_ids
FROM w
WHERE (creates >= $min_creates AND creates > $factor * busiest_creates)
   OR (deletes >= $min_deletes AND deletes > $factor * busiest_deletes)
   OR (key_lists >= $min_key_lists AND key_lists > $factor * busiest_key_lists)
   OR len(new_regions) > 0
ORDER BY hour, user_name;
