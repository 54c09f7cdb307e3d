package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxRequestBody bounds what the server reads from a request; real filter bodies are tiny.
const maxRequestBody = 1 << 20

// badRequestError is answered with 400 and a JSON body carrying its message.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

func badRequestf(format string, args ...any) error {
	return &badRequestError{msg: fmt.Sprintf(format, args...)}
}

// listQuery is one parsed list or scan request.
type listQuery struct {
	// filters holds each filter key's JSON as the client sent it, so nextQueryFilters can echo
	// the original filters back unchanged except for the one bound the scan moves.
	filters   map[string]json.RawMessage
	skip      int
	limit     int
	limitSet  bool
	sortField string // "date" or "created"
	desc      bool
	isScan    bool
}

// readParams collects the request parameters from the query string, then from the body (JSON on
// any method, URL-encoded or multipart form), later sources overriding earlier ones. Every value
// ends up as JSON so one interpreter handles all encodings.
func readParams(r *http.Request) (map[string]json.RawMessage, error) {
	params := map[string]json.RawMessage{}
	addValues(params, r.URL.Query())
	if r.Body == nil {
		return params, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, badRequestf("read request body: %v", err)
	}
	if len(body) > maxRequestBody {
		return nil, badRequestf("request body larger than %d bytes", maxRequestBody)
	}
	if err := parseBody(params, r.Header.Get("Content-Type"), body); err != nil {
		return nil, err
	}
	return params, nil
}

// parseBody merges the parameters found in body into params.
func parseBody(params map[string]json.RawMessage, contentType string, body []byte) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	mediaType, mparams, _ := mime.ParseMediaType(contentType)
	switch {
	case mediaType == "application/x-www-form-urlencoded" && trimmed[0] != '{':
		vals, err := url.ParseQuery(string(trimmed))
		if err != nil {
			return badRequestf("parse form body: %v", err)
		}
		addValues(params, vals)
		return nil
	case mediaType == "multipart/form-data":
		req := &http.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(bytes.NewReader(body))}
		if mparams["boundary"] == "" {
			return badRequestf("multipart body without boundary")
		}
		if err := req.ParseMultipartForm(maxRequestBody); err != nil {
			return badRequestf("parse multipart body: %v", err)
		}
		addValues(params, req.MultipartForm.Value)
		return nil
	}
	if trimmed[0] != '{' {
		return badRequestf("request body is not a JSON object")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return badRequestf("parse JSON body: %v", err)
	}
	for k, v := range obj {
		params[k] = v
	}
	return nil
}

// addValues adds string-encoded parameters: filters is JSON text, everything else a scalar.
func addValues(params map[string]json.RawMessage, vals url.Values) {
	for k, vs := range vals {
		if len(vs) == 0 {
			continue
		}
		v := vs[len(vs)-1]
		if k == "filters" {
			params[k] = json.RawMessage(v)
			continue
		}
		b, _ := json.Marshal(v)
		params[k] = b
	}
}

// parseListQuery interprets the parameters of a list or scan request.
func parseListQuery(params map[string]json.RawMessage) (*listQuery, error) {
	q := &listQuery{sortField: "date", desc: true}
	if raw, ok := params["filters"]; ok && !isNull(raw) {
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '"' {
			// Some clients double-encode: filters as a JSON string holding JSON text.
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, badRequestf("parse filters: %v", err)
			}
			raw = json.RawMessage(s)
		}
		if err := json.Unmarshal(raw, &q.filters); err != nil {
			return nil, badRequestf("filters must be a JSON object of filter: {operator: value}: %v", err)
		}
	}
	var err error
	if raw, ok := params["isScan"]; ok {
		if q.isScan, err = jsonBool(raw); err != nil {
			return nil, badRequestf("isScan: %v", err)
		}
	}
	if raw, ok := params["skip"]; ok && !isNull(raw) {
		v, err := jsonInt(raw)
		if err != nil || v < 0 {
			return nil, badRequestf("skip must be a non-negative integer")
		}
		q.skip = int(min(v, 1<<30))
	}
	if raw, ok := params["limit"]; ok && !isNull(raw) {
		v, err := jsonInt(raw)
		if err != nil || v < 0 {
			return nil, badRequestf("limit must be a non-negative integer")
		}
		q.limit, q.limitSet = int(min(v, 1<<30)), v > 0
	}
	if raw, ok := params["sortField"]; ok && !isNull(raw) {
		s, err := jsonString(raw)
		if err != nil {
			return nil, badRequestf("sortField: %v", err)
		}
		switch strings.ToLower(s) {
		case "date", "timestamp":
			q.sortField = "date"
		case "created":
			q.sortField = "created"
		default:
			return nil, badRequestf("unknown sortField %q (accepted: date, created)", s)
		}
	}
	if raw, ok := params["sortDirection"]; ok && !isNull(raw) {
		s, err := jsonString(raw)
		if err != nil {
			return nil, badRequestf("sortDirection: %v", err)
		}
		switch strings.ToLower(s) {
		case "desc":
			q.desc = true
		case "asc":
			q.desc = false
		default:
			return nil, badRequestf("unknown sortDirection %q (accepted: asc, desc)", s)
		}
	}
	return q, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// jsonInt reads an integer given as a JSON number (integral) or a numeric string.
func jsonInt(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		raw = json.RawMessage(strings.TrimSpace(s))
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != float64(int64(f)) {
		return 0, fmt.Errorf("%s is not an integer", truncate(string(raw)))
	}
	return int64(f), nil
}

// jsonTime reads epoch milliseconds given as a number or string, or an RFC 3339 string.
func jsonTime(raw json.RawMessage) (int64, error) {
	n, err := jsonInt(raw)
	if err == nil {
		return n, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, terr := time.Parse(time.RFC3339Nano, s); terr == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("%s is not a time in epoch milliseconds", truncate(string(raw)))
}

// jsonBool reads true/false, "true"/"True"/"false", or 1/0.
func jsonBool(raw json.RawMessage) (bool, error) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return false, err
		}
	} else {
		s = string(raw)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean", truncate(string(raw)))
}

// jsonString reads a string; numbers and booleans are accepted as their text.
func jsonString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	if len(raw) == 0 || raw[0] == '{' || raw[0] == '[' || string(raw) == "null" {
		return "", fmt.Errorf("%s is not a string", truncate(string(raw)))
	}
	return string(raw), nil
}

// jsonList reads a list, treating a scalar as a list of one (clients send both shapes).
func jsonList(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var l []json.RawMessage
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, err
		}
		return l, nil
	}
	if isNull(raw) {
		return []json.RawMessage{json.RawMessage("null")}, nil
	}
	return []json.RawMessage{raw}, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
