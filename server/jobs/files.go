package jobs

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/sotasystems/sota/store"
)

// fileObject is a file of the OpenAI Files API, which a batch reads its
// input from and writes its output and error files to.
type fileObject struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Bytes         int64   `json:"bytes"`
	CreatedAt     int64   `json:"created_at"`
	Filename      string  `json:"filename"`
	Purpose       string  `json:"purpose"`
	Status        string  `json:"status"`
	ExpiresAt     *int64  `json:"expires_at"`
	StatusDetails *string `json:"status_details"`
}

func fileJSON(f store.File) fileObject {
	return fileObject{ID: f.ID, Object: "file", Bytes: f.Bytes, CreatedAt: f.Created.Unix(), Filename: f.Filename,
		Purpose: f.Purpose, Status: "processed"}
}

func invalidParam(w http.ResponseWriter, status int, param, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error",
		"param": param, "code": nil}})
}

// uploadFile answers POST /v1/files (multipart: file, purpose).
func (b *batches) uploadFile(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		invalidParam(w, http.StatusBadRequest, "file", "a multipart/form-data body with file and purpose is required: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	purpose := r.FormValue("purpose")
	if purpose != "batch" && purpose != "user_data" {
		invalidParam(w, http.StatusBadRequest, "purpose", fmt.Sprintf("purpose %q: this server takes batch or user_data", purpose))
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		invalidParam(w, http.StatusBadRequest, "file", "file is required")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, b.s.cfg.MaxFileBytes+1))
	if err != nil || int64(len(data)) > b.s.cfg.MaxFileBytes {
		invalidParam(w, http.StatusRequestEntityTooLarge, "file", fmt.Sprintf("files are at most %d bytes", b.s.cfg.MaxFileBytes))
		return
	}
	rec := store.File{ID: newJobID("file-"), Tenant: p.Tenant, Purpose: purpose, Filename: hdr.Filename, Data: data,
		Bytes: int64(len(data)), Created: b.s.cfg.Now()}
	if err := b.s.db.PutFile(r.Context(), rec); err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, fileJSON(rec))
}

func (b *batches) notFound(w http.ResponseWriter, what, id string) {
	writeError(w, http.StatusNotFound, "invalid_request_error", "not_found", fmt.Sprintf("no %s %s", what, id))
}

func (b *batches) getFile(w http.ResponseWriter, r *http.Request) {
	f, err := b.s.db.File(r.Context(), principalFrom(r).Tenant, r.PathValue("id"), false)
	if err != nil {
		b.notFound(w, "file", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, fileJSON(f))
}

func (b *batches) fileContent(w http.ResponseWriter, r *http.Request) {
	f, err := b.s.db.File(r.Context(), principalFrom(r).Tenant, r.PathValue("id"), true)
	if err != nil {
		b.notFound(w, "file", r.PathValue("id"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
	_, _ = w.Write(f.Data)
}

func (b *batches) deleteFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := b.s.db.DeleteFile(r.Context(), principalFrom(r).Tenant, id); err != nil {
		b.notFound(w, "file", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "file", "deleted": true})
}

func (b *batches) listFiles(w http.ResponseWriter, r *http.Request) {
	files, err := b.s.db.Files(r.Context(), principalFrom(r).Tenant, 10000)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "", err.Error())
		return
	}
	data := make([]fileObject, 0, len(files))
	for _, f := range files {
		if p := r.URL.Query().Get("purpose"); p == "" || p == f.Purpose {
			data = append(data, fileJSON(f))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": false})
}
