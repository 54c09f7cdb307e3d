package synth

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
)

// prng is a tiny allocation-free generator for the details of one record (splitmix64).
type prng uint64

func (p *prng) next() uint64 {
	*p += 0x9E3779B97F4A7C15
	z := uint64(*p)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (p *prng) intn(n int) int { return int(p.next() % uint64(n)) }

const hexDigits = "0123456789abcdef"

// appendStr appends s as a JSON string; UTF-8 passes through, quotes and controls are escaped.
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendKey(b []byte, k string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func appendKS(b []byte, k, v string) []byte { return appendStr(appendKey(b, k), v) }

func appendKI(b []byte, k string, v int64) []byte { return strconv.AppendInt(appendKey(b, k), v, 10) }

func appendKB(b []byte, k string, v bool) []byte { return strconv.AppendBool(appendKey(b, k), v) }

func appendGUID(b []byte, p *prng) []byte {
	x, y := p.next(), p.next()
	b = append(b, '"')
	for i := 0; i < 32; i++ {
		switch i {
		case 8, 12, 16, 20:
			b = append(b, '-')
		}
		var v uint64
		if i < 16 {
			v = x >> (60 - 4*i)
		} else {
			v = y >> (60 - 4*(i-16))
		}
		b = append(b, hexDigits[v&15])
	}
	return append(b, '"')
}

func appendKGUID(b []byte, k string, p *prng) []byte { return appendGUID(appendKey(b, k), p) }

func appendISO(b []byte, ms int64, frac bool) []byte {
	tm := time.UnixMilli(ms).UTC()
	b = append(b, '"')
	if frac {
		b = tm.AppendFormat(b, "2006-01-02T15:04:05.0000000Z")
	} else {
		b = tm.AppendFormat(b, "2006-01-02T15:04:05")
	}
	return append(b, '"')
}

// recordCtx holds what several parts of one record share.
type recordCtx struct {
	t    *Tenant
	a    *Activity
	u    *user
	ip   *ipInfo
	pl   *place
	op   *opDef
	ua   *userAgentDef
	sp   *special
	p    prng
	file string
	site string
}

// fileName is the object a file record acts on.
func (c *recordCtx) fileName() string {
	if c.file != "" {
		return c.file
	}
	if c.sp != nil && c.sp.file != "" {
		c.file = c.sp.file
		return c.file
	}
	w := fileWords[c.p.intn(len(fileWords))]
	c.file = w + " " + strconv.Itoa(c.p.intn(40)+1) + "." + fileExts[c.p.intn(len(fileExts))]
	return c.file
}

// AppendJSON appends the full raw record i, exactly as the API would return it, to dst.
func (t *Tenant) AppendJSON(dst []byte, i int) []byte {
	a := &t.acts[i]
	c := recordCtx{t: t, a: a, u: &t.users[a.user], ip: &t.ips[a.ip], op: &ops[a.op], ua: &userAgents[a.ua], p: prng(a.h)}
	c.pl = &places[c.ip.place]
	if a.special >= 0 {
		c.sp = &t.specials[a.special]
	}
	c.site = sites[int(a.user)%len(sites)]
	failed := c.op.st == stFailed
	b := dst
	inst := a.Created - 40 - int64(c.p.intn(400))
	b = append(b, `{"_id":"`...)
	b = append(b, a.ID...)
	b = append(b, `","uid":"`...)
	b = append(b, a.ID...)
	b = append(b, '"')
	b = appendKI(b, "tenantId", t.tenantID)
	b = appendKS(b, "aadTenantId", t.aadTenant)
	b = appendKI(b, "appId", int64(a.AppID))
	b = appendKI(b, "saasId", int64(a.AppID))
	src := int64(appOffice365)
	switch a.AppID {
	case appGoogle, appBox, appSalesforce, appAWS, appAzure:
		src = int64(a.AppID)
	}
	b = appendKI(b, "srcAppId", src)
	b = appendKS(b, "appName", appNames[a.AppID])
	b = appendKI(b, "timestamp", a.Timestamp)
	b = appendKI(b, "timestampRaw", a.Timestamp)
	b = appendKI(b, "instantiation", inst)
	b = appendKI(b, "instantiationRaw", inst)
	b = appendKI(b, "created", a.Created)
	b = appendKI(b, "createdRaw", a.Created)
	b = appendKI(b, "eventType", int64(c.op.evType))
	b = appendKS(b, "eventTypeName", c.op.category)
	b = appendKS(b, "eventTypeValue", c.op.evValue)
	b = c.appendDescription(b)
	b = appendKS(b, "severity", "INFO")
	login := c.op.st == stLogin || failed
	if login {
		b = appendKI(b, "confidenceLevel", 30)
		b = append(b, `,"classifications":["access"]`...)
	} else {
		b = appendKI(b, "confidenceLevel", 20)
		b = append(b, `,"classifications":[]`...)
	}
	b = appendKI(b, "source", int64(a.Source))
	b = c.appendCollected(b, inst)
	b = append(b, `,"device":{"clientIP":`...)
	b = appendStr(b, c.ip.addr)
	b = appendKS(b, "countryCode", a.Country)
	b = appendKS(b, "userAgent", c.ua.raw)
	b = append(b, '}')
	b = c.appendEntityData(b)
	b = append(b, `,"eventRouting":{`...)
	if a.Admin {
		b = append(b, `"adminEvent":true,`...)
	}
	b = append(b, `"auditing":true,"dispersed":true,"lograbber":true,"scubaUnpacker":false}`...)
	if failed {
		b = append(b, `,"failedUserData":{"userName":`...)
		b = appendStr(b, c.u.upn)
		b = append(b, '}')
	}
	b = append(b, `,"internals":{"otherIPs":[`...)
	b = appendStr(b, c.ip.addr)
	b = append(b, `]}`...)
	b = c.appendLocation(b)
	if login {
		b = append(b, `,"lograbberService":{"scubaUnpacker":true}`...)
	}
	b = c.appendMainInfo(b)
	b = append(b, `,"rawDataJson":`...)
	b = t.appendRaw(b, &c)
	b = c.appendActor(b)
	b = append(b, `,"user":{`...)
	if !failed {
		b = append(b, `"userName":`...)
		b = appendStr(b, c.u.upn)
		b = append(b, ',')
	}
	b = append(b, `"userTags":[`...)
	b = appendStr(b, c.u.tag)
	b = append(b, `]}`...)
	b = c.appendUserAgent(b)
	if a.flags&flagExtra != 0 {
		// Fields the documentation does not list; clients must carry them through.
		b = append(b, `,"appInstanceTags":[],"geoPipeline":{"version":3,"resolver":"ipgeo-2","confidence":0.`...)
		b = strconv.AppendInt(b, int64(70+c.p.intn(29)), 10)
		b = append(b, `},"isEntityResolutionPending":false`...)
	}
	return append(b, '}')
}

func (c *recordCtx) appendDescription(b []byte) []byte {
	generic := "ENUM_ACTIVITY_GENERIC_TYPE_BASIC"
	descID := "EVENT_DESCRIPTION_BASIC_EVENT"
	var desc string
	switch c.op.st {
	case stFailed:
		generic, descID = "ENUM_ACTIVITY_GENERIC_TYPE_FAILED_LOGIN", "EVENT_DESCRIPTION_FAILED_LOGIN"
		desc = "Failed log on (Failure message: " + c.failMessage() + ")"
	case stLogin:
		generic, descID = "ENUM_ACTIVITY_GENERIC_TYPE_LOGIN", "EVENT_DESCRIPTION_LOGIN"
		desc = "Log on to " + appNames[c.a.AppID]
	case stFile, stSaaS:
		desc = c.op.name + " " + c.fileName()
	default:
		desc = c.op.name
	}
	b = appendKS(b, "genericEventType", generic)
	if c.a.flags&flagLarge != 0 {
		b = appendKey(b, "description")
		b = append(b, '"')
		b = append(b, desc...)
		b = append(b, ": "...)
		n := 100_000 + c.p.intn(60_000)
		for start := len(b); len(b)-start < n; {
			b = append(b, loremWords[c.p.intn(len(loremWords))]...)
			b = append(b, ' ')
		}
		b = append(b, '"')
	} else {
		b = appendKS(b, "description", desc)
	}
	b = appendKS(b, "description_id", descID)
	b = append(b, `,"description_metadata":{`...)
	if c.op.st == stFailed {
		b = append(b, `"activity_result_message":`...)
		b = appendStr(b, "(Failure message: "+c.failMessage()+")")
		b = append(b, `,"colon":"","dash":"","event_category":"Failed log on"}`...)
		return b
	}
	b = append(b, `"colon":"","dash":"","target_object":`...)
	switch c.op.st {
	case stFile, stSaaS:
		b = appendStr(b, c.fileName())
	default:
		b = appendStr(b, appNames[c.a.AppID])
	}
	return append(b, '}')
}

func (c *recordCtx) failCode() int {
	if c.sp != nil && c.sp.failReason != 0 {
		return c.sp.failReason
	}
	if c.a.h%3 == 0 {
		return 50053
	}
	return 50126
}

func (c *recordCtx) failMessage() string {
	switch c.failCode() {
	case 50034:
		return "The user account does not exist in the directory."
	case 50053:
		return "Account is locked because the user tried to sign in too many times with an incorrect user ID or password."
	}
	return "Error validating credentials due to invalid username or password."
}

func (c *recordCtx) appendCollected(b []byte, inst int64) []byte {
	switch c.op.st {
	case stLogin, stFailed:
		b = append(b, `,"collected":{"aadLogins":{"MCAS_Router":false,"correlationId":`...)
		b = appendGUID(b, &c.p)
		b = appendKI(b, "enqueueTime", inst-20-int64(c.p.intn(100)))
		b = appendKI(b, "routingTime", inst-5)
		return append(b, `}}`...)
	case stAzure:
		b = append(b, `,"collected":{"azure":{"MCAS_Router":false,"enqueueTime":`...)
		b = strconv.AppendInt(b, inst-30, 10)
		b = appendKS(b, "resourceGroup", "rg-"+lowerASCII(c.site))
		b = appendKS(b, "resourceProvider", "Microsoft.Compute")
		b = appendKI(b, "routingTime", inst-10)
		b = appendKGUID(b, "subscriptionId", &c.p)
		return append(b, `}}`...)
	case stSaaS:
		return b
	}
	b = append(b, `,"collected":{"o365":{"blobCreated":`...)
	b = appendISO(b, c.a.Timestamp+60_000+int64(c.p.intn(60_000)), false)
	b = append(b, `,"blobId":"`...)
	b = strconv.AppendUint(b, c.p.next()%1e12, 10)
	b = append(b, `$`...)
	b = strconv.AppendInt(b, c.a.Timestamp/1000, 10)
	b = append(b, `"}}`...)
	return b
}

func lowerASCII(s string) string {
	out := []byte(s)
	for i, ch := range out {
		if ch >= 'A' && ch <= 'Z' {
			out[i] = ch + 32
		}
	}
	return string(out)
}

func (c *recordCtx) appendEntityData(b []byte) []byte {
	b = append(b, `,"entityData":{"0":{"displayName":`...)
	b = appendStr(b, c.u.display)
	b = append(b, `,"id":{"id":`...)
	b = appendStr(b, c.u.upn)
	b = append(b, `,"inst":0,"saas":11161},"resolved":true},"1":null,"2":{"displayName":`...)
	b = appendStr(b, c.u.display)
	b = append(b, `,"id":{"id":`...)
	b = appendStr(b, c.u.objID)
	b = append(b, `,"inst":0,"saas":11161},"resolved":true}}`...)
	return b
}

func (c *recordCtx) appendLocation(b []byte) []byte {
	b = append(b, `,"location":{"anonymousProxy":`...)
	b = strconv.AppendBool(b, c.ip.anon)
	b = appendKS(b, "carrier", c.ip.carrier)
	b = appendKI(b, "category", int64(c.ip.category))
	b = appendKS(b, "categoryValue", categoryValues[c.ip.category])
	b = appendKS(b, "city", c.pl.city)
	b = appendKS(b, "countryCode", c.pl.country)
	b = append(b, `,"ipTags":[`...)
	if c.ip.tag != "" {
		b = appendStr(b, c.ip.tag)
	}
	b = append(b, `],"isSatelliteProvider":false,"latitude":`...)
	b = strconv.AppendFloat(b, c.pl.lat, 'f', -1, 64)
	b = append(b, `,"longitude":`...)
	b = strconv.AppendFloat(b, c.pl.lon, 'f', -1, 64)
	b = appendKS(b, "organizationSearchable", c.ip.isp)
	b = appendKS(b, "postalCode", c.pl.postal)
	b = appendKS(b, "region", c.pl.region)
	return append(b, '}')
}

// appendObject appends one mainInfo.eventObjects entry.
func appendObject(b []byte, id, name string, objType, role int, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, `{"id":`...)
	b = appendStr(b, id)
	b = append(b, `,"name":`...)
	b = appendStr(b, name)
	b = appendKI(b, "objType", int64(objType))
	b = appendKI(b, "role", int64(role))
	return append(b, `,"tags":[]}`...)
}

func (c *recordCtx) appendMainInfo(b []byte) []byte {
	b = append(b, `,"mainInfo":{"activityResult":{"isSuccess":`...)
	if c.op.st == stFailed {
		b = append(b, `false,"message":`...)
		b = appendStr(b, c.failMessage())
		b = append(b, '}')
	} else {
		b = append(b, `true}`...)
	}
	b = append(b, `,"eventObjects":[`...)
	switch c.op.st {
	case stLogin, stFailed:
		b = appendObject(b, "00000003-0000-0ff1-ce00-000000000000", appNames[c.a.AppID], 6, 1, false)
		b = append(b, `,{"id":`...)
		b = appendGUID(b, &c.p)
		b = append(b, `,"name":"Request ID","objType":7,"role":3,"tags":[]}`...)
		b = appendObject(b, c.u.objID, c.u.upn, 2, 2, true)
	case stFile, stSaaS:
		name := c.fileName()
		b = appendObject(b, "https://"+c.t.org+".sharepoint.com/sites/"+c.site+"/Shared Documents/"+name, name, 1, 4, false)
		b = appendObject(b, "https://"+c.t.org+".sharepoint.com/sites/"+c.site, c.site, 1, 3, true)
		if c.sp != nil {
			for _, o := range c.sp.objects {
				b = appendObject(b, o, o, 21, 4, true)
			}
		}
	case stMail, stMailbox:
		owner := c.u.upn
		if c.sp != nil && c.sp.owner != "" {
			owner = c.sp.owner
		}
		b = appendObject(b, owner, owner, 21, 4, false)
		if c.sp != nil {
			for _, pv := range c.sp.params {
				if pv[0] == "Name" {
					b = appendObject(b, pv[1], pv[1], 7, 3, true)
				}
			}
		}
	case stDir:
		if c.sp != nil && len(c.sp.objects) > 0 {
			for k, o := range c.sp.objects {
				b = appendObject(b, o, o, 21, 4, k > 0)
			}
		} else {
			b = appendObject(b, "newhire"+strconv.Itoa(c.p.intn(900)+100)+"@"+c.t.cfg.Domain, "New Hire", 21, 4, false)
		}
	case stTeams:
		b = appendObject(b, "19:"+strconv.FormatUint(c.p.next()%1e15, 16)+"@thread.tacv2", c.site+" Team", 1, 4, false)
	case stAzure:
		b = appendObject(b, "/subscriptions/8d2f3a1e-6c5b-4b1a-9e0f-2c7d1b3a4f5e/resourceGroups/rg-"+lowerASCII(c.site),
			"rg-"+lowerASCII(c.site), 1, 4, false)
		if c.sp != nil {
			for _, o := range c.sp.objects {
				b = appendObject(b, "/subscriptions/8d2f3a1e-6c5b-4b1a-9e0f-2c7d1b3a4f5e/resourceGroups/rg-"+lowerASCII(c.site)+"/providers/"+o, o, 1, 4, true)
			}
		}
	}
	if c.op.st == stLogin || c.op.st == stFailed {
		// The actor, as an account object (objType 21), as sign-in records carry it.
		b = append(b, `,{"governable":false,"id":`...)
		b = appendStr(b, c.u.upn)
		b = append(b, `,"instanceId":0,"name":`...)
		b = appendStr(b, c.u.display)
		b = append(b, `,"objType":21,"resolved":true,"role":5,"saasId":11161,"tags":[]}`...)
	}
	b = append(b, ']')
	b = appendKS(b, "prettyOperationName", c.op.name)
	b = appendKS(b, "rawOperationName", c.op.name)
	switch c.op.st {
	case stFailed:
		b = appendKS(b, "type", "failedLogin")
	case stLogin:
		b = appendKS(b, "type", "login")
	default:
		b = appendKS(b, "type", "basic")
	}
	return append(b, '}')
}

func (c *recordCtx) appendActor(b []byte) []byte {
	b = append(b, `,"resolvedActor":{"governable":true,"id":`...)
	b = appendStr(b, c.u.objID)
	b = append(b, `,"instanceId":"0","name":`...)
	b = appendStr(b, c.u.display)
	b = append(b, `,"objType":"23","resolved":true,"role":"2","saasId":"11161","tags":[`...)
	b = appendStr(b, c.u.tag)
	return append(b, `]}`...)
}

func (c *recordCtx) appendUserAgent(b []byte) []byte {
	ua := c.ua
	b = append(b, `,"userAgent":{"browser":`...)
	b = appendStr(b, ua.browser)
	b = appendKS(b, "deviceType", ua.deviceType)
	b = appendKS(b, "name", ua.name)
	b = appendKB(b, "nativeBrowser", ua.native)
	b = append(b, `,"operatingSystem":{"family":`...)
	b = appendStr(b, ua.osFamily)
	b = appendKS(b, "name", ua.osName)
	if ua.osVersion != "" {
		b = appendKS(b, "version", ua.osVersion)
	}
	b = append(b, '}')
	b = appendKS(b, "os", ua.os)
	if ua.native {
		b = append(b, `,"tags":["000000000000000000000000"]`...)
	}
	b = appendKS(b, "type", ua.typ)
	if ua.version != "" {
		b = appendKS(b, "version", ua.version)
	}
	return append(b, '}')
}

// appendRaw appends rawDataJson in the shape of the source event.
func (t *Tenant) appendRaw(b []byte, c *recordCtx) []byte {
	a := c.a
	switch c.op.st {
	case stLogin, stFailed:
		b = append(b, `{"ApplicationName":`...)
		b = appendStr(b, appNames[a.AppID])
		b = append(b, `,"BrowserId":null,"Call":"OAuth2:Authorize","CorrelationId":`...)
		b = appendGUID(b, &c.p)
		b = append(b, `,"DeviceInfo":`...)
		b = appendStr(b, ";"+c.ua.osName+";"+c.ua.name+" "+c.ua.version+";")
		b = append(b, `,"EventType":"MCASLoginEvent","IpAddress":`...)
		b = appendStr(b, c.ip.addr)
		b = append(b, `,"IsDeviceCompliantAndManaged":false,"IsInteractive":true,"LoginErrorCode":`...)
		if c.op.st == stFailed {
			b = strconv.AppendInt(b, int64(c.failCode()), 10)
			b = append(b, `,"LoginStatus":"Failure"`...)
		} else {
			b = append(b, `0,"LoginStatus":"Success"`...)
		}
		b = append(b, `,"MfaRequired":false,"RequestId":`...)
		b = appendGUID(b, &c.p)
		b = appendKey(b, "TimeStamp")
		b = appendISO(b, a.Timestamp, true)
		b = appendKS(b, "Upn", c.u.upn)
		b = append(b, `,"UserIsPassthru":false,"UserName":""`...)
	case stAzure:
		b = append(b, `{"caller":`...)
		b = appendStr(b, c.u.upn)
		b = append(b, `,"category":{"value":"Administrative"},"correlationId":`...)
		b = appendGUID(b, &c.p)
		b = appendKey(b, "eventTimestamp")
		b = appendISO(b, a.Timestamp, true)
		b = append(b, `,"httpRequest":{"clientIpAddress":`...)
		b = appendStr(b, c.ip.addr)
		b = append(b, `},"operationName":{"value":`...)
		b = appendStr(b, c.op.name)
		b = append(b, `},"resourceGroupName":`...)
		b = appendStr(b, "rg-"+lowerASCII(c.site))
		if c.sp != nil && len(c.sp.objects) > 0 {
			b = appendKS(b, "resourceId", "/subscriptions/8d2f3a1e-6c5b-4b1a-9e0f-2c7d1b3a4f5e/resourceGroups/rg-"+lowerASCII(c.site)+"/providers/"+c.sp.objects[0])
		}
		b = append(b, `,"status":{"value":"Succeeded"},"subscriptionId":"8d2f3a1e-6c5b-4b1a-9e0f-2c7d1b3a4f5e"`...)
	case stSaaS:
		b = append(b, `{"actor":{"email":`...)
		b = appendStr(b, c.u.upn)
		b = append(b, `},"eventName":`...)
		b = appendStr(b, c.op.name)
		b = appendKey(b, "eventTime")
		b = appendISO(b, a.Timestamp, true)
		if c.sp != nil && c.sp.region != "" {
			b = appendKS(b, "awsRegion", c.sp.region)
		}
		b = appendKS(b, "ipAddress", c.ip.addr)
		b = appendKS(b, "itemName", c.fileName())
		b = appendKS(b, "userAgent", c.ua.raw)
	default:
		b = t.appendAudit(b, c)
	}
	if a.flags&flagCase != 0 {
		// Keys differing only by case, as in real records (breaks case-insensitive JSON readers).
		b = append(b, `,"Level":"Informational","level":4,"EventName":`...)
		b = appendStr(b, c.op.name)
		b = append(b, `,"eventName":`...)
		b = appendStr(b, lowerASCII(c.op.name))
	}
	return append(b, '}')
}

// appendAudit appends the Office 365 unified audit record (whole-second CreationTime).
func (t *Tenant) appendAudit(b []byte, c *recordCtx) []byte {
	a := c.a
	b = append(b, `{"CreationTime":`...)
	b = appendISO(b, a.Timestamp, false)
	b = appendKGUID(b, "Id", &c.p)
	b = appendKS(b, "Operation", c.op.name)
	b = appendKS(b, "OrganizationId", t.aadTenant)
	b = appendKI(b, "RecordType", int64(c.op.recType))
	b = appendKS(b, "ResultStatus", "Succeeded")
	userType := int64(0)
	if a.Admin {
		userType = 2
	}
	b = appendKI(b, "UserType", userType)
	b = append(b, `,"Version":1`...)
	b = appendKS(b, "Workload", c.op.workload)
	b = appendKS(b, "ClientIP", c.ip.addr)
	b = appendKS(b, "UserId", c.u.upn)
	switch c.op.st {
	case stFile:
		name := c.fileName()
		url := "https://" + c.t.org + ".sharepoint.com/sites/" + c.site + "/Shared Documents/" + name
		b = appendKS(b, "ObjectId", url)
		b = append(b, `,"EventSource":"SharePoint","ItemType":"File"`...)
		b = appendKS(b, "SourceFileExtension", extOf(name))
		b = appendKS(b, "SourceFileName", name)
		b = appendKS(b, "SourceRelativeUrl", "Shared Documents")
		if c.sp != nil && len(c.sp.objects) > 0 {
			b = appendKS(b, "TargetUserOrGroupName", c.sp.objects[0])
			b = appendKS(b, "TargetUserOrGroupType", "Guest")
		}
	case stMail:
		owner := c.u.upn
		logon := 0
		if c.sp != nil && c.sp.owner != "" {
			owner, logon = c.sp.owner, c.sp.logonType
		}
		b = append(b, `,"AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"","ClientIPAddress":`...)
		b = appendStr(b, c.ip.addr)
		b = append(b, `,"ClientInfoString":"Client=OWA;Action=ViaProxy","ExternalAccess":false,"InternalLogonType":0,"LogonType":`...)
		b = strconv.AppendInt(b, int64(logon), 10)
		b = append(b, `,"LogonUserSid":"S-1-5-21-`...)
		b = strconv.AppendUint(b, uint64(c.a.user)*7919+1000003, 10)
		b = append(b, `","MailboxGuid":`...)
		b = appendGUID(b, &c.p)
		b = appendKS(b, "MailboxOwnerUPN", owner)
		if c.sp != nil && len(c.sp.opProps) > 0 {
			b = append(b, `,"OperationProperties":`...)
			b = appendNameValues(b, c.sp.opProps, false)
		} else {
			b = append(b, `,"OperationProperties":[{"Name":"MailAccessType","Value":"Bind"},{"Name":"IsThrottled","Value":"False"}]`...)
		}
		b = append(b, `,"OrganizationName":"`...)
		b = append(b, c.t.org...)
		b = append(b, `.onmicrosoft.com","OriginatingServer":"AM6PR04MB`...)
		b = strconv.AppendInt(b, int64(c.p.intn(9000)+1000), 10)
		b = append(b, ` (15.20.8182.000)"`...)
	case stMailbox:
		b = append(b, `,"AppId":"","ClientAppId":"","ExternalAccess":false,"ObjectId":`...)
		b = appendStr(b, c.u.upn)
		b = append(b, `,"OrganizationName":"`...)
		b = append(b, c.t.org...)
		b = append(b, `.onmicrosoft.com","OriginatingServer":"AM6PR04MB`...)
		b = strconv.AppendInt(b, int64(c.p.intn(9000)+1000), 10)
		b = append(b, ` (15.20.8182.000)","Parameters":`...)
		params := c.defaultParams()
		if c.sp != nil && len(c.sp.params) > 0 {
			params = c.sp.params
		}
		b = appendNameValues(b, params, c.sp != nil && c.sp.valueFirst)
		b = appendKGUID(b, "SessionId", &c.p)
	case stDir:
		target := "newhire@" + c.t.cfg.Domain
		if c.sp != nil && len(c.sp.objects) > 0 {
			target = c.sp.objects[0]
		}
		b = append(b, `,"AzureActiveDirectoryEventType":1,"ExtendedProperties":[{"Name":"additionalDetails","Value":"{}"},{"Name":"extendedAuditEventCategory","Value":"User"}],"ModifiedProperties":`...)
		if c.sp != nil && len(c.sp.modProps) > 0 {
			b = appendModified(b, c.sp.modProps)
		} else {
			b = append(b, `[]`...)
		}
		b = append(b, `,"Actor":[{"ID":`...)
		b = appendStr(b, c.u.upn)
		b = append(b, `,"Type":5}],"ActorContextId":`...)
		b = appendStr(b, t.aadTenant)
		b = appendKS(b, "ObjectId", target)
		b = append(b, `,"Target":[{"ID":`...)
		b = appendStr(b, target)
		b = append(b, `,"Type":5}],"TargetContextId":`...)
		b = appendStr(b, t.aadTenant)
	case stTeams:
		b = append(b, `,"CommunicationType":"Team","TeamName":`...)
		b = appendStr(b, c.site+" Team")
		b = appendKS(b, "ChannelName", "General")
		b = appendKGUID(b, "TeamGuid", &c.p)
	}
	return b
}

// appendModified appends a directory record's ModifiedProperties: [{"Name":…,"NewValue":…,"OldValue":…},…].
func appendModified(b []byte, props [][3]string) []byte {
	b = append(b, '[')
	for k, p := range props {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = appendStr(b, p[0])
		b = appendKS(b, "NewValue", p[2])
		b = appendKS(b, "OldValue", p[1])
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendNameValues appends [{"Name":…,"Value":…},…], the shape of Parameters and
// OperationProperties; valueFirst writes each entry's Value before its Name.
func appendNameValues(b []byte, nv [][2]string, valueFirst bool) []byte {
	b = append(b, '[')
	for k, pv := range nv {
		if k > 0 {
			b = append(b, ',')
		}
		if valueFirst {
			b = append(b, `{"Value":`...)
			b = appendStr(b, pv[1])
			b = append(b, `,"Name":`...)
			b = appendStr(b, pv[0])
		} else {
			b = append(b, `{"Name":`...)
			b = appendStr(b, pv[0])
			b = append(b, `,"Value":`...)
			b = appendStr(b, pv[1])
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// defaultParams are the parameters of routine mailbox cmdlets.
func (c *recordCtx) defaultParams() [][2]string {
	switch c.a.op {
	case opSetAdminAuditLogConfig:
		return [][2]string{{"AdminAuditLogAgeLimit", "180.00:00:00"}}
	case opAddMailboxPermission:
		return [][2]string{{"Identity", "shared-" + lowerASCII(c.site) + "@" + c.t.cfg.Domain}, {"User", c.u.upn}, {"AccessRights", "ReadPermission"}}
	case opAddRecipientPermission:
		return [][2]string{{"Identity", "shared-" + lowerASCII(c.site) + "@" + c.t.cfg.Domain}, {"Trustee", c.u.upn}, {"AccessRights", "SendAs"}, {"Confirm", "False"}}
	case opNewComplianceSearch:
		// a security analyst's search for a phishing campaign's messages, purged after
		return [][2]string{{"Name", "phish-" + lowerASCII(c.site)}, {"ExchangeLocation", "All"}, {"ContentMatchQuery", `subject:"Action required: verify your account"`}}
	case opStartComplianceSearch:
		return [][2]string{{"Identity", "phish-" + lowerASCII(c.site)}}
	case opNewComplianceSearchAction:
		return [][2]string{{"SearchName", "phish-" + lowerASCII(c.site)}, {"Purge", "True"}, {"PurgeType", "SoftDelete"}, {"Confirm", "False"}}
	}
	return [][2]string{{"Identity", c.u.upn}, {"ProhibitSendQuota", "49.5 GB (53,150,220,288 bytes)"}, {"IssueWarningQuota", "49 GB (52,613,349,376 bytes)"}}
}

func extOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[i+1:]
		}
	}
	return ""
}

// WriteNDJSON writes every record with Created <= visibleAt, one JSON object a line, in
// (Timestamp, ID) order, and returns how many it wrote.
func (t *Tenant) WriteNDJSON(w io.Writer, visibleAt time.Time) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	limit := visibleAt.UnixMilli()
	var buf []byte
	n := 0
	for i := range t.acts {
		if t.acts[i].Created > limit {
			continue
		}
		buf = t.AppendJSON(buf[:0], i)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return n, fmt.Errorf("write ndjson: %w", err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write ndjson: %w", err)
	}
	return n, nil
}
