package delivery_test

import (
	"context"
	"crypto/hmac"
	"fmt"
	"os"
	"time"

	"github.com/mcasload/mcasload/delivery"
)

// A finding delivered to standard output as NDJSON: the outbox marks it delivered only when
// its Result is accepted.
func ExampleDispatcher_Deliver() {
	specs, err := delivery.ParseSpecs([]string{"-"})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := delivery.Open(specs, delivery.Options{Stdout: os.Stdout})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	key := delivery.Key{Tenant: "contoso", Investigation: "mail-forwarding",
		Entities: delivery.Entities{User: "bob@contoso.com"}, Bucket: "2026-12-05"}
	seen := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	f := delivery.Finding{ID: key.ID(), Notification: 1, Key: key, Severity: delivery.Medium,
		Techniques: []string{"T1114.003"}, FirstSeen: seen, LastSeen: seen, EvidenceIDs: []string{"e1"},
		Status: delivery.StatusNew, Reason: delivery.ReasonNew}
	for _, r := range d.Deliver(context.Background(), []delivery.Finding{f}) {
		fmt.Println(r.ID, "accepted:", r.Accepted())
	}
	// Output:
	// {"type":"mcasload.finding","version":1,"id":"6fc05b0225092a50a9ef7531ad9f46a6","notification":1,"reason":"new","key":{"tenant":"contoso","investigation":"mail-forwarding","entities":{"user":"bob@contoso.com"},"bucket":"2026-12-05"},"title":"mail-forwarding","summary":"mail-forwarding: user bob@contoso.com (1 evidence activity, 2026-12-05T09:30:00.000Z)","severity":"medium","techniques":["T1114.003"],"first_seen":"2026-12-05T09:30:00.000Z","last_seen":"2026-12-05T09:30:00.000Z","evidence_ids":["e1"],"portal_urls":[],"status":"new","row":null}
	// 6fc05b0225092a50a9ef7531ad9f46a6 accepted: true
}

// How a webhook receiver written in Go checks a request: the signature over the timestamp and
// the raw body, in constant time (and the timestamp against its clock, not shown).
func ExampleSign() {
	key := []byte("the content of the secret= file")
	body := []byte(`{"type":"mcasload.finding","version":1,"id":"27e3…"}`)
	timestamp := "1796526000" // the X-Mcasload-Timestamp header
	header := delivery.Sign(key, timestamp, body)
	fmt.Println(hmac.Equal([]byte(header), []byte(delivery.Sign(key, timestamp, body))))
	fmt.Println(header[:7])
	// Output:
	// true
	// sha256=
}
