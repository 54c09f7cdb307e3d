package objstore

import "testing"

// SetAzureBlockSize makes an Azure store send blobs over single bytes in blocks of block bytes,
// so a test sends a small file the way files over 256 MiB go.
func SetAzureBlockSize(t testing.TB, st Store, single, block int64) {
	t.Helper()
	az, ok := st.(*azureStore)
	if !ok {
		t.Fatalf("%T is not an Azure store", st)
	}
	az.singleMax, az.blockSize = single, block
}
