package fakekit

import (
	"fmt"
	"sync/atomic"
	"time"
)

// SampleCreator is implemented by fakes that can create a sample record the
// way a user would at the provider (the demo's "Create a lead"): through the
// same path as the provider's own create, so webhooks fire. It returns a
// sentence saying what it created.
type SampleCreator interface {
	CreateSample(account string) (string, error)
}

var sampleSeq atomic.Int64

// SampleLead is a new sample person: first name, last name, e-mail.
func SampleLead() (first, last, email string) {
	n := sampleSeq.Add(1)
	stamp := time.Now().UTC().Format("150405")
	return "Demo", fmt.Sprintf("Lead%s%d", stamp, n), fmt.Sprintf("lead-%s-%d@demo.example", stamp, n)
}
