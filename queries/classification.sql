-- The shared classification: which raw operations count as what. Every investigation reads the
-- view "classified" (activities plus op_class) or "impersonations", and names operation sets
-- only through the macros below, so changing what counts as a download changes every
-- investigation at once.
--
-- The is_* macros expand in place to plain column predicates (action IN (…)), so an
-- investigation that filters with one lets DuckDB push the filter into the scan and read the
-- wide raw column only for the rows that pass. (A filter on one column reaches the scan; an OR
-- across two columns, such as is_download, does not, and the scan then reads every selected
-- column of every row in the time range: select raw, objects or id only where a one-column
-- filter, or a join on a few keys, has narrowed the rows.)
CREATE OR REPLACE TEMP MACRO is_login_fail(event_type, action, success) AS
  event_type = 'EVENT_CATEGORY_FAILED_LOGIN' OR action IN ('UserLoginFailed')
  OR (event_type IN ('EVENT_CATEGORY_LOGIN', 'EVENT_CATEGORY_SSO_LOGIN') AND success IS false);
CREATE OR REPLACE TEMP MACRO is_login(event_type, action) AS
  event_type IN ('EVENT_CATEGORY_LOGIN', 'EVENT_CATEGORY_SSO_LOGIN') OR action IN ('UserLoggedIn');
-- inbox rules, mailbox forwarding and transport rules
CREATE OR REPLACE TEMP MACRO is_mail_rule(action) AS
  action IN ('New-InboxRule', 'Set-InboxRule', 'UpdateInboxRules', 'Set-Mailbox', 'New-TransportRule', 'Set-TransportRule');
CREATE OR REPLACE TEMP MACRO is_inbox_rule(action) AS
  action IN ('New-InboxRule', 'Set-InboxRule', 'UpdateInboxRules');
CREATE OR REPLACE TEMP MACRO is_user_delete(event_type, action) AS
  event_type = 'EVENT_CATEGORY_DELETE_USER' OR action IN ('Delete user.', 'Delete user');
CREATE OR REPLACE TEMP MACRO is_download(event_type, action) AS
  event_type = 'EVENT_CATEGORY_DOWNLOAD_FILE' OR action IN ('FileDownloaded', 'FileSyncDownloadedFull');
CREATE OR REPLACE TEMP MACRO is_upload(event_type, action) AS
  event_type = 'EVENT_CATEGORY_UPLOAD_FILE' OR action IN ('FileUploaded', 'FileSyncUploadedFull');
CREATE OR REPLACE TEMP MACRO is_delete(action) AS
  action IN ('FileDeleted', 'FileRecycled', 'FileDeletedFirstStageRecycleBin', 'FileDeletedSecondStageRecycleBin');
CREATE OR REPLACE TEMP MACRO is_share(action) AS
  action IN ('AnonymousLinkCreated', 'SharingInvitationCreated', 'SharingSet', 'CompanyLinkCreated',
             'SecureLinkCreated', 'AddedToSecureLink');
-- Exchange mailbox-audit operations, where a delegate or an admin may act on someone's mailbox.
CREATE OR REPLACE TEMP MACRO is_mailbox_access(app_id, action) AS
  app_id = 20893 AND action IN ('MailItemsAccessed', 'Send', 'SendAs', 'SendOnBehalf', 'FolderBind', 'MessageBind',
    'HardDelete', 'SoftDelete', 'MoveToDeletedItems', 'Move', 'Update', 'Create', 'UpdateFolderPermissions',
    'UpdateCalendarDelegation', 'AddFolderPermissions', 'ModifyFolderPermissions');

-- op_class: login, login_fail, mail_rule, user_delete, download, upload, delete, share, other
-- (the first that matches, in this order). The CASE costs a few dozen string comparisons a row,
-- which adds up over millions of rows, so investigations compute it late: they filter with the
-- is_* macros first, and call op_class_of after their joins rather than select op_class early.
-- Test a set of classes with list_contains(['download', 'share'], op_class), not
-- op_class IN ('download', 'share'): DuckDB turns a short IN list into one comparison per value,
-- each with its own copy of this CASE.
CREATE OR REPLACE TEMP MACRO op_class_of(event_type, action, success) AS
  CASE
    WHEN is_login_fail(event_type, action, success) THEN 'login_fail'
    WHEN is_login(event_type, action) THEN 'login'
    WHEN is_mail_rule(action) THEN 'mail_rule'
    WHEN is_user_delete(event_type, action) THEN 'user_delete'
    WHEN is_download(event_type, action) THEN 'download'
    WHEN is_upload(event_type, action) THEN 'upload'
    WHEN is_delete(action) THEN 'delete'
    WHEN is_share(action) THEN 'share'
    ELSE 'other'
  END;
-- op_class <> 'login_fail', without the rest of the CASE (login_fail is its first branch)
CREATE OR REPLACE TEMP MACRO is_not_login_fail(event_type, action, success) AS
  (is_login_fail(event_type, action, success)) IS NOT TRUE;

CREATE OR REPLACE TEMP VIEW classified AS
SELECT *, op_class_of(event_type, action, success) AS op_class
FROM activities;

-- Impersonation: Exchange mailbox-audit records where someone other than the owner acted
-- (rawDataJson.LogonType 1 = admin, 2 = delegate). A candidate is mailbox access whose actor is
-- not among the objects acted on (the owner's mailbox is the first object); only candidates can
-- be impersonations, and only their raw text is ever read.
-- (NULL when app_id or action is; a WHERE drops those rows. Its conjuncts stay at the top so that
-- the app_id and action filters reach the scan.)
-- (The first object is usually the actor, spelt the same: that cheap test spares most rows the
-- lambda.)
CREATE OR REPLACE TEMP MACRO is_impersonation_candidate(app_id, action, objects, user_name) AS
  is_mailbox_access(app_id, action)
    AND NOT coalesce(objects[1] = user_name, false)
    AND NOT coalesce(list_contains(list_transform(objects, lambda o: lower(o)), lower(user_name)), false);
CREATE OR REPLACE TEMP MACRO is_impersonating_logon(raw) AS
  regexp_extract(raw, '"LogonType"\s*:\s*"?([0-9]+)', 1) IN ('1', '2');
CREATE OR REPLACE TEMP MACRO mailbox_owner_of(raw) AS
  nullif(lower(regexp_extract(raw, '"MailboxOwnerUPN"\s*:\s*"([^"]*)"', 1)), '');

-- Impersonated activity, with mailbox_owner (MailboxOwnerUPN, lower case), and event_type,
-- success and admin for investigations that also classify it.
--
-- Why the two steps: raw is ~3.5 KB a row, and mailbox access is a sixth of all activity. The
-- candidates are found on narrow columns; the rows are then fetched again by a join on their
-- (ts, user_name, objects), whose few user names DuckDB pushes into the second scan as a filter
-- (and the ts range into its zonemaps), so raw is read for the candidates alone. The CASE names
-- a column of both join sides, which keeps the raw filter above the join: pushed into the scan,
-- it would read raw for every mailbox access. (The join, not id: reading the random
-- 64-character id of every mailbox access costs more than the rest of the scan.) A candidate
-- without a user name cannot be joined on it; the scan filters those on user_name IS NULL, and
-- the CASE again keeps the raw filter out of that scan (there it read raw for every row).
CREATE OR REPLACE TEMP VIEW impersonations AS
WITH candidates AS (
  SELECT DISTINCT ts, user_name, objects FROM activities
  WHERE is_impersonation_candidate(app_id, action, objects, user_name) AND user_name IS NOT NULL),
fetched AS (
  SELECT a.id, a.ts, a.day, a.app_id, a.app_name, a.user_name, a.action, a.ip, a.country, a.objects,
         a.event_type, a.success, a.admin, CASE WHEN c.ts IS NOT NULL THEN a.raw END AS raw
  FROM activities a
  JOIN candidates c ON a.ts = c.ts AND a.user_name = c.user_name AND a.objects IS NOT DISTINCT FROM c.objects
  WHERE is_mailbox_access(a.app_id, a.action)
  UNION ALL
  SELECT id, ts, day, app_id, app_name, user_name, action, ip, country, objects,
         event_type, success, admin, CASE WHEN user_name IS NULL THEN raw END AS raw
  FROM activities
  WHERE user_name IS NULL AND is_impersonation_candidate(app_id, action, objects, user_name))
SELECT id, ts, day, app_id, app_name, user_name, action, ip, country, objects, mailbox_owner_of(raw) AS mailbox_owner,
       event_type, success, admin
FROM fetched
WHERE is_impersonating_logon(raw);
