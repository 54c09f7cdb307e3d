-- The shared classification: which raw operations count as what. Every investigation reads the
-- view "classified" (activities plus op_class) or "impersonations", and names operation sets
-- only through the macros below, so changing what counts as a download changes every
-- investigation at once.
--
-- The is_* macros expand in place to plain column predicates (action IN (…)), so an
-- investigation that filters with one lets DuckDB push the filter into the scan and read the
-- wide raw column only for the rows that pass.
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
-- (the first that matches, in this order).
CREATE OR REPLACE TEMP VIEW classified AS
SELECT *,
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
  END AS op_class
FROM activities;

-- Impersonated activity: Exchange mailbox-audit records where someone other than the owner acted
-- (rawDataJson.LogonType 1 = admin, 2 = delegate); mailbox_owner is MailboxOwnerUPN, lower case.
-- raw is read only for mailbox access whose actor is not among the objects acted on (the owner's
-- mailbox is the first object): the candidates are found on narrow columns first, then their raw
-- text is fetched by id, so ordinary owners reading their own mail never cost a raw read.
CREATE OR REPLACE TEMP VIEW impersonations AS
WITH candidates AS (
  SELECT id FROM activities
  WHERE is_mailbox_access(app_id, action)
    AND NOT coalesce(list_contains(list_transform(objects, lambda o: lower(o)), lower(user_name)), false))
SELECT id, ts, day, app_id, app_name, user_name, action, ip, country, objects, mailbox_owner
FROM (
  SELECT *, nullif(lower(regexp_extract(raw, '"MailboxOwnerUPN"\s*:\s*"([^"]*)"', 1)), '') AS mailbox_owner,
         regexp_extract(raw, '"LogonType"\s*:\s*"?([0-9]+)', 1) AS logon_type
  FROM activities
  WHERE is_mailbox_access(app_id, action) AND id IN (SELECT id FROM candidates))
WHERE logon_type IN ('1', '2');
