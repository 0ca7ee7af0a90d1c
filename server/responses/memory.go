package responses

import (
	"context"
	"fmt"
	"sync"

	"github.com/sotasystems/sota/store"
)

// memory is a Store of the latest max responses, for a server with no
// database.
type memory struct {
	mu    sync.Mutex
	max   int
	byKey map[string]store.Response // by tenant + "\x00" + id
	order []string                  // keys, oldest first
}

func newMemory(max int) *memory { return &memory{max: max, byKey: map[string]store.Response{}} }

func (m *memory) PutResponse(_ context.Context, r store.Response) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := r.Tenant + "\x00" + r.ID
	if _, ok := m.byKey[k]; !ok {
		m.order = append(m.order, k)
	}
	m.byKey[k] = r
	for len(m.order) > m.max {
		delete(m.byKey, m.order[0])
		m.order = m.order[1:]
	}
	return nil
}

func (m *memory) Response(_ context.Context, tenant, id string) (store.Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byKey[tenant+"\x00"+id]
	if !ok {
		return store.Response{}, fmt.Errorf("response %s: %w", id, store.ErrNotFound)
	}
	return r, nil
}

func (m *memory) DeleteResponse(_ context.Context, tenant, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tenant + "\x00" + id
	if _, ok := m.byKey[k]; !ok {
		return fmt.Errorf("response %s: %w", id, store.ErrNotFound)
	}
	delete(m.byKey, k)
	for i, o := range m.order {
		if o == k {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
	return nil
}
