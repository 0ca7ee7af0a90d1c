package responses

import "github.com/sotasystems/sota/store"

func storeResponse(id string) store.Response {
	return store.Response{ID: id, Tenant: "t", Object: []byte(`{}`), Conversation: []byte(`[]`)}
}
