module github.com/sotasystems/sota

go 1.26
