package objstore

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  Location
		canon string
	}{
		{"azblob://contoso/mcas/team/activities",
			Location{Kind: KindAzure, Account: "contoso", ServiceURL: "https://contoso.blob.core.windows.net", Bucket: "mcas", Prefix: "team/activities"},
			"azblob://contoso/mcas/team/activities"},
		{"azblob://contoso/mcas",
			Location{Kind: KindAzure, Account: "contoso", ServiceURL: "https://contoso.blob.core.windows.net", Bucket: "mcas"},
			"azblob://contoso/mcas"},
		{"https://contoso.blob.core.windows.net/mcas/team/",
			Location{Kind: KindAzure, Account: "contoso", ServiceURL: "https://contoso.blob.core.windows.net", Bucket: "mcas", Prefix: "team"},
			"azblob://contoso/mcas/team"},
		{"https://contoso.dfs.core.windows.net/mcas/team",
			Location{Kind: KindAzure, Account: "contoso", ServiceURL: "https://contoso.blob.core.windows.net", Bucket: "mcas", Prefix: "team"},
			"azblob://contoso/mcas/team"},
		{"https://contoso.blob.core.usgovcloudapi.net/mcas/team",
			Location{Kind: KindAzure, Account: "contoso", ServiceURL: "https://contoso.blob.core.usgovcloudapi.net", Bucket: "mcas", Prefix: "team"},
			"https://contoso.blob.core.usgovcloudapi.net/mcas/team"},
		{"abfss://mcas@contoso.dfs.core.windows.net/team",
			Location{Kind: KindAzure, Account: "contoso", ServiceURL: "https://contoso.blob.core.windows.net", Bucket: "mcas", Prefix: "team"},
			"azblob://contoso/mcas/team"},
		{"http://127.0.0.1:10000/devstoreaccount1/mcas/team",
			Location{Kind: KindAzure, Account: "devstoreaccount1", ServiceURL: "http://127.0.0.1:10000/devstoreaccount1", Bucket: "mcas", Prefix: "team"},
			"http://127.0.0.1:10000/devstoreaccount1/mcas/team"},
		{"http://localhost:10000/devstoreaccount1/mcas",
			Location{Kind: KindAzure, Account: "devstoreaccount1", ServiceURL: "http://localhost:10000/devstoreaccount1", Bucket: "mcas"},
			"http://localhost:10000/devstoreaccount1/mcas"},
		{"s3://team-data/mcas/prod",
			Location{Kind: KindS3, Bucket: "team-data", Prefix: "mcas/prod"},
			"s3://team-data/mcas/prod"},
		{"S3://team.data", Location{Kind: KindS3, Bucket: "team.data"}, "s3://team.data"},
	} {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
		if got.String() != tc.canon {
			t.Errorf("%s: String %q, want %q", tc.in, got.String(), tc.canon)
		}
		// The canonical form reads back as the same location.
		if again, err := ParseURL(got.String()); err != nil || again != got {
			t.Errorf("%s: canonical form %q reads back as %+v, %v", tc.in, got.String(), again, err)
		}
	}
}

func TestParseURLRefuses(t *testing.T) {
	const secret = "sig=c2VjcmV0c2lnbmF0dXJl"
	for _, tc := range []struct{ in, want string }{
		{"azblob://contoso/mcas/team?sv=2025-01-01&" + secret, "credentials never go in the URL"},
		{"https://contoso.blob.core.windows.net/mcas?" + secret, "credentials never go in the URL"},
		{"s3://user:pass@bucket/x", "credentials never go in the URL"},
		{"azblob://contoso/mcas#frag", "query or fragment"},
		{"http://contoso.blob.core.windows.net/mcas", "only on loopback"},
		{"http://10.0.0.5:10000/devstoreaccount1/mcas", "only on loopback"},
		{"https://example.com/bucket/x", "not an Azure Blob endpoint"},
		{"azblob://Contoso/mcas", "storage account"},
		{"azblob://contoso/", "container"},
		{"azblob://contoso/Mcas", "container"},
		{"azblob://contoso/mcas/a//b", "no empty"},
		{"s3://bucket/a/../b", "no empty"},
		{"s3://b", "bucket"},
		{"s3://bucket..x/p", "bucket"},
		{"abfss://contoso.dfs.core.windows.net/x", "CONTAINER@ACCOUNT"},
		{"abfss://mcas@contoso.blob.core.windows.net/x", "ACCOUNT.dfs"},
		{"gs://bucket/x", "scheme"},
		{"/local/folder", "scheme"},
		{"mailto:x", "use azblob"},
	} {
		_, err := ParseURL(tc.in)
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrBadURL saying %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0c2lnbmF0dXJl") {
			t.Errorf("%s: error %q repeats the signature", tc.in, err)
		}
	}
}

func TestSanitize(t *testing.T) {
	in := `Get "https://a.blob.core.windows.net/c/k?sv=2025&sig=abc%2Bdef&se=x": EOF; token sv=2025&sig=zzz; key Eby8vdM02xNOcqFl`
	got := sanitize(in, []string{"Eby8vdM02xNOcqFl", "short"})
	for _, leak := range []string{"abc%2Bdef", "sig=zzz", "Eby8vdM02xNOcqFl", "se=x"} {
		if strings.Contains(got, leak) {
			t.Errorf("sanitize left %q in %q", leak, got)
		}
	}
	if !strings.Contains(got, "https://a.blob.core.windows.net/c/k?REDACTED") {
		t.Errorf("sanitize lost the URL's path: %q", got)
	}
}

func TestParseConnectionString(t *testing.T) {
	got := parseConnectionString("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5==;SharedAccessSignature=sv=1&sig=x;;junk")
	want := map[string]string{"defaultendpointsprotocol": "https", "accountname": "acct", "accountkey": "a2V5==", "sharedaccesssignature": "sv=1&sig=x"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// FuzzParseURL: any input parses to a valid location whose canonical form reads back the same,
// or fails with ErrBadURL; a query string never survives.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"azblob://contoso/mcas/team", "s3://bucket/p", "http://127.0.0.1:1/devstoreaccount1/c/p",
		"abfss://c@a.dfs.core.windows.net/p", "https://a.blob.core.windows.net/c?sig=x", "%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		loc, err := ParseURL(in)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("%q: error %v does not wrap ErrBadURL", in, err)
			}
			return
		}
		if loc.validate() != nil || strings.Contains(loc.String(), "?") {
			t.Fatalf("%q: accepted %+v", in, loc)
		}
		again, err := ParseURL(loc.String())
		if err != nil || again != loc {
			t.Fatalf("%q: canonical %q reads back as %+v, %v", in, loc.String(), again, err)
		}
	})
}

func FuzzParseConnectionString(f *testing.F) {
	f.Add("AccountName=a;AccountKey=k==;BlobEndpoint=http://127.0.0.1/a;")
	f.Fuzz(func(t *testing.T, in string) {
		for k := range parseConnectionString(in) {
			if k == "" || k != strings.ToLower(k) {
				t.Fatalf("%q: key %q", in, k)
			}
		}
	})
}
