// Command simclient measures how fast a simulator serves scan pages: it runs the documentation's
// loop (post filters with isScan, follow nextQueryFilters until hasNext is false) over the whole
// tenant and prints pages/s, records/s and MB/s. The URL and token come from the environment
// (MCAS_SIM_URL, MCAS_SIM_TOKEN), never from the command line.
//
//	go run ./simulator/testdata/simclient [-limit 5000] [-sort created] [-pages N]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	limit := flag.Int("limit", 5000, "page size")
	sortField := flag.String("sort", "created", "sortField: date or created")
	maxPages := flag.Int("pages", 0, "stop after this many pages (0: the whole tenant)")
	decode := flag.Bool("decode", true, "decode each envelope with encoding/json (false: only find nextQueryFilters, to measure the server rather than the client)")
	flag.Parse()
	url, token := os.Getenv("MCAS_SIM_URL"), os.Getenv("MCAS_SIM_TOKEN")
	if url == "" || token == "" {
		fmt.Fprintln(os.Stderr, "simclient: set MCAS_SIM_URL (…/api/v1/activities/) and MCAS_SIM_TOKEN")
		os.Exit(2)
	}
	if err := run(url, token, *limit, *sortField, *maxPages, *decode); err != nil {
		fmt.Fprintln(os.Stderr, "simclient:", err)
		os.Exit(1)
	}
}

func run(url, token string, limit int, sortField string, maxPages int, decode bool) error {
	filters := json.RawMessage(`{}`)
	var body bytes.Buffer
	var pages, records, bytesIn int
	start := time.Now()
	for {
		q := fmt.Sprintf(`{"isScan":true,"limit":%d,"sortField":%q,"sortDirection":"asc","filters":%s}`, limit, sortField, filters)
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(q)))
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Authorization", "Token "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("post page %d: %w", pages+1, err)
		}
		body.Reset()
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("page %d: status %d: %v", pages+1, resp.StatusCode, err)
		}
		var env struct {
			HasNext          bool              `json:"hasNext"`
			Data             []json.RawMessage `json:"data"`
			NextQueryFilters json.RawMessage   `json:"nextQueryFilters"`
		}
		if decode {
			if err := json.Unmarshal(body.Bytes(), &env); err != nil {
				return fmt.Errorf("decode page %d: %w", pages+1, err)
			}
		} else if err := tail(body.Bytes(), &env.HasNext, &env.NextQueryFilters); err != nil {
			return fmt.Errorf("page %d: %w", pages+1, err)
		} else {
			env.Data = make([]json.RawMessage, bytes.Count(body.Bytes(), []byte(`{"_id":"`)))
		}
		pages++
		records += len(env.Data)
		bytesIn += body.Len()
		if !env.HasNext || (maxPages > 0 && pages >= maxPages) {
			break
		}
		if len(env.Data) == 0 {
			return fmt.Errorf("stalled at %s", env.NextQueryFilters)
		}
		filters = env.NextQueryFilters
	}
	el := time.Since(start).Seconds()
	fmt.Printf("%d pages, %d records, %.1f MB in %.1f s: %.1f pages/s, %.0f records/s, %.1f MB/s (decode %v)\n",
		pages, records, float64(bytesIn)/1e6, el, float64(pages)/el, float64(records)/el, float64(bytesIn)/1e6/el, decode)
	return nil
}

// tail reads hasNext and nextQueryFilters without decoding the records: the envelope starts with
// total and hasNext, and nextQueryFilters is the last key.
func tail(body []byte, hasNext *bool, next *json.RawMessage) error {
	*hasNext = bytes.Contains(body[:min(len(body), 64)], []byte(`"hasNext":true`))
	*next = nil
	if !*hasNext {
		return nil
	}
	i := bytes.LastIndex(body, []byte(`],"nextQueryFilters":`))
	if i < 0 {
		return fmt.Errorf("hasNext without nextQueryFilters")
	}
	var env struct {
		NextQueryFilters json.RawMessage `json:"nextQueryFilters"`
	}
	if err := json.Unmarshal(append([]byte("{"), body[i+2:]...), &env); err != nil {
		return fmt.Errorf("decode nextQueryFilters: %w", err)
	}
	*next = env.NextQueryFilters
	return nil
}
