package train

import (
	"encoding/json"
	"fmt"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
	"github.com/bnzoo/bnzoo/zoo"
)

// WriteHistory writes the model's config and its per-epoch history as indented JSON, atomically.
func WriteHistory(path string, cfg zoo.Config, history []EpochStats) error {
	b, err := json.MarshalIndent(struct {
		Model   zoo.Config   `json:"model"`
		History []EpochStats `json:"history"`
	}{cfg, history}, "", "  ")
	if err != nil {
		return fmt.Errorf("history %s: %w", path, err)
	}
	return atomicfile.Write(path, append(b, '\n'))
}
