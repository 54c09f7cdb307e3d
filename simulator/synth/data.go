package synth

// Static tables: apps, places, ISPs, operations, user agents and names. Coordinates are the real
// city centres; countries are ISO-2.

// App IDs as the API numbers them (mcas-api.md §7).
const (
	appOffice365  = 11161
	appExchange   = 20893
	appOneDrive   = 15600
	appSharePoint = 20892
	appTeams      = 28375
	appAzure      = 12260
	appGoogle     = 11770
	appBox        = 10489
	appSalesforce = 11114
	appAWS        = 11599
)

var appNames = map[int32]string{
	appOffice365:  "Office 365",
	appExchange:   "Microsoft Exchange Online",
	appOneDrive:   "Microsoft OneDrive for Business",
	appSharePoint: "Microsoft SharePoint Online",
	appTeams:      "Microsoft Teams",
	appAzure:      "Microsoft Azure",
	appGoogle:     "Google Workspace",
	appBox:        "Box",
	appSalesforce: "Salesforce",
	appAWS:        "Amazon Web Services",
}

// place is a city with its coordinates and UTC offset (hours, no DST: good enough for rhythm).
type place struct {
	city, region, country, postal string
	lat, lon                      float64
	tz                            int
}

const (
	plNewYork = iota
	plSanFrancisco
	plChicago
	plSeattle
	plAshburn
	plLondon
	plManchester
	plFrankfurt
	plBerlin
	plMunich
	plParis
	plAmsterdam
	plMadrid
	plBarcelona
	plMilan
	plZurich
	plStockholm
	plWarsaw
	plDublin
	plToronto
	plTokyo
	plSingapore
	plSydney
	plBengaluru
	plSaoPaulo
	plLagos
	plBucharest
	plMexicoCity
	plJohannesburg
	plSeoul
	plDubai
	plNewark
	plLisbon
)

var places = []place{
	plNewYork:      {"new york", "new york", "US", "10001", 40.7128, -74.0060, -5},
	plSanFrancisco: {"san francisco", "california", "US", "94103", 37.7749, -122.4194, -8},
	plChicago:      {"chicago", "illinois", "US", "60601", 41.8781, -87.6298, -6},
	plSeattle:      {"seattle", "washington", "US", "98101", 47.6062, -122.3321, -8},
	plAshburn:      {"ashburn", "virginia", "US", "20147", 39.0438, -77.4874, -5},
	plLondon:       {"london", "england", "GB", "EC2V", 51.5074, -0.1278, 0},
	plManchester:   {"manchester", "england", "GB", "M1", 53.4808, -2.2426, 0},
	plFrankfurt:    {"frankfurt am main", "hessen", "DE", "60311", 50.1109, 8.6821, 1},
	plBerlin:       {"berlin", "berlin", "DE", "10117", 52.5200, 13.4050, 1},
	plMunich:       {"münchen", "bayern", "DE", "80331", 48.1351, 11.5820, 1},
	plParis:        {"paris", "île-de-france", "FR", "75001", 48.8566, 2.3522, 1},
	plAmsterdam:    {"amsterdam", "noord-holland", "NL", "1012", 52.3676, 4.9041, 1},
	plMadrid:       {"madrid", "madrid", "ES", "28013", 40.4168, -3.7038, 1},
	plBarcelona:    {"barcelona", "catalonia", "ES", "08002", 41.3874, 2.1686, 1},
	plMilan:        {"milano", "lombardia", "IT", "20121", 45.4642, 9.1900, 1},
	plZurich:       {"zürich", "zurich", "CH", "8001", 47.3769, 8.5417, 1},
	plStockholm:    {"stockholm", "stockholm", "SE", "111 20", 59.3293, 18.0686, 1},
	plWarsaw:       {"warszawa", "mazowieckie", "PL", "00-001", 52.2297, 21.0122, 1},
	plDublin:       {"dublin", "leinster", "IE", "D02", 53.3498, -6.2603, 0},
	plToronto:      {"toronto", "ontario", "CA", "M5H", 43.6532, -79.3832, -5},
	plTokyo:        {"tokyo", "tokyo", "JP", "100-0001", 35.6762, 139.6503, 9},
	plSingapore:    {"singapore", "singapore", "SG", "018956", 1.3521, 103.8198, 8},
	plSydney:       {"sydney", "new south wales", "AU", "2000", -33.8688, 151.2093, 10},
	plBengaluru:    {"bengaluru", "karnataka", "IN", "560001", 12.9716, 77.5946, 5},
	plSaoPaulo:     {"são paulo", "são paulo", "BR", "01000-000", -23.5505, -46.6333, -3},
	plLagos:        {"lagos", "lagos", "NG", "100001", 6.5244, 3.3792, 1},
	plBucharest:    {"bucurești", "bucuresti", "RO", "010011", 44.4268, 26.1025, 2},
	plMexicoCity:   {"ciudad de méxico", "cdmx", "MX", "06000", 19.4326, -99.1332, -6},
	plJohannesburg: {"johannesburg", "gauteng", "ZA", "2001", -26.2041, 28.0473, 2},
	plSeoul:        {"seoul", "seoul", "KR", "04524", 37.5665, 126.9780, 9},
	plDubai:        {"dubai", "dubai", "AE", "00000", 25.2048, 55.2708, 4},
	plNewark:       {"newark", "new jersey", "US", "07102", 40.7357, -74.1724, -5},
	plLisbon:       {"lisboa", "lisboa", "PT", "1100-148", 38.7223, -9.1393, 0},
}

// offices are where users live and work; each has a corporate egress and a VPN gateway.
var offices = []int{plNewYork, plSanFrancisco, plChicago, plLondon, plFrankfurt, plParis, plSingapore, plToronto}

// officeWeights bias users towards the larger offices.
var officeWeights = []int{30, 12, 8, 18, 14, 6, 6, 6}

// tripPlaces are where travellers go (never Lagos or Bucharest: those are reserved for incidents).
var tripPlaces = []int{plNewYork, plSanFrancisco, plChicago, plSeattle, plLondon, plManchester, plFrankfurt, plBerlin,
	plMunich, plParis, plAmsterdam, plMadrid, plBarcelona, plMilan, plZurich, plStockholm, plWarsaw, plDublin, plToronto,
	plTokyo, plSingapore, plSydney, plBengaluru, plSaoPaulo, plMexicoCity, plSeoul, plDubai, plLisbon}

// isp is an internet provider in one country, with the first two octets of its addresses.
type isp struct {
	name, carrier string
	a, b          byte
}

// homeISPs are residential and mobile providers per country; the first ones are broadband, the
// last one mobile.
var homeISPs = map[string][]isp{
	"US": {{"Comcast Cable", "comcast cable communications%2C llc", 73, 162}, {"Verizon Fios", "verizon business", 71, 105}, {"Charter Communications", "charter communications inc", 97, 101}, {"T-Mobile USA", "t-mobile usa%2C inc.", 172, 58}},
	"GB": {{"BT", "british telecommunications plc", 86, 140}, {"Virgin Media", "virgin media limited", 82, 19}, {"Vodafone UK", "vodafone limited", 92, 40}},
	"DE": {{"Deutsche Telekom", "deutsche telekom ag", 91, 12}, {"Vodafone Kabel Deutschland", "vodafone gmbh", 88, 70}, {"Telefonica Germany", "telefonica germany gmbh %26 co.ohg", 176, 0}},
	"FR": {{"Orange", "orange s.a.", 90, 12}, {"Free SAS", "free sas", 82, 64}, {"SFR", "societe francaise du radiotelephone - sfr sa", 109, 8}},
	"SG": {{"Singtel", "singapore telecommunications ltd", 116, 14}, {"StarHub", "starhub ltd", 118, 189}},
	"CA": {{"Rogers Communications", "rogers communications canada inc.", 99, 224}, {"Bell Canada", "bell canada", 142, 112}},
	"NL": {{"KPN", "kpn b.v.", 84, 84}, {"Ziggo", "vodafoneziggo b.v.", 84, 26}},
	"ES": {{"Telefonica de Espana", "telefonica de espana sau", 83, 44}, {"Orange Espagne", "orange espagne sa", 85, 48}},
	"IT": {{"Telecom Italia", "telecom italia s.p.a.", 79, 20}, {"Fastweb", "fastweb spa", 93, 40}},
	"CH": {{"Swisscom", "swisscom (schweiz) ag", 85, 0}},
	"SE": {{"Telia", "telia company ab", 90, 224}},
	"PL": {{"Orange Polska", "orange polska spolka akcyjna", 83, 24}},
	"IE": {{"Eir", "eircom limited", 86, 40}},
	"JP": {{"NTT Communications", "ntt communications corporation", 153, 156}, {"KDDI", "kddi corporation", 106, 128}},
	"AU": {{"Telstra", "telstra corporation ltd", 101, 160}},
	"IN": {{"Reliance Jio", "reliance jio infocomm limited", 49, 36}},
	"BR": {{"Vivo", "telefonica brasil s.a", 177, 32}},
	"MX": {{"Telmex", "uninet s.a. de c.v.", 189, 128}},
	"KR": {{"KT Corporation", "korea telecom", 175, 192}},
	"AE": {{"Etisalat", "emirates telecommunications group company (etisalat group) pjsc", 94, 200}},
	"PT": {{"MEO", "meo - servicos de comunicacoes e multimedia s.a.", 85, 240}},
	"NG": {{"MTN Nigeria", "mtn nigeria communication limited", 102, 89}},
	"RO": {{"M247 Europe", "m247 europe srl", 185, 81}},
}

// Hotel networks: where travellers connect abroad (one per country, shared per user).
var hotelISP = isp{"Hotel Wi-Fi (iPass)", "ipass inc.", 104, 28}

// IP categories as the API numbers them.
const (
	catNone      = 0
	catCorporate = 1
	catAdmin     = 2
	catRisky     = 3
	catVPN       = 4
	catCloud     = 5
	catOther     = 6
)

var categoryValues = []string{"NONE", "CORPORATE", "ADMINISTRATIVE", "RISKY", "VPN", "CLOUD_PROXY_NETWORK_IP", "OTHER"}

// ipInfo is one address with its geolocation and ownership.
type ipInfo struct {
	addr     string
	place    int
	isp      string
	carrier  string
	category int8
	anon     bool
	tag      string // ipTags entry, "" for none
}

// event categories and their numeric eventType.
const (
	catLogin     = "EVENT_CATEGORY_LOGIN"
	catFailed    = "EVENT_CATEGORY_FAILED_LOGIN"
	catDownload  = "EVENT_CATEGORY_DOWNLOAD_FILE"
	catUpload    = "EVENT_CATEGORY_UPLOAD_FILE"
	catDelObj    = "EVENT_CATEGORY_DELETE_OBJECT"
	catDelUser   = "EVENT_CATEGORY_DELETE_USER"
	catCreate    = "EVENT_CATEGORY_CREATE_USER"
	catUnspec    = "EVENT_CATEGORY_UNSPECIFIED"
	catViewRep   = "EVENT_CATEGORY_VIEW_REPORT"
	catLogout    = "EVENT_CATEGORY_LOGOUT"
	catSSO       = "EVENT_CATEGORY_SSO_LOGIN"
	catSendMail  = "EVENT_CATEGORY_SEND_MAIL"
	catShare     = "EVENT_CATEGORY_SHARE_FILE"
	catMailRules = "EVENT_CATEGORY_MAILBOX_SETTINGS"
	catAdminOp   = "EVENT_CATEGORY_CHANGE_ADMIN_SETTINGS"
)

// style picks the record template.
type style uint8

const (
	stLogin   style = iota // AAD sign-in (MCASLoginEvent), ms precision
	stFailed               // AAD failed sign-in: only failedUserData.userName
	stFile                 // SharePoint/OneDrive audit record, whole seconds
	stMail                 // Exchange mailbox audit record, whole seconds
	stMailbox              // Exchange admin/cmdlet audit record (Parameters), whole seconds
	stDir                  // Azure AD directory audit (Add member to role., Delete user.), whole seconds
	stTeams                // Teams audit record, whole seconds
	stAzure                // Azure Resource Manager activity, ms precision
	stSaaS                 // Google Workspace, Box, Salesforce, AWS: vendor records, ms precision
)

// opDef describes one raw operation.
type opDef struct {
	name     string // rawOperationName
	app      int32
	category string
	evType   int32
	evValue  string
	st       style
	admin    bool
	recType  int // O365 RecordType
	workload string
}

// op indexes; the table below is in the same order.
const (
	opUserLoggedIn = iota
	opUserLoginFailed
	opFileAccessed
	opFilePreviewed
	opFileDownloaded
	opFileUploaded
	opFileModified
	opFileDeleted
	opFileRecycled
	opSharingSet
	opAnonymousLinkCreated
	opCompanyLinkCreated
	opSharingInvitationCreated
	opODFileAccessed
	opODFileDownloaded
	opODFileUploaded
	opODFileDeleted
	opMailItemsAccessed
	opSend
	opMailboxLogin
	opNewInboxRule
	opSetInboxRule
	opSetMailbox
	opAddMailboxPermission
	opSetAdminAuditLogConfig
	opAddMemberToRole
	opUpdateUser
	opAddUser
	opDeleteUser
	opResetPassword
	opUpdateGroup
	opTeamsMessageSent
	opTeamsMeetingJoined
	opAzureVMWrite
	opAzureStorageListKeys
	opAzureRoleAssign
	opGoogleLogin
	opGoogleView
	opGoogleDownload
	opBoxLogin
	opBoxPreview
	opBoxUpload
	opSalesforceLogin
	opSalesforceReport
	opAWSConsoleLogin
	opAWSRunInstances
	opAWSDescribeInstances
	opDisableMFA
	opFileSyncDownloaded
	// Used by the look-alikes only (appended, so the indexes above never move).
	opRestoreUser
	opUpdateInboxRules
	opGoogleDelete
	opGoogleShare
	opBoxDelete
	opBoxShare
	// Used by the kinds planted after the look-alikes (incidents.go: laterIncidentKinds) and their
	// look-alikes only.
	opConsentToApp
	opAddDelegatedGrant
	opPIMActivation
	opUserRegisteredSecurityInfo
	opUserDeletedSecurityInfo
	opAdminDeletedSecurityInfo
	opAddDomain
	opVerifyDomain
	opSetDomainAuthentication
	opSetFederationSettings
	opNewComplianceSearch
	opStartComplianceSearch
	opNewComplianceSearchAction
	opAddRecipientPermission
	opMailHardDelete
	opMailSoftDelete
	opMailMoveToDeletedItems
	opAzureVMDelete
	opAWSTerminateInstances
)

var ops = []opDef{
	opUserLoggedIn:             {"UserLoggedIn", appOffice365, catLogin, 233580, "EVENT_AAD_LOGIN", stLogin, false, 15, "AzureActiveDirectory"},
	opUserLoginFailed:          {"UserLoginFailed", appOffice365, catFailed, 2293761, "EVENT_AAD_LOGIN_FAILED", stFailed, false, 15, "AzureActiveDirectory"},
	opFileAccessed:             {"FileAccessed", appSharePoint, catUnspec, 1638400, "EVENT_O365_SHAREPOINT_GENERIC", stFile, false, 6, "SharePoint"},
	opFilePreviewed:            {"FilePreviewed", appSharePoint, catUnspec, 1638400, "EVENT_O365_SHAREPOINT_GENERIC", stFile, false, 6, "SharePoint"},
	opFileDownloaded:           {"FileDownloaded", appSharePoint, catDownload, 1638401, "EVENT_O365_SHAREPOINT_DOWNLOAD", stFile, false, 6, "SharePoint"},
	opFileUploaded:             {"FileUploaded", appSharePoint, catUpload, 1638402, "EVENT_O365_SHAREPOINT_UPLOAD", stFile, false, 6, "SharePoint"},
	opFileModified:             {"FileModified", appSharePoint, catUnspec, 1638400, "EVENT_O365_SHAREPOINT_GENERIC", stFile, false, 6, "SharePoint"},
	opFileDeleted:              {"FileDeleted", appSharePoint, catDelObj, 1638403, "EVENT_O365_SHAREPOINT_DELETE", stFile, false, 6, "SharePoint"},
	opFileRecycled:             {"FileRecycled", appOneDrive, catDelObj, 1572867, "EVENT_O365_ONEDRIVE_DELETE", stFile, false, 6, "OneDrive"},
	opSharingSet:               {"SharingSet", appSharePoint, catShare, 1638404, "EVENT_O365_SHAREPOINT_SHARE", stFile, false, 14, "SharePoint"},
	opAnonymousLinkCreated:     {"AnonymousLinkCreated", appOneDrive, catShare, 1572868, "EVENT_O365_ONEDRIVE_SHARE", stFile, false, 14, "OneDrive"},
	opCompanyLinkCreated:       {"CompanyLinkCreated", appSharePoint, catShare, 1638404, "EVENT_O365_SHAREPOINT_SHARE", stFile, false, 14, "SharePoint"},
	opSharingInvitationCreated: {"SharingInvitationCreated", appOneDrive, catShare, 1572868, "EVENT_O365_ONEDRIVE_SHARE", stFile, false, 14, "OneDrive"},
	opODFileAccessed:           {"FileAccessed", appOneDrive, catUnspec, 1572864, "EVENT_O365_ONEDRIVE_GENERIC", stFile, false, 6, "OneDrive"},
	opODFileDownloaded:         {"FileDownloaded", appOneDrive, catDownload, 1572865, "EVENT_O365_ONEDRIVE_DOWNLOAD", stFile, false, 6, "OneDrive"},
	opODFileUploaded:           {"FileUploaded", appOneDrive, catUpload, 1572866, "EVENT_O365_ONEDRIVE_UPLOAD", stFile, false, 6, "OneDrive"},
	opODFileDeleted:            {"FileDeleted", appOneDrive, catDelObj, 1572867, "EVENT_O365_ONEDRIVE_DELETE", stFile, false, 6, "OneDrive"},
	opMailItemsAccessed:        {"MailItemsAccessed", appExchange, catUnspec, 1310720, "EVENT_O365_EXCHANGE_GENERIC", stMail, false, 50, "Exchange"},
	opSend:                     {"Send", appExchange, catSendMail, 1310721, "EVENT_O365_EXCHANGE_SEND", stMail, false, 2, "Exchange"},
	opMailboxLogin:             {"MailboxLogin", appExchange, catLogin, 1310722, "EVENT_O365_EXCHANGE_LOGIN", stMail, false, 2, "Exchange"},
	opNewInboxRule:             {"New-InboxRule", appExchange, catMailRules, 1310730, "EVENT_O365_EXCHANGE_CMDLET", stMailbox, false, 1, "Exchange"},
	opSetInboxRule:             {"Set-InboxRule", appExchange, catMailRules, 1310730, "EVENT_O365_EXCHANGE_CMDLET", stMailbox, false, 1, "Exchange"},
	opSetMailbox:               {"Set-Mailbox", appExchange, catMailRules, 1310730, "EVENT_O365_EXCHANGE_CMDLET", stMailbox, false, 1, "Exchange"},
	opAddMailboxPermission:     {"Add-MailboxPermission", appExchange, catAdminOp, 1310731, "EVENT_O365_EXCHANGE_ADMIN", stMailbox, true, 1, "Exchange"},
	opSetAdminAuditLogConfig:   {"Set-AdminAuditLogConfig", appExchange, catAdminOp, 1310731, "EVENT_O365_EXCHANGE_ADMIN", stMailbox, true, 1, "Exchange"},
	opAddMemberToRole:          {"Add member to role.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opUpdateUser:               {"Update user.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opAddUser:                  {"Add user.", appOffice365, catCreate, 1114113, "EVENT_O365_AAD_CREATE_USER", stDir, true, 8, "AzureActiveDirectory"},
	opDeleteUser:               {"Delete user.", appOffice365, catDelUser, 1114114, "EVENT_O365_AAD_DELETE_USER", stDir, true, 8, "AzureActiveDirectory"},
	opResetPassword:            {"Reset user password.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opUpdateGroup:              {"Update group.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opTeamsMessageSent:         {"MessageSent", appTeams, catUnspec, 1835008, "EVENT_O365_TEAMS_GENERIC", stTeams, false, 25, "MicrosoftTeams"},
	opTeamsMeetingJoined:       {"MeetingParticipantDetail", appTeams, catUnspec, 1835008, "EVENT_O365_TEAMS_GENERIC", stTeams, false, 25, "MicrosoftTeams"},
	opAzureVMWrite:             {"Microsoft.Compute/virtualMachines/write", appAzure, catAdminOp, 786432, "EVENT_AZURE_ADMIN", stAzure, true, 0, ""},
	opAzureStorageListKeys:     {"Microsoft.Storage/storageAccounts/listKeys/action", appAzure, catAdminOp, 786432, "EVENT_AZURE_ADMIN", stAzure, true, 0, ""},
	opAzureRoleAssign:          {"Microsoft.Authorization/roleAssignments/write", appAzure, catAdminOp, 786432, "EVENT_AZURE_ADMIN", stAzure, true, 0, ""},
	opGoogleLogin:              {"login_success", appGoogle, catLogin, 524288, "EVENT_GOOGLE_LOGIN", stSaaS, false, 0, ""},
	opGoogleView:               {"view", appGoogle, catUnspec, 524289, "EVENT_GOOGLE_DRIVE_VIEW", stSaaS, false, 0, ""},
	opGoogleDownload:           {"download", appGoogle, catDownload, 524290, "EVENT_GOOGLE_DRIVE_DOWNLOAD", stSaaS, false, 0, ""},
	opBoxLogin:                 {"LOGIN", appBox, catLogin, 589824, "EVENT_BOX_LOGIN", stSaaS, false, 0, ""},
	opBoxPreview:               {"PREVIEW", appBox, catUnspec, 589825, "EVENT_BOX_PREVIEW", stSaaS, false, 0, ""},
	opBoxUpload:                {"UPLOAD", appBox, catUpload, 589826, "EVENT_BOX_UPLOAD", stSaaS, false, 0, ""},
	opSalesforceLogin:          {"Login", appSalesforce, catLogin, 655360, "EVENT_SALESFORCE_LOGIN", stSaaS, false, 0, ""},
	opSalesforceReport:         {"ReportExport", appSalesforce, catViewRep, 655361, "EVENT_SALESFORCE_REPORT", stSaaS, false, 0, ""},
	opAWSConsoleLogin:          {"ConsoleLogin", appAWS, catLogin, 720896, "EVENT_AWS_LOGIN", stSaaS, false, 0, ""},
	opAWSRunInstances:          {"RunInstances", appAWS, catAdminOp, 720897, "EVENT_AWS_ADMIN", stSaaS, true, 0, ""},
	opAWSDescribeInstances:     {"DescribeInstances", appAWS, catUnspec, 720898, "EVENT_AWS_GENERIC", stSaaS, false, 0, ""},
	opDisableMFA:               {"Disable Strong Authentication.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opFileSyncDownloaded:       {"FileSyncDownloadedFull", appOneDrive, catDownload, 1572865, "EVENT_O365_ONEDRIVE_DOWNLOAD", stFile, false, 6, "OneDrive"},
	opRestoreUser:              {"Restore user.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	// Outlook's own rule edits: a mailbox audit record whose rule sits in OperationProperties
	// (RuleName, RuleActions …), without the cmdlet Parameters of New-InboxRule.
	opUpdateInboxRules: {"UpdateInboxRules", appExchange, catMailRules, 1310730, "EVENT_O365_EXCHANGE_GENERIC", stMail, false, 2, "Exchange"},
	opGoogleDelete:     {"delete", appGoogle, catDelObj, 524291, "EVENT_GOOGLE_DRIVE_DELETE", stSaaS, false, 0, ""},
	opGoogleShare:      {"change_user_access", appGoogle, catShare, 524292, "EVENT_GOOGLE_DRIVE_SHARE", stSaaS, false, 0, ""},
	opBoxDelete:        {"DELETE", appBox, catDelObj, 589827, "EVENT_BOX_DELETE", stSaaS, false, 0, ""},
	opBoxShare:         {"COLLABORATION_INVITE", appBox, catShare, 589828, "EVENT_BOX_SHARE", stSaaS, false, 0, ""},
	// Entra ID audit records (Core Directory, Application Management, Authentication Methods,
	// Directory Management) as the Office 365 connector delivers them: the operation name with
	// its trailing period where Entra writes one.
	opConsentToApp:               {"Consent to application.", appOffice365, catUnspec, 1114115, "EVENT_O365_AAD_GENERIC", stDir, false, 8, "AzureActiveDirectory"},
	opAddDelegatedGrant:          {"Add delegated permission grant.", appOffice365, catUnspec, 1114115, "EVENT_O365_AAD_GENERIC", stDir, false, 8, "AzureActiveDirectory"},
	opPIMActivation:              {"Add member to role completed (PIM activation)", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opUserRegisteredSecurityInfo: {"User registered security info", appOffice365, catUnspec, 1114115, "EVENT_O365_AAD_GENERIC", stDir, false, 8, "AzureActiveDirectory"},
	opUserDeletedSecurityInfo:    {"User deleted security info", appOffice365, catUnspec, 1114115, "EVENT_O365_AAD_GENERIC", stDir, false, 8, "AzureActiveDirectory"},
	opAdminDeletedSecurityInfo:   {"Admin deleted security info", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opAddDomain:                  {"Add domain to company.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opVerifyDomain:               {"Verify domain.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opSetDomainAuthentication:    {"Set domain authentication.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	opSetFederationSettings:      {"Set federation settings on domain.", appOffice365, catAdminOp, 1114112, "EVENT_O365_AAD_ADMIN", stDir, true, 8, "AzureActiveDirectory"},
	// Security & Compliance PowerShell (RecordType 18), with the cmdlet's Parameters.
	opNewComplianceSearch:       {"New-ComplianceSearch", appOffice365, catAdminOp, 1114116, "EVENT_O365_SCC_ADMIN", stMailbox, true, 18, "SecurityComplianceCenter"},
	opStartComplianceSearch:     {"Start-ComplianceSearch", appOffice365, catAdminOp, 1114116, "EVENT_O365_SCC_ADMIN", stMailbox, true, 18, "SecurityComplianceCenter"},
	opNewComplianceSearchAction: {"New-ComplianceSearchAction", appOffice365, catAdminOp, 1114116, "EVENT_O365_SCC_ADMIN", stMailbox, true, 18, "SecurityComplianceCenter"},
	opAddRecipientPermission:    {"Add-RecipientPermission", appExchange, catAdminOp, 1310731, "EVENT_O365_EXCHANGE_ADMIN", stMailbox, true, 1, "Exchange"},
	// Exchange mailbox audit: the owner's deletions (RecordType 3, ExchangeItemGroup).
	opMailHardDelete:         {"HardDelete", appExchange, catUnspec, 1310720, "EVENT_O365_EXCHANGE_GENERIC", stMail, false, 3, "Exchange"},
	opMailSoftDelete:         {"SoftDelete", appExchange, catUnspec, 1310720, "EVENT_O365_EXCHANGE_GENERIC", stMail, false, 3, "Exchange"},
	opMailMoveToDeletedItems: {"MoveToDeletedItems", appExchange, catUnspec, 1310720, "EVENT_O365_EXCHANGE_GENERIC", stMail, false, 3, "Exchange"},
	opAzureVMDelete:          {"Microsoft.Compute/virtualMachines/delete", appAzure, catAdminOp, 786432, "EVENT_AZURE_ADMIN", stAzure, true, 0, ""},
	opAWSTerminateInstances:  {"TerminateInstances", appAWS, catAdminOp, 720897, "EVENT_AWS_ADMIN", stSaaS, true, 0, ""},
}

// userAgentDef is a raw user agent with its parsed form.
type userAgentDef struct {
	raw, browser, family, name, version, os, osName, osFamily, osVersion, deviceType, typ string
	native                                                                                bool
}

const (
	uaChromeWin = iota
	uaEdgeWin
	uaSafariMac
	uaFirefoxLinux
	uaOutlookIOS
	uaTeamsAndroid
	uaOneDriveSync
	uaSafariIPad
	uaPowerShell
	uaPythonRequests
	uaChromeWinNew
	uaAWSCLI
	// Used by the look-alikes only.
	uaEdgeWinNew
	uaPowerShellNew
	uaADConnect
)

var userAgents = []userAgentDef{
	uaChromeWin:      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "CHROME", "CHROME", "Chrome", "131.0.0.0", "WINDOWS", "Windows 10", "WINDOWS", "10", "DESKTOP", "Browser", false},
	uaEdgeWin:        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "EDGE", "EDGE", "Edge", "131.0.2903.86", "WINDOWS", "Windows 10", "WINDOWS", "10", "DESKTOP", "Browser", false},
	uaSafariMac:      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15", "SAFARI", "SAFARI", "Safari", "17.6", "OS_X", "Mac OS X", "OS_X", "14.6.1", "DESKTOP", "Browser", false},
	uaFirefoxLinux:   {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "FIREFOX", "FIREFOX", "Firefox", "133.0", "LINUX", "Ubuntu", "LINUX", "", "DESKTOP", "Browser", false},
	uaOutlookIOS:     {"Outlook-iOS/723.4027091.prod.iphone (4.2449.0)", "OUTLOOK", "OUTLOOK", "Outlook", "4.2449.0", "IOS", "iOS", "IOS", "17.6", "MOBILE", "Application", true},
	uaTeamsAndroid:   {"Mozilla/5.0 (Linux; Android 14; SM-S918B) Teams/1416/1.0.0.2024143203 (Android)", "TEAMS", "TEAMS", "Teams", "1416", "ANDROID", "Android 14", "ANDROID", "14", "MOBILE", "Application", true},
	uaOneDriveSync:   {"Microsoft SkyDriveSync 24.216.1027.0001 ship; Windows NT 10.0 (22631)", "ONEDRIVE", "ONEDRIVE", "OneDrive sync client", "24.216.1027.0001", "WINDOWS", "Windows 11", "WINDOWS", "11", "DESKTOP", "Application", true},
	uaSafariIPad:     {"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", "SAFARI", "SAFARI", "Mobile Safari", "17.6", "IOS", "iPadOS", "IOS", "17.6", "TABLET", "Browser", false},
	uaPowerShell:     {"Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.6", "UNKNOWN", "UNKNOWN", "PowerShell", "7.4.6", "WINDOWS", "Windows 11", "WINDOWS", "11", "OTHER", "Application", false},
	uaPythonRequests: {"python-requests/2.32.3", "UNKNOWN", "UNKNOWN", "Unknown", "", "OTHER", "Unknown", "Unknown", "", "OTHER", "Unknown", false},
	uaChromeWinNew:   {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36", "CHROME", "CHROME", "Chrome", "132.0.0.0", "WINDOWS", "Windows 10", "WINDOWS", "10", "DESKTOP", "Browser", false},
	uaAWSCLI:         {"aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/windows#10 md/arch#amd64", "UNKNOWN", "UNKNOWN", "Unknown", "", "WINDOWS", "Windows 10", "WINDOWS", "10", "OTHER", "Application", false},
	uaEdgeWinNew:     {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36 Edg/132.0.2957.115", "EDGE", "EDGE", "Edge", "132.0.2957.115", "WINDOWS", "Windows 10", "WINDOWS", "10", "DESKTOP", "Browser", false},
	uaPowerShellNew:  {"Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.5.0", "UNKNOWN", "UNKNOWN", "PowerShell", "7.5.0", "WINDOWS", "Windows 11", "WINDOWS", "11", "OTHER", "Application", false},
	uaADConnect:      {"Microsoft Entra Connect Sync/2.4.27.0", "UNKNOWN", "UNKNOWN", "Unknown", "", "WINDOWS", "Windows Server 2022", "WINDOWS", "", "OTHER", "Application", false},
}

var firstNames = []string{"Anna", "Jürgen", "Łukasz", "José", "Chloé", "Søren", "Zoë", "Björn", "Ines", "Mateo", "Olivia", "Liam",
	"Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "James", "Harper", "Lucas", "Ava", "Henry", "Isabella",
	"Alexander", "Charlotte", "Ethan", "Yuki", "Hiroshi", "Priya", "Arjun", "Wei", "Mei", "Fatima", "Omar", "Chiara",
	"Giulia", "François", "Renée", "Małgorzata", "Nils", "Ingrid", "Aoife", "Siobhán", "Dmitri", "Zeynep", "Camila",
	"Thiago", "Seo-yeon", "Min-jun", "Adebayo", "Chidi", "Lena", "Felix", "Maja", "Emil", "Hannah", "David", "Sarah"}

var lastNames = []string{"Müller", "Schmidt", "García", "Martínez", "Nowak", "Kowalski", "Dubois", "Lefèvre", "Rossi",
	"Bianchi", "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
	"Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall",
	"Tanaka", "Suzuki", "Sato", "Sharma", "Patel", "Wang", "Li", "Zhang", "Chen", "Kim", "Park", "O'Brien", "Ó Súilleabháin",
	"Østergaard", "Åkesson", "Nguyễn", "Yılmaz", "Petrov", "Okafor", "Adeyemi", "Silva", "Santos", "Fernández", "Weiß",
	"Schäfer", "Ibrahim", "Haddad", "Novák"}

// fileWords and fileExts build file names; the words avoid every keyword the investigations search for.
var fileWords = []string{"Budget", "Roadmap", "Quarterly Review", "Onboarding", "Design Spec", "Meeting Notes", "Forecast",
	"Customer List", "Architecture", "Contract Draft", "Sales Plan", "Release Notes", "Team Offsite", "Hiring Plan",
	"Board Deck", "Product Brief", "Pricing", "Résumé", "Übersicht", "Présentation", "Inventory", "Vendor Review",
	"Travel Policy", "Benefits Overview", "Security Review", "Data Model", "Campaign Brief", "Retrospective", "OKRs",
	"Партнёры", "预算", "Q3 Results 📈"}

var fileExts = []string{"docx", "xlsx", "pptx", "pdf", "txt", "csv", "png", "one", "vsdx", "md"}

var sites = []string{"Finance", "Engineering", "Marketing", "Sales", "HR", "Legal", "Operations", "Product", "Support", "Executive"}

// loremWords fill the rare very large fields; none is a keyword any investigation looks for.
var loremWords = []string{"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
	"eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam",
	"quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex", "ea", "commodo", "consequat", "ü", "ß", "é"}
