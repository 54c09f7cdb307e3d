-- The normalized events every investigation reads, and the one classification of raw operations.
--
-- all_events is every activity in one source-neutral shape: the activities API's table
-- (activity_events) and the Streaming API's CloudAppEvents (stream_events), each event once: a
-- stream row joins only when no activity is the same event (source_pair_keys below, the rules of
-- docs/sources.md). Per-tenant runs filter both tables. events is what an investigation reads:
-- the runner narrows it to the days the investigation asked for plus the history it declares,
-- [since - history, until], and to the sources its header names; outside a run it is
-- all_events.
--
-- Investigations name operation sets only through the is_* macros below and action_class, so
-- changing what counts as a download changes every investigation at once. Each macro reads
-- the category (event_type), the raw operation (action) and the specific type the service gives
-- every event (event_type_value: EVENT_O365_SHAREPOINT_DELETE, EVENT_BOX_DELETE,
-- EVENT_GOOGLE_DRIVE_SHARE…), so apps whose raw operation names we do not list (Box, Google
-- Workspace) are still classified: a specific type names its class by its suffix.
--
-- Cost: the is_* macros expand in place to column predicates. An investigation filters with them
-- first and reads wide columns (raw, objects, id) only for the rows they keep, or after a join
-- on a few keys has narrowed the rows; action_class (a CASE of a few dozen comparisons) is
-- computed for the rows left, never for every row of the window.
--
-- Each class is its categories (event_type), its raw operations (action) and the suffix of its
-- specific types (event_type_value). The is_* macros test the lists with list_contains on
-- constant lists, which costs a row a few look-ups; an IN list of several values becomes a join
-- per list, which costs more.
CREATE OR REPLACE TEMP MACRO login_fail_types() AS ['EVENT_CATEGORY_FAILED_LOGIN'];
-- (LogonFailed and LogonSuccess: the ActionType of sign-ins in Defender XDR's hunting tables)
CREATE OR REPLACE TEMP MACRO login_fail_actions() AS ['UserLoginFailed', 'LogonFailed'];
CREATE OR REPLACE TEMP MACRO login_fail_type_value(v) AS ends_with(v, '_LOGIN_FAILED') OR ends_with(v, '_LOGIN_FAIL');
CREATE OR REPLACE TEMP MACRO login_types() AS ['EVENT_CATEGORY_LOGIN', 'EVENT_CATEGORY_SSO_LOGIN'];
CREATE OR REPLACE TEMP MACRO login_actions() AS ['UserLoggedIn', 'LogonSuccess'];
CREATE OR REPLACE TEMP MACRO login_type_value(v) AS ends_with(v, '_LOGIN');
CREATE OR REPLACE TEMP MACRO user_delete_types() AS ['EVENT_CATEGORY_DELETE_USER'];
CREATE OR REPLACE TEMP MACRO user_delete_actions() AS ['Delete user.', 'Delete user', 'Hard Delete user.', 'Hard delete user.'];
CREATE OR REPLACE TEMP MACRO user_delete_type_value(v) AS ends_with(v, '_DELETE_USER');
CREATE OR REPLACE TEMP MACRO user_restore_actions() AS ['Restore user.', 'Restore user'];
CREATE OR REPLACE TEMP MACRO user_restore_type_value(v) AS ends_with(v, '_RESTORE_USER');
CREATE OR REPLACE TEMP MACRO download_types() AS ['EVENT_CATEGORY_DOWNLOAD_FILE'];
CREATE OR REPLACE TEMP MACRO download_actions() AS ['FileDownloaded', 'FileSyncDownloadedFull'];
CREATE OR REPLACE TEMP MACRO download_type_value(v) AS ends_with(v, '_DOWNLOAD');
CREATE OR REPLACE TEMP MACRO upload_types() AS ['EVENT_CATEGORY_UPLOAD_FILE'];
CREATE OR REPLACE TEMP MACRO upload_actions() AS ['FileUploaded', 'FileSyncUploadedFull'];
CREATE OR REPLACE TEMP MACRO upload_type_value(v) AS ends_with(v, '_UPLOAD');
CREATE OR REPLACE TEMP MACRO delete_types() AS ['EVENT_CATEGORY_DELETE_OBJECT'];
CREATE OR REPLACE TEMP MACRO delete_actions() AS
  ['FileDeleted', 'FileRecycled', 'FileDeletedFirstStageRecycleBin', 'FileDeletedSecondStageRecycleBin'];
CREATE OR REPLACE TEMP MACRO delete_type_value(v) AS ends_with(v, '_DELETE') OR ends_with(v, '_TRASH');
CREATE OR REPLACE TEMP MACRO share_types() AS ['EVENT_CATEGORY_SHARE_FILE'];
CREATE OR REPLACE TEMP MACRO share_actions() AS
  ['AnonymousLinkCreated', 'SharingInvitationCreated', 'SharingSet', 'CompanyLinkCreated', 'SecureLinkCreated', 'AddedToSecureLink'];
CREATE OR REPLACE TEMP MACRO share_type_value(v) AS ends_with(v, '_SHARE') OR contains(v, '_SHARED_LINK') OR contains(v, '_COLLABORATION_INVITE');

CREATE OR REPLACE TEMP MACRO is_login_fail(event_type, event_type_value, action, success) AS
  list_contains(login_fail_types(), event_type) OR list_contains(login_fail_actions(), action)
  OR (list_contains(login_types(), event_type) AND success IS false)
  OR login_fail_type_value(event_type_value);
CREATE OR REPLACE TEMP MACRO is_login(event_type, event_type_value, action) AS
  list_contains(login_types(), event_type) OR list_contains(login_actions(), action)
  OR login_type_value(event_type_value);
-- inbox rules, mailbox forwarding and transport rules
CREATE OR REPLACE TEMP MACRO inbox_rule_actions() AS ['New-InboxRule', 'Set-InboxRule', 'UpdateInboxRules'];
CREATE OR REPLACE TEMP MACRO mail_rule_actions() AS
  inbox_rule_actions() || ['Set-Mailbox', 'New-TransportRule', 'Set-TransportRule'];
CREATE OR REPLACE TEMP MACRO is_mail_rule(action) AS list_contains(mail_rule_actions(), action);
CREATE OR REPLACE TEMP MACRO is_inbox_rule(action) AS list_contains(inbox_rule_actions(), action);
CREATE OR REPLACE TEMP MACRO is_user_delete(event_type, event_type_value, action) AS
  list_contains(user_delete_types(), event_type) OR list_contains(user_delete_actions(), action)
  OR user_delete_type_value(event_type_value);
CREATE OR REPLACE TEMP MACRO is_user_restore(event_type_value, action) AS
  list_contains(user_restore_actions(), action) OR user_restore_type_value(event_type_value);
CREATE OR REPLACE TEMP MACRO is_download(event_type, event_type_value, action) AS
  list_contains(download_types(), event_type) OR list_contains(download_actions(), action)
  OR download_type_value(event_type_value);
CREATE OR REPLACE TEMP MACRO is_upload(event_type, event_type_value, action) AS
  list_contains(upload_types(), event_type) OR list_contains(upload_actions(), action)
  OR upload_type_value(event_type_value);
CREATE OR REPLACE TEMP MACRO is_delete(event_type, event_type_value, action) AS
  list_contains(delete_types(), event_type) OR list_contains(delete_actions(), action)
  OR delete_type_value(event_type_value);
CREATE OR REPLACE TEMP MACRO is_share(event_type, event_type_value, action) AS
  list_contains(share_types(), event_type) OR list_contains(share_actions(), action)
  OR share_type_value(event_type_value);
-- any file operation (download, upload, delete or share): the four classes' lists joined, one
-- look-up a column
CREATE OR REPLACE TEMP MACRO is_file_op(event_type, event_type_value, action) AS
  list_contains(download_types() || upload_types() || delete_types() || share_types(), event_type)
  OR list_contains(download_actions() || upload_actions() || delete_actions() || share_actions(), action)
  OR download_type_value(event_type_value) OR upload_type_value(event_type_value) OR delete_type_value(event_type_value)
  OR share_type_value(event_type_value);
-- a user deleted or restored
CREATE OR REPLACE TEMP MACRO is_user_change(event_type, event_type_value, action) AS
  list_contains(user_delete_types(), event_type)
  OR list_contains(user_delete_actions() || user_restore_actions(), action)
  OR user_delete_type_value(event_type_value) OR user_restore_type_value(event_type_value);
-- Exchange mailbox-audit operations, where a delegate or an admin may act on someone's mailbox.
CREATE OR REPLACE TEMP MACRO is_mailbox_access(app_id, action) AS
  app_id = 20893 AND action IN ('MailItemsAccessed', 'Send', 'SendAs', 'SendOnBehalf', 'FolderBind', 'MessageBind',
    'HardDelete', 'SoftDelete', 'MoveToDeletedItems', 'Move', 'Update', 'Create', 'UpdateFolderPermissions',
    'UpdateCalendarDelegation', 'AddFolderPermissions', 'ModifyFolderPermissions');

-- action_class: download, upload, delete, share, login_fail, login, mail_rule, user_delete,
-- user_restore or other (the first that matches, in this order; the file classes come first
-- because the investigations that classify many rows classify file operations, and no
-- operation is both a file operation and a sign-in, a rule or a user change). Test a set of
-- classes with list_contains(['download', 'share'], action_class), not action_class IN (…):
-- DuckDB turns a short IN list into one comparison per value, each with its own copy of this CASE.
CREATE OR REPLACE TEMP MACRO action_class_of(event_type, event_type_value, action, success) AS
  CASE
    WHEN is_download(event_type, event_type_value, action) THEN 'download'
    WHEN is_upload(event_type, event_type_value, action) THEN 'upload'
    WHEN is_delete(event_type, event_type_value, action) THEN 'delete'
    WHEN is_share(event_type, event_type_value, action) THEN 'share'
    WHEN is_login_fail(event_type, event_type_value, action, success) THEN 'login_fail'
    WHEN is_login(event_type, event_type_value, action) THEN 'login'
    WHEN is_mail_rule(action) THEN 'mail_rule'
    WHEN is_user_delete(event_type, event_type_value, action) THEN 'user_delete'
    WHEN is_user_restore(event_type_value, action) THEN 'user_restore'
    ELSE 'other'
  END;
-- action_class <> 'login_fail', without the rest of the CASE
CREATE OR REPLACE TEMP MACRO is_not_login_fail(event_type, event_type_value, action, success) AS
  (is_login_fail(event_type, event_type_value, action, success)) IS NOT TRUE
  OR is_file_op(event_type, event_type_value, action);

-- client_of names a user agent by family and major version ("chrome 131", "edge 131",
-- "python-requests 2", "powershell 7"), so a browser's patch releases are one client. Browser
-- strings name several products (Edge's says Chrome and Safari too): the most specific wins.
-- Anything else is its first product token and the first number after it, which also reads the
-- service's parsed form (";;Python Requests 2.25;").
CREATE OR REPLACE TEMP MACRO client_of(ua) AS
  CASE
    WHEN ua IS NULL OR trim(ua) = '' THEN NULL
    WHEN regexp_matches(lower(ua), '\bedg(e|a|ios)?/\d') THEN 'edge ' || regexp_extract(lower(ua), '\bedg(?:e|a|ios)?/(\d+)', 1)
    WHEN regexp_matches(lower(ua), '\b(opr|opera)/\d') THEN 'opera ' || regexp_extract(lower(ua), '\b(?:opr|opera)/(\d+)', 1)
    WHEN regexp_matches(lower(ua), '\b(firefox|fxios)/\d') THEN 'firefox ' || regexp_extract(lower(ua), '\b(?:firefox|fxios)/(\d+)', 1)
    WHEN regexp_matches(lower(ua), '\b(chrome|crios)/\d') THEN 'chrome ' || regexp_extract(lower(ua), '\b(?:chrome|crios)/(\d+)', 1)
    WHEN regexp_matches(lower(ua), '\bversion/\d.*\bsafari/') THEN 'safari ' || regexp_extract(lower(ua), '\bversion/(\d+)', 1)
    WHEN regexp_matches(lower(ua), '\b(msie |trident/)') THEN 'internet explorer'
    ELSE coalesce(nullif(trim(regexp_extract(lower(ua), '^[^a-z]*([a-z][a-z0-9 ._-]*?)[/ ]v?(\d+)', 1) || ' '
                  || regexp_extract(lower(ua), '^[^a-z]*([a-z][a-z0-9 ._-]*?)[/ ]v?(\d+)', 2)), ''),
                  trim(lower(ua)))
  END;

-- travel_km: the great-circle distance between two points in km; travel_hours: the time between
-- two times in hours, a minute at least (two sign-ins in one second do not divide by zero).
CREATE OR REPLACE TEMP MACRO travel_km(lat1, lon1, lat2, lon2) AS
  2 * 6371 * asin(sqrt(sin(radians(lat2 - lat1) / 2) ^ 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2));
CREATE OR REPLACE TEMP MACRO travel_hours(t1, t2) AS greatest(epoch(t2 - t1) / 3600.0, 1 / 60);
-- an address of the organisation's own egress (tagged Corporate or VPN in the portal)
CREATE OR REPLACE TEMP MACRO is_org_egress(ip_category) AS coalesce(ip_category, '') IN ('Corporate', 'VPN');

-- pair_action_key is what the two sources must agree on of an event's action to be the same
-- event by fingerprint: its class, or for an unclassified event its operation in lower case (the
-- stream words some actions differently from the API: docs/sources.md).
CREATE OR REPLACE TEMP MACRO pair_action_key(action_class, action) AS
  CASE WHEN action_class <> 'other' THEN action_class ELSE lower(action) END;
-- pair_window_seconds: how far apart the two sources' times of one event may be (fingerprint).
CREATE OR REPLACE TEMP MACRO pair_window_seconds() AS 120;

-- (end of the classification: the warehouse builds its first times, activity_firsts, with the
-- macros above; queries/firsts.go. A change above rebuilds them at the next load.)

-- activity_rows: the activities API's rows, normalized, with the tenant and the keys a pair is
-- found by (user_key: the sign-in name in lower case; action_key).
CREATE OR REPLACE TEMP VIEW activity_rows AS
SELECT *, lower(user_name) AS user_key, pair_action_key(action_class, action) AS action_key FROM (
  SELECT tenant, id, ts, day, 'activities' AS source, app_id, app_name, user_name, event_type, event_type_value, action,
         action_class_of(event_type, event_type_value, action, success) AS action_class, success, description,
         ip, country, city, latitude, longitude, isp, anonymous_proxy, ip_category, user_agent, device_type, admin,
         objects, parameters, modified_properties, aws_region, logon_type, mailbox_owner, raw
  FROM activities);

-- The stream's rows in the same shape (docs/sources.md, "The stream in the events view"):
-- the sign-in name is the first name with an @ among the source's raw event's UserId (Office
-- 365), Upn (Entra sign-ins), UserPrincipalName, caller (Azure) and actor.email (Google
-- Workspace), else AccountId when it is one; event_type is the category of ActivityType for
-- the classes the classification knows (Login, Failed login, Download, Upload, Share, Delete);
-- success is the raw event's LoginStatus, ResultStatus or status.value; there is no
-- event_type_value, description, latitude or longitude; objects are ActivityObjects' names;
-- parameters the raw event's Parameters; raw the raw event (RawEventData), which carries what
-- the API's rawDataJson does.
CREATE OR REPLACE TEMP MACRO stream_sign_in_name(account_id, raw_event_data) AS
  coalesce(list_filter(CASE WHEN json_valid(raw_event_data) THEN
                         json_extract_string(raw_event_data, ['$.UserId', '$.Upn', '$.UserPrincipalName', '$.caller', '$.actor.email']) END,
                       lambda u: contains(u, '@'))[1],
           CASE WHEN contains(account_id, '@') THEN account_id END);
CREATE OR REPLACE TEMP MACRO stream_event_type(activity_type, action_type) AS
  CASE activity_type
    WHEN 'Login' THEN 'EVENT_CATEGORY_LOGIN'
    WHEN 'Failed login' THEN 'EVENT_CATEGORY_FAILED_LOGIN'
    WHEN 'Download' THEN 'EVENT_CATEGORY_DOWNLOAD_FILE'
    WHEN 'Upload' THEN 'EVENT_CATEGORY_UPLOAD_FILE'
    WHEN 'Share' THEN 'EVENT_CATEGORY_SHARE_FILE'
    WHEN 'Delete' THEN CASE WHEN list_contains(user_delete_actions(), action_type) THEN 'EVENT_CATEGORY_DELETE_USER'
                            ELSE 'EVENT_CATEGORY_DELETE_OBJECT' END
  END;
CREATE OR REPLACE TEMP MACRO stream_success(activity_type, raw_event_data) AS
  CASE
    WHEN activity_type = 'Failed login' THEN false
    WHEN json_valid(raw_event_data) THEN
      CASE lower(coalesce(json_extract_string(raw_event_data, '$.LoginStatus'), json_extract_string(raw_event_data, '$.ResultStatus'),
                          json_extract_string(raw_event_data, '$.status.value')))
        WHEN 'success' THEN true WHEN 'succeeded' THEN true WHEN 'failure' THEN false WHEN 'failed' THEN false
      END
  END;
-- stream_rows: the stream's rows, normalized, with the tenant, the account identifiers and the
-- keys a pair is found by; id_base is ReportId without an _<ApplicationId> suffix.
CREATE OR REPLACE TEMP VIEW stream_rows AS
SELECT *, action_class_of(event_type, event_type_value, action, success) AS action_class,
       lower(user_name) AS user_key,
       pair_action_key(action_class_of(event_type, event_type_value, action, success), action) AS action_key
FROM (
  SELECT tenant, report_id AS id, regexp_replace(report_id, '_[0-9]+$', '') AS id_base, account_object_id, account_id,
         ts, day, 'stream' AS source, application_id AS app_id, application AS app_name,
         coalesce(stream_sign_in_name(account_id, raw_event_data), account_id, account_object_id) AS user_name,
         stream_event_type(activity_type, action_type) AS event_type, NULL::VARCHAR AS event_type_value, action_type AS action,
         stream_success(activity_type, raw_event_data) AS success, NULL::VARCHAR AS description,
         ip_address AS ip, country_code AS country, city, NULL::DOUBLE AS latitude, NULL::DOUBLE AS longitude, isp,
         is_anonymous_proxy AS anonymous_proxy, ip_category, user_agent, upper(device_type) AS device_type,
         is_admin_operation AS admin,
         CASE WHEN json_valid(activity_objects) THEN json_extract_string(activity_objects, '$[*].Name') END AS objects,
         CASE WHEN json_valid(raw_event_data) THEN json_extract(raw_event_data, '$.Parameters')::VARCHAR END AS parameters,
         CASE WHEN json_valid(raw_event_data) AND json_type(raw_event_data, '$.ModifiedProperties') = 'ARRAY'
              THEN json_extract(raw_event_data, '$.ModifiedProperties')::VARCHAR END AS modified_properties,
         CASE WHEN json_valid(raw_event_data) AND json_type(raw_event_data, '$.awsRegion') = 'VARCHAR'
              THEN json_extract_string(raw_event_data, '$.awsRegion') END AS aws_region,
         CASE WHEN json_valid(raw_event_data) AND json_type(raw_event_data, '$.LogonType') IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'VARCHAR')
              THEN list_transform([TRY_CAST(json_extract_string(raw_event_data, '$.LogonType') AS DOUBLE)],
                                  lambda d: CASE WHEN d = trunc(d) AND d BETWEEN -2147483648 AND 2147483647 THEN d::INTEGER END)[1]
              END AS logon_type,
         CASE WHEN json_valid(raw_event_data) AND json_type(raw_event_data, '$.MailboxOwnerUPN') = 'VARCHAR'
              THEN json_extract_string(raw_event_data, '$.MailboxOwnerUPN') END AS mailbox_owner,
         raw_event_data AS raw
  FROM cloud_app_events);

-- The columns every source gives all_events, in order.
CREATE OR REPLACE TEMP VIEW activity_events AS
SELECT id, ts, day, source, app_id, app_name, user_name, event_type, event_type_value, action, action_class, success,
       description, ip, country, city, latitude, longitude, isp, anonymous_proxy, ip_category, user_agent, device_type,
       admin, objects, parameters, modified_properties, aws_region, logon_type, mailbox_owner, raw
FROM activity_rows;
-- stream_events: the stream's rows that are not also an activity of the same tenant: neither by
-- id (ReportId is the activity's _id, bare or with its _<ApplicationId>) nor by fingerprint (same
-- app, sign-in name and action_key, times at most pair_window_seconds apart, the same IP or
-- one of them missing). Activities win because they carry more (created, the specific type,
-- coordinates).
CREATE OR REPLACE TEMP VIEW stream_events AS
SELECT id, ts, day, source, app_id, app_name, user_name, event_type, event_type_value, action, action_class, success,
       description, ip, country, city, latitude, longitude, isp, anonymous_proxy, ip_category, user_agent, device_type,
       admin, objects, parameters, modified_properties, aws_region, logon_type, mailbox_owner, raw
FROM stream_rows s
WHERE NOT EXISTS (SELECT 1 FROM activities a WHERE a.tenant = s.tenant AND a.id = s.id_base)
  AND NOT EXISTS (SELECT 1 FROM activity_rows a
                  WHERE a.tenant = s.tenant AND a.app_id = s.app_id AND a.user_key = s.user_key AND a.action_key = s.action_key
                    AND a.ts BETWEEN s.ts - to_seconds(pair_window_seconds()) AND s.ts + to_seconds(pair_window_seconds())
                    AND (a.ip = s.ip OR a.ip IS NULL OR s.ip IS NULL));
-- all_events: both sources, each event once. (The session points it at activity_events alone
-- when the warehouse holds no stream rows, so the activities API's users pay nothing for it.)
CREATE OR REPLACE TEMP VIEW all_events AS
SELECT * FROM activity_events
UNION ALL
SELECT * FROM stream_events;

CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM all_events;
-- event_firsts (created by the session, queries/firsts.go): the first time of each (user,
-- country, user agent, ISP) among the events that count as history (not a failed sign-in), in
-- rows to be grouped again (min(first_ts)). During a run it reads the warehouse's first times
-- (activity_firsts) for the whole days of events' stretch that have them and events for the
-- rest: the same answer either way, from 20–50× fewer rows.
-- domain_events is what the tenant's domains are read from: during a run, the 30 days up to the
-- window's end, so a short window still knows them and a long warehouse costs no more.
CREATE OR REPLACE TEMP VIEW domain_events AS SELECT * FROM all_events;

-- The tenant's domains: the domain of every sign-in name seen in successful sign-ins (by their
-- category, a filter the scan applies) in domain_events, with how many users signed in with it.
-- own_domains (created by the session) keeps those with enough users, plus and minus the
-- allow-list's own edits: the organisation's mail domains, their subdomains included
-- (in_domains).
-- (A name without @ counts no user, inside the aggregate: a filter on the name alone would be
-- pushed into the scan and tested on every row before the sign-in filter.)
CREATE OR REPLACE TEMP VIEW tenant_domains AS
SELECT lower(split_part(user_name, '@', 2)) AS domain,
       count(DISTINCT lower(user_name)) FILTER (WHERE contains(user_name, '@')) AS users,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM (SELECT user_name, min(ts) AS first_seen, max(ts) AS last_seen FROM domain_events
      WHERE event_type IN ('EVENT_CATEGORY_LOGIN', 'EVENT_CATEGORY_SSO_LOGIN')
        AND is_login(event_type, event_type_value, action) AND is_not_login_fail(event_type, event_type_value, action, success)
      GROUP BY user_name)
GROUP BY 1;
-- (removed is applied as an anti-join: a filter on domain alone would be pushed into the scan and
-- computed for every row)
CREATE OR REPLACE TEMP MACRO own_domains_of(min_users, added, removed) AS TABLE
SELECT domain FROM tenant_domains WHERE users >= greatest(min_users, 1) AND domain NOT IN (SELECT unnest(removed))
UNION
SELECT lower(trim(unnest(added))) AS domain;
CREATE OR REPLACE TEMP VIEW own_domains AS SELECT * FROM own_domains_of(5, []::VARCHAR[], []::VARCHAR[]);
-- in_domains(d, domains): d (a domain) is one of domains or a subdomain of one. An investigation
-- reads the tenant's domains once, as list(domain) of own_domains, and tests its rows with it.
CREATE OR REPLACE TEMP MACRO in_domains(d, domains) AS
  len(list_filter(domains, lambda o: lower(d) = lower(o) OR ends_with(lower(d), '.' || lower(o)))) > 0;

-- Impersonation: Exchange mailbox-audit records where someone other than the owner acted
-- (rawDataJson.LogonType 1 = admin, 2 = delegate: the narrow logon_type column). A candidate is
-- mailbox access whose actor is not among the objects acted on (the owner's mailbox is the first
-- object).
-- (NULL when app_id or action is; a WHERE drops those rows. Its conjuncts stay at the top so that
-- the app_id and action filters reach the scan.)
-- (The first object is usually the actor, spelt the same: that cheap test spares most rows the
-- lambda.)
CREATE OR REPLACE TEMP MACRO is_impersonation_candidate(app_id, action, objects, user_name) AS
  is_mailbox_access(app_id, action)
    AND NOT coalesce(objects[1] = user_name, false)
    AND NOT coalesce(list_contains(list_transform(objects, lambda o: lower(o)), lower(user_name)), false);

-- Impersonated activity, with mailbox_owner (MailboxOwnerUPN, lower case), and event_type,
-- event_type_value, success and admin for investigations that also classify it. The logon type
-- is a filter on one narrow column, which the scan applies first: the other columns are read
-- for the few impersonating rows alone.
CREATE OR REPLACE TEMP VIEW impersonations AS
SELECT id, ts, day, source, app_id, app_name, user_name, action, ip, country, objects,
       nullif(lower(mailbox_owner), '') AS mailbox_owner, event_type, event_type_value, success, admin
FROM events
WHERE logon_type IN (1, 2) AND is_impersonation_candidate(app_id, action, objects, user_name);

-- Entra ID audit records say what changed in rawDataJson.ModifiedProperties, a list of
-- {"Name", "NewValue", "OldValue"} (the narrow modified_properties column); Exchange and
-- Security & Compliance cmdlets give their arguments in Parameters, [{"Name", "Value"}] (the
-- narrow parameters column). These read them by name, in any key order.
CREATE OR REPLACE TEMP MACRO modified_props(modified_properties) AS
  from_json(coalesce(modified_properties, '[]'), '[{"Name":"VARCHAR","NewValue":"VARCHAR","OldValue":"VARCHAR"}]');
-- the new value of the first modified property called name (NULL when there is none)
CREATE OR REPLACE TEMP MACRO modified_value(modified_properties, name) AS
  list_filter(modified_props(modified_properties), lambda p: p.Name = name)[1].NewValue;
CREATE OR REPLACE TEMP MACRO cmdlet_params(parameters) AS
  from_json(coalesce(parameters, '[]'), '[{"Name":"VARCHAR","Value":"VARCHAR"}]');
-- the value of a cmdlet's parameter (any letter case of its name), without the quotes and the $
-- PowerShell literals carry ("$false" → false, '"x"' → x); NULL when the cmdlet did not get it
CREATE OR REPLACE TEMP MACRO cmdlet_param(parameters, name) AS
  trim(list_filter(cmdlet_params(parameters), lambda p: lower(p.Name) = lower(name))[1].Value, '"''$ ');
-- a switch parameter that is set: given without a value, or with True
CREATE OR REPLACE TEMP MACRO cmdlet_switch(parameters, name) AS
  coalesce(lower(coalesce(nullif(cmdlet_param(parameters, name), ''), 'true')) IN ('true', '1')
           AND list_contains(list_transform(cmdlet_params(parameters), lambda p: lower(p.Name)), lower(name)), false);
