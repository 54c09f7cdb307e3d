-- name: ediscovery-export
-- question: who exported the results of a compliance (eDiscovery) search without being one of those who do?
-- description: Exports of compliance searches in the window (New-ComplianceSearchAction -Export, and
-- description: the eDiscovery audit's SearchExported and SearchExportDownloaded) by accounts that
-- description: exported none in the baseline_days before (the eDiscovery managers who export for
-- description: legal cases do so routinely), with the searches they ran in the window: their names,
-- description: the mailboxes and sites searched (all_mailboxes when ExchangeLocation is All) and the
-- description: queries. A purge (-Purge) or a preview (-Preview) is no export.
-- kind: detection
-- chart: timeline
-- history: baseline_days
-- entities: user=user_name ip=ips app=app_name
-- severity: medium
-- severity-rises: high when all_mailboxes
-- tactics: TA0009, TA0010
-- techniques: T1114.002, T1530
-- counterpart: Sigma microsoft365_pst_export_alert_using_new_compliancesearchaction.yml and microsoft365_pst_export_alert.yml; Splunk o365_pst_export_alert
-- sources: activities, stream
-- bucket: 1d
-- param: since timestamp 7d start of the window (a duration ago, RFC 3339, a date or epoch ms)
-- param: until timestamp now end of the window
-- param: baseline_days int 30 days of history before the window in which an account's exports make it a usual exporter
-- Compliance-search cmdlets are rare; their arguments come from the narrow parameters column.
WITH c AS (
  SELECT id, ts, user_name, app_name, ip, action, parameters FROM events
  WHERE list_contains(['New-ComplianceSearch', 'Set-ComplianceSearch', 'Start-ComplianceSearch', 'New-ComplianceSearchAction',
                   'SearchCreated', 'SearchStarted', 'SearchExported', 'SearchExportDownloaded'], action)
    AND user_name IS NOT NULL),
x AS (
  SELECT *, (action = 'New-ComplianceSearchAction' AND cmdlet_switch(parameters, 'Export'))
            OR list_contains(['SearchExported', 'SearchExportDownloaded'], action) AS export,
         coalesce(cmdlet_param(parameters, 'Name'), cmdlet_param(parameters, 'SearchName'), cmdlet_param(parameters, 'Identity')) AS search,
         cmdlet_param(parameters, 'ExchangeLocation') AS exchange_location,
         cmdlet_param(parameters, 'SharePointLocation') AS sharepoint_location,
         cmdlet_param(parameters, 'ContentMatchQuery') AS query
  FROM c),
usual AS (SELECT DISTINCT user_name FROM x WHERE export AND ts < $since),
w AS (
  SELECT x.* FROM x LEFT JOIN usual u ON u.user_name = x.user_name
  WHERE x.ts BETWEEN $since AND $until AND u.user_name IS NULL),
exporters AS (SELECT DISTINCT user_name FROM w WHERE export)
SELECT user_name, app_name, list(DISTINCT search ORDER BY search) FILTER (WHERE search IS NOT NULL) AS searches,
       list_sort(list_distinct(list_filter(flatten(list([exchange_location, sharepoint_location])), lambda l: l IS NOT NULL))) AS locations,
       bool_or(lower(coalesce(exchange_location, '')) = 'all') AS all_mailboxes,
       list(DISTINCT query ORDER BY query) FILTER (WHERE query IS NOT NULL) AS queries,
       count(*) FILTER (WHERE export) AS exports, list(DISTINCT action ORDER BY action) AS actions,
       min(ts) AS first_seen, max(ts) AS last_seen, list(DISTINCT ip ORDER BY ip) FILTER (WHERE ip IS NOT NULL) AS ips,
       list(id ORDER BY ts, id) AS evidence_ids
FROM w
WHERE user_name IN (SELECT user_name FROM exporters)
GROUP BY user_name, app_name
ORDER BY all_mailboxes DESC, first_seen, user_name;
